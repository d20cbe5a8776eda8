// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
)

// Activate runs `netplan generate` once for the batch, then, when
// systemd-networkd runs on the system at root, `networkctl reload` (which
// reconfigures only the links whose files changed), or `netplan apply`
// where networkd predates reload (systemd 244).
func (Backend) Activate(ctx context.Context, root string, changed []string) error {
	if _, err := exec.LookPath("netplan"); err != nil {
		return fmt.Errorf("%w: netplan is not installed", netconf.ErrUnavailable)
	}
	if err := netconf.Run(ctx, "netplan", "generate", "--root-dir", root); err != nil {
		return err
	}
	if !netconf.DaemonRuns(root, "/run/systemd/netif") {
		return nil
	}
	if v := networkdVersion(ctx); v > 0 && v < 244 && root == "/" {
		return netconf.Run(ctx, "netplan", "apply")
	}
	return networkd.Reload(ctx, root)
}

func networkdVersion(ctx context.Context) int {
	out, err := netconf.Output(ctx, "networkctl", "--version")
	if err != nil {
		return 0
	}
	// "systemd 252 (252.39-1~deb12u2)"
	f := strings.Fields(out)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.Atoi(f[1])
	return v
}
