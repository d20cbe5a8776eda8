// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package nmcli drives NetworkManager for the ifcfg and keyfile backends:
// it loads (or unloads) the changed profile files and brings the loaded
// ones up. It never restarts NetworkManager.
package nmcli

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Activate makes NetworkManager read the profile file of each changed
// interface (path gives it, on the node; root is ROOT_DIR): a file that
// exists is loaded and its connection brought up, a file that is gone is
// unloaded. `nmcli connection load` succeeds even when NetworkManager
// rejects a file, so the loaded profiles are checked afterwards.
func Activate(ctx context.Context, root rootfs.Root, changed []string, path func(name string) string) error {
	paths := make([]string, len(changed))
	for k, name := range changed {
		paths[k] = path(name)
	}
	if _, err := exec.LookPath("nmcli"); err != nil {
		return fmt.Errorf("%w: nmcli is not installed", netconf.ErrUnavailable)
	}
	if !netconf.DaemonRuns(root, "/run/NetworkManager") || !running(ctx) {
		return fmt.Errorf("%w: NetworkManager is not running", netconf.ErrUnavailable)
	}
	for _, p := range paths {
		if err := netconf.Run(ctx, "nmcli", "connection", "load", p); err != nil {
			return err
		}
	}
	loaded, err := profiles(ctx)
	if err != nil {
		return err
	}
	var errs []error
	var up []string
	for _, p := range paths {
		_, statErr := root.Stat(p)
		uuid, ok := loaded[p]
		switch {
		case statErr == nil && !ok:
			errs = append(errs, fmt.Errorf("NetworkManager did not load %s; see its log (a keyfile must be mode 0600 and valid)", p))
		case statErr == nil:
			up = append(up, uuid)
		case ok:
			errs = append(errs, fmt.Errorf("NetworkManager still holds the profile of removed file %s", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	active, err := activeDevices(ctx)
	if err != nil {
		return err
	}
	for _, uuid := range up {
		// A profile already active on its device is reapplied in place:
		// `connection up` would take the device down and up again, which
		// drops its addresses for a moment (a profile taken over from the
		// previous agent, an MTU change). Settings NetworkManager cannot
		// reapply make it fail; then the profile is brought up again.
		if dev, ok := active[uuid]; ok {
			if err := netconf.Run(ctx, "nmcli", "device", "reapply", dev); err == nil {
				continue
			}
		}
		if err := netconf.Run(ctx, "nmcli", "--wait", "30", "connection", "up", "uuid", uuid); err != nil {
			return err
		}
	}
	return nil
}

// activeDevices maps the UUID of each activated profile to its device.
func activeDevices(ctx context.Context) (map[string]string, error) {
	out, err := netconf.Output(ctx, "nmcli", "-t", "-f", "UUID,DEVICE,STATE", "connection", "show", "--active")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) == 3 && f[2] == "activated" && f[1] != "" {
			m[f[0]] = f[1]
		}
	}
	return m, nil
}

func running(ctx context.Context) bool {
	out, err := netconf.Output(ctx, "nmcli", "-t", "-f", "RUNNING", "general")
	return err == nil && strings.TrimSpace(out) == "running"
}

// profiles maps each loaded profile's file name to its UUID.
func profiles(ctx context.Context) (map[string]string, error) {
	out, err := netconf.Output(ctx, "nmcli", "-t", "-f", "UUID,FILENAME", "connection", "show")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		uuid, file, ok := strings.Cut(line, ":")
		if ok {
			m[strings.ReplaceAll(file, `\:`, ":")] = uuid
		}
	}
	return m, nil
}
