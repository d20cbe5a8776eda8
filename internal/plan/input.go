// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"fmt"
	"net/netip"
)

// The planner's input, as plain values: the rows the store reads, the
// links netlink shows. Its third input, the files the agent owns, is
// netconf.Owned.

// Row is one multi_interface row joined with its subnet (the desired state).
// NULL strings read as ""; HasMTU is false for a NULL mtu.
type Row struct {
	ID       int64
	PortID   string
	SubnetID string
	MAC      string
	Node     string
	Success  bool
	Address  string
	CIDR     string
	MTU      int64
	HasMTU   bool
}

// Link is the part of a kernel link the agent reads (the observed state).
type Link struct {
	Index int
	Name  string
	MAC   string // lower case, colon separated; empty for links without one
	MTU   int
	// Up is the administrative state (IFF_UP), not the carrier.
	Up   bool
	Kind string
	// Master is the index of the bond or bridge the link is a port of, or 0.
	Master int
	// Parent is the index of the link this one sits on (a VLAN's or a
	// macvlan's lower device), or 0.
	Parent   int
	Loopback bool
	// Addrs are the addresses the agent manages: permanent addresses that
	// are not link-local, sorted.
	Addrs []netip.Prefix
	// DADFailed are those of Addrs that IPv6 duplicate address detection
	// found in use by another host: present, but never used by the kernel.
	DADFailed []netip.Prefix
	// RA is what the link learns from router advertisements. The netlink
	// listing leaves it unread (not Known); it is read for the links that
	// matter.
	RA RA
}

// RA is whether the kernel learns from router advertisements on a link:
// its IPv6 accept_ra and autoconf settings. Known is false for a link
// without IPv6 (nothing to learn).
type RA struct {
	Known              bool
	AcceptRA, Autoconf int
}

// Off reports whether the link learns nothing from the network.
func (r RA) Off() bool { return !r.Known || (r.AcceptRA == 0 && r.Autoconf == 0) }

func (r RA) String() string {
	if !r.Known {
		return "no IPv6"
	}
	return fmt.Sprintf("accept_ra %d, autoconf %d", r.AcceptRA, r.Autoconf)
}
