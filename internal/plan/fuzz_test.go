// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"net/netip"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// FuzzValidate: whatever a row holds, validate never panics, and what it
// accepts is usable: a unicast MAC, an address inside its subnet that is
// neither its network nor (IPv4) broadcast address, an MTU in range.
func FuzzValidate(f *testing.F) {
	f.Add("fa:16:3e:00:00:01", "10.0.0.5", "10.0.0.0/24", int64(1500), true)
	f.Add(" FA:16:3E:00:00:01 ", "2001:db8::5", "2001:db8::/64", int64(0), false)
	f.Add("01:00:5e:00:00:01", "10.0.0.255", "10.0.0.0/24", int64(9217), true)
	f.Fuzz(func(t *testing.T, mac, addr, cidr string, mtu int64, hasMTU bool) {
		i, err := validate(Row{ID: 1, MAC: mac, Address: addr, CIDR: cidr, MTU: mtu, HasMTU: hasMTU})
		if err != nil {
			return
		}
		if len(i.MAC) != 17 || i.MAC[1] == '1' || i.MAC[1] == '3' {
			t.Fatalf("accepted MAC %q as %q", mac, i.MAC)
		}
		if hasMTU && (i.MTU < netconf.MinMTU || i.MTU > netconf.MaxMTU) {
			t.Fatalf("accepted MTU %d", mtu)
		}
		if !i.Addr.IsValid() {
			return
		}
		subnet := netip.MustParsePrefix(i.Addr.Masked().String())
		if !subnet.Contains(i.Addr.Addr()) || i.Addr.Addr() == subnet.Addr() && subnet.Bits() < i.Addr.Addr().BitLen()-1 {
			t.Fatalf("accepted %s in %s", i.Addr, cidr)
		}
	})
}
