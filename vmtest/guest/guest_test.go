// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netplan"
)

// The takeover's files must be ones the agent adopts: the previous
// agent's exact shape, describing each row's NIC.
func TestTakeoverFilesAreAdoptable(t *testing.T) {
	for _, r := range rows {
		path, data := previousFile(r)
		got, err := netplan.Backend{}.ParseLegacy(path, data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, data)
		}
		if got.Name != r.name || got.MAC != r.mac || (r.addr != "" && got.Addr.String() != r.addr) || (r.addr == "") != !got.Addr.IsValid() {
			t.Errorf("%s parsed to %+v, want the row %+v", path, got, r)
		}
		if wantMTU := map[bool]int{true: r.mtu, false: 0}[r.addr != ""]; got.MTU != wantMTU {
			t.Errorf("%s: MTU %d, want %d (the previous agent wrote one only with an address)", path, got.MTU, wantMTU)
		}
		if strings.HasPrefix(string(data), "#") {
			t.Errorf("%s has a comment: the previous agent wrote none", path)
		}
	}
}

func TestMaskBits(t *testing.T) {
	for mask, want := range map[string]int{"255.255.255.0": 24, "64": 64, "255.255.0.0": 16, "255.255.255.255": 32} {
		if got, err := maskBits(mask); err != nil || got != want {
			t.Errorf("maskBits(%q) = %d, %v; want %d", mask, got, err, want)
		}
	}
	for _, bad := range []string{"", "255.0.255.0", "fe80::1", "x"} {
		if _, err := maskBits(bad); err == nil {
			t.Errorf("maskBits(%q) accepted", bad)
		}
	}
}
