// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package vmtest proves the host daemon mode where namespaces cannot: a
// Debian 12 VM under qemu (software emulation, no KVM needed) with systemd
// as PID 1, udev, real virtio NICs with permanent MACs, socket-activated
// MariaDB and real reboots.
//
// The host side (this package) builds the agent, the guest driver
// (./guest) and the .deb, builds the root file system with debootstrap
// once (cached under a directory keyed by its package list), makes an
// ext4 image of it with mkfs.ext4 -d, and boots it with a management NIC
// (user-mode networking with restrict=on: nothing outside the machine is
// reachable; the health port forwarded from 127.0.0.1) and three
// secondary NICs on hubs that lead nowhere. The guest driver runs at every
// boot, resumes where it left off, drives the phases (one per network
// backend Debian can run: systemd-networkd, netplan, NetworkManager
// keyfiles, ifupdown; the netplan one starts with the takeover of a node
// the previous multinic-agent configured) and reports each check on a
// virtio-serial control port; the host answers its requests (hot-plugging a NIC through
// QMP, fetching the health port through the forward) and, after the
// power-off, reads the results and the journal back out of the image with
// debugfs.
//
// TestVM runs it: `make vmtest`, or scripts/test.sh, which sets
// MULTINIC_VMTEST=1.
package vmtest
