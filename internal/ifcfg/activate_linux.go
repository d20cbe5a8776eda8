// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifcfg

import (
	"context"

	"github.com/multinic-agent/multinic-agent/internal/nmcli"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Activate implements netconf.Backend through nmcli.
func (Backend) Activate(ctx context.Context, root rootfs.Root, changed []string) error {
	return nmcli.Activate(ctx, root, changed, Path)
}
