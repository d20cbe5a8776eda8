// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
)

// BenchmarkBuild is the decision of an idle cycle: ten rows whose NICs are
// named, addressed, up and whose netplan files match, so nothing is to be
// done. Pure: no I/O.
func BenchmarkBuild(b *testing.B) {
	be := netplan.Backend{}
	var (
		rows  []Row
		ls    = []Link{{Index: 1, Name: "lo", Up: true, Loopback: true, Kind: "device"}}
		files []netconf.Owned
	)
	for k := range 10 {
		mac := fmt.Sprintf("fa:16:3e:00:01:%02x", k+1)
		addr := fmt.Sprintf("10.20.0.%d", k+11)
		name := fmt.Sprintf("multinic%d", k)
		rows = append(rows, Row{ID: int64(k + 1), MAC: mac, Address: addr, CIDR: "10.20.0.0/24", MTU: 1500, HasMTU: true, SubnetID: "s", Success: true})
		ls = append(ls, nic(k+2, name, mac, addr+"/24"))
		files = append(files, owned(be, netconf.Iface{RowID: int64(k + 1), Name: name, MAC: mac, Addr: netip.MustParsePrefix(addr + "/24"), MTU: 1500}))
	}
	in := Input{Rows: rows, Links: ls, Files: files, Render: be.Render, Protected: map[int]string{1: "is the loopback"}, PrevAbsent: map[string]bool{}}
	if p := Build(in); p.Pending() || len(p.Ifaces) != 10 {
		for _, it := range p.Ifaces {
			b.Logf("row %d: %v %v", it.Row.ID, it.Actions, it.Err)
		}
		b.Fatalf("the input is not converged: %d ifaces, %d orphans", len(p.Ifaces), len(p.Orphans))
	}
	b.ReportAllocs()
	for b.Loop() {
		Build(in)
	}
}
