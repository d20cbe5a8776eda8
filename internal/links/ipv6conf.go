// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package links

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"

	"github.com/multinic-agent/multinic-agent/internal/plan"
)

// RA is what a link learns from router advertisements: the planner's type.
type RA = plan.RA

// ErrReadOnly marks a failure to set a link's router advertisement
// settings because /proc/sys is read-only (a container without the host's
// /proc/sys/net/ipv6/conf bound in).
var ErrReadOnly = errors.New("the kernel's IPv6 settings are read-only here")

// SetSysctlRoot makes the handle read and write IPv6 settings under dir
// (default /proc/sys): a DaemonSet binds the host's there.
func (h *Handle) SetSysctlRoot(dir string) { h.sysctl = dir }

// ipv6Conf is where the kernel keeps a link's IPv6 settings. The kernel
// offers no netlink call to set them, only this file system, which shows
// the network namespace of the thread that opens it.
func (h *Handle) ipv6Conf(name, key string) string {
	root := h.sysctl
	if root == "" {
		root = "/proc/sys"
	}
	return root + "/net/ipv6/conf/" + name + "/" + key
}

// RA reads the link's router advertisement settings.
func (h *Handle) RA(index int) (RA, error) {
	l, err := h.link(index)
	if err != nil {
		return RA{}, err
	}
	name := l.Attrs().Name
	var ra RA
	err = h.inNamespace(func() error {
		for _, f := range []struct {
			key string
			v   *int
		}{{"accept_ra", &ra.AcceptRA}, {"autoconf", &ra.Autoconf}} {
			data, err := os.ReadFile(h.ipv6Conf(name, f.key))
			if errors.Is(err, fs.ErrNotExist) {
				return nil // no IPv6 on this link
			}
			if err != nil {
				return err
			}
			if *f.v, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
				return fmt.Errorf("%s: %w", h.ipv6Conf(name, f.key), err)
			}
		}
		ra.Known = true
		return nil
	})
	if err != nil {
		return RA{}, fmt.Errorf("reading the IPv6 settings of %s: %w", name, err)
	}
	return ra, nil
}

// SetRA writes the link's router advertisement settings.
func (h *Handle) SetRA(index int, ra RA) error {
	if !ra.Known {
		return nil
	}
	l, err := h.link(index)
	if err != nil {
		return err
	}
	name := l.Attrs().Name
	return h.inNamespace(func() error {
		for key, v := range map[string]int{"accept_ra": ra.AcceptRA, "autoconf": ra.Autoconf} {
			if err := os.WriteFile(h.ipv6Conf(name, key), []byte(strconv.Itoa(v)), 0o644); err != nil {
				if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
					err = fmt.Errorf("%w (%w)", ErrReadOnly, err)
				}
				return fmt.Errorf("setting IPv6 %s %d on %s: %w", key, v, name, err)
			}
		}
		return nil
	})
}

// inNamespace runs fn on a thread in the handle's network namespace.
func (h *Handle) inNamespace(fn func() error) error {
	if !h.ns.IsOpen() {
		return fn()
	}
	return InNamespace(h.ns, fn)
}

// InNamespace runs fn on an OS thread switched into ns: sockets fn creates
// belong to ns for their whole life. A thread that cannot be switched back
// is never unlocked, so Go discards it.
func InNamespace(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		errc <- fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}
