// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Flaps records, from the moment it is made, every kernel event in a
// namespace that would interrupt traffic on a configured NIC: an address
// removed (link-local ones aside) or a link taken administratively down.
type Flaps struct {
	mu     sync.Mutex
	events []string
	up     map[int]bool
}

// WatchFlaps starts recording until the test ends.
func (n *Netns) WatchFlaps(t testing.TB) *Flaps {
	t.Helper()
	h, err := netns.GetFromPath(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	f := &Flaps{up: map[int]bool{}}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	ls, err := nl.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		f.up[l.Attrs().Index] = l.Attrs().Flags&net.FlagUp != 0
	}
	lch := make(chan netlink.LinkUpdate, 256)
	ach := make(chan netlink.AddrUpdate, 256)
	// Closing done closes the sockets, and a receive cut short that way
	// ends with EAGAIN: only an error before that is one.
	fail := func(err error) {
		select {
		case <-done:
		default:
			f.add("subscription error: %v", err)
		}
	}
	if err := netlink.LinkSubscribeWithOptions(lch, done, netlink.LinkSubscribeOptions{Namespace: &h, ErrorCallback: fail}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrSubscribeWithOptions(ach, done, netlink.AddrSubscribeOptions{Namespace: &h, ErrorCallback: fail}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case u, ok := <-lch:
				if !ok {
					return
				}
				a := u.Attrs()
				up := a.Flags&net.FlagUp != 0
				f.mu.Lock()
				was, known := f.up[a.Index]
				f.up[a.Index] = up
				f.mu.Unlock()
				if u.Header.Type == unix.RTM_DELLINK {
					f.add("link %s (index %d) deleted", a.Name, a.Index)
				} else if known && was && !up {
					f.add("link %s (index %d) set down", a.Name, a.Index)
				}
			case u, ok := <-ach:
				if !ok {
					return
				}
				if !u.NewAddr && !u.LinkAddress.IP.IsLinkLocalUnicast() {
					f.add("address %s removed from link index %d", u.LinkAddress.String(), u.LinkIndex)
				}
			}
		}
	}()
	return f
}

func (f *Flaps) add(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf(format, a...))
}

// Events returns what was recorded so far.
func (f *Flaps) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}
