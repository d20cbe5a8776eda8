// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// validate turns a row into what the backends render (without a name yet),
// or says which field is wrong.
func validate(r Row) (netconf.Iface, error) {
	i := netconf.Iface{RowID: r.ID}
	macText := strings.TrimSpace(r.MAC)
	if macText == "" {
		return i, fmt.Errorf("row %d: macaddress is NULL or empty", r.ID)
	}
	hw, err := netconf.ParseMAC(macText)
	if err != nil {
		return i, fmt.Errorf("row %d: macaddress %w", r.ID, err)
	}
	if hw[0]&1 != 0 {
		return i, fmt.Errorf("row %d: macaddress %s is a multicast address, not a NIC's", r.ID, hw)
	}
	if string(hw) == "\x00\x00\x00\x00\x00\x00" {
		return i, fmt.Errorf("row %d: macaddress is all zeros", r.ID)
	}
	i.MAC = hw.String()

	if r.HasMTU {
		if err := netconf.CheckMTU(r.MTU); err != nil {
			return i, fmt.Errorf("row %d: %w", r.ID, err)
		}
		i.MTU = int(r.MTU)
	}

	addrText := strings.TrimSpace(r.Address)
	if addrText == "" {
		return i, nil
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return i, fmt.Errorf("row %d: address %q is not an IP address", r.ID, r.Address)
	}
	addr = addr.Unmap()
	cidrText := strings.TrimSpace(r.CIDR)
	if cidrText == "" {
		return i, fmt.Errorf("row %d: subnet %q has no CIDR (no multi_subnet row, or its cidr is NULL), so address %s has no prefix length", r.ID, r.SubnetID, addr)
	}
	subnet, err := netip.ParsePrefix(cidrText)
	if err != nil {
		return i, fmt.Errorf("row %d: subnet %q cidr %q is not a network in CIDR notation", r.ID, r.SubnetID, r.CIDR)
	}
	subnet = subnet.Masked()
	if !subnet.Contains(addr) {
		return i, fmt.Errorf("row %d: address %s is outside its subnet %s", r.ID, addr, subnet)
	}
	if err := hostAddress(addr, subnet); err != nil {
		return i, fmt.Errorf("row %d: address %s %v", r.ID, addr, err)
	}
	if addr.Is6() && i.MTU > 0 && i.MTU < 1280 {
		return i, fmt.Errorf("row %d: mtu %d is below 1280, the minimum for IPv6 address %s", r.ID, i.MTU, addr)
	}
	i.Addr = netip.PrefixFrom(addr, subnet.Bits())
	return i, nil
}

// hostAddress rejects addresses that cannot be a host's in subnet.
func hostAddress(addr netip.Addr, subnet netip.Prefix) error {
	switch {
	case addr.IsUnspecified(), addr.IsLoopback(), addr.IsMulticast(), addr.IsLinkLocalUnicast():
		return fmt.Errorf("is not a unicast host address")
	}
	for _, r := range reservedRanges {
		if r.p.Contains(addr) {
			return fmt.Errorf("is in %s, %s: no host uses it", r.p, r.what)
		}
	}
	max := 32
	if addr.Is6() {
		max = 128
	}
	if subnet.Bits() >= max-1 {
		return nil // /31, /32, /127, /128 have no network or broadcast address
	}
	if addr == subnet.Addr() {
		return fmt.Errorf("is the network address of %s", subnet)
	}
	if addr.Is4() && addr == lastAddr(subnet) {
		return fmt.Errorf("is the broadcast address of %s", subnet)
	}
	return nil
}

// reservedRanges hold addresses that are never a host's on a network.
var reservedRanges = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (RFC 1122)`},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved for future use (RFC 1112), with 255.255.255.255 the limited broadcast"},
	{netip.MustParsePrefix("::/96"), "the deprecated IPv4-compatible addresses (RFC 4291)"},
	{netip.MustParsePrefix("100::/64"), "the discard prefix (RFC 6666)"},
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << hostBits) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
