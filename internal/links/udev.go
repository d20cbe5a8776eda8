// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package links

import (
	"strconv"

	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// UdevPending reports whether udev, running on the system at root, has not
// yet finished adding link index: until then it may still rename the link
// (a .link file's name, the predictable name of a hot-plugged NIC), and a
// name the agent gives it first would be lost or logged under the old one.
// The sign is the one systemd-networkd waits for: udev's database entry for
// the link, written when its event is done. Without udev, nothing is pending.
func UdevPending(root rootfs.Root, index int) bool {
	return root.Exists("/run/udev/control") && !root.Exists("/run/udev/data/n"+strconv.Itoa(index))
}
