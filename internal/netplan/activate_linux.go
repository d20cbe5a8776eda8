// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Activate runs netplan's generator once for the batch (see generate),
// gives the generated files of the agent's interfaces the drop-in that
// keeps their addresses through a reload (keepAddresses), then, when systemd-networkd runs on the system at root, `networkctl
// reload` (which reconfigures only the links whose files changed), or
// `netplan apply` where networkd predates reload (systemd 244).
func (Backend) Activate(ctx context.Context, root rootfs.Root, changed []string) error {
	if err := generate(ctx, string(root)); err != nil {
		return err
	}
	if err := keepAddresses(root); err != nil {
		return fmt.Errorf("netplan: %w (networkd not reloaded: it would take the addresses off the changed links for a moment)", err)
	}
	if !netconf.DaemonRuns(root, "/run/systemd/netif") {
		return nil
	}
	if v := networkdVersion(ctx); v > 0 && v < 244 && root.Host() {
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
