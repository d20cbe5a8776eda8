// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package networkd

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Activate implements netconf.Backend: one `networkctl reload`, which makes
// networkd re-read its files and reconfigure the links whose files changed.
func (Backend) Activate(ctx context.Context, root rootfs.Root, changed []string) error {
	return Reload(ctx, root)
}

// Reload runs `networkctl reload` when networkd runs on the system at root.
func Reload(ctx context.Context, root rootfs.Root) error {
	if _, err := exec.LookPath("networkctl"); err != nil {
		return fmt.Errorf("%w: networkctl is not installed", netconf.ErrUnavailable)
	}
	if !netconf.DaemonRuns(root, "/run/systemd/netif") {
		return fmt.Errorf("%w: systemd-networkd is not running", netconf.ErrUnavailable)
	}
	return netconf.Run(ctx, "networkctl", "reload")
}
