// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

func row(id int64, mac, addr, cidr string, mtu int64) store.Row {
	return store.Row{ID: id, MAC: mac, Address: addr, CIDR: cidr, MTU: mtu, HasMTU: mtu != 0, SubnetID: "s"}
}

func nic(index int, name, mac string, addrs ...string) links.Link {
	l := links.Link{Index: index, Name: name, MAC: mac, MTU: 1500, Up: true, Kind: "device"}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

func owned(b netconf.Backend, i netconf.Iface) netconf.Owned {
	f := b.Render(i)[0]
	name, _ := b.Owns(f.Path)
	return netconf.Owned{Path: f.Path, Name: name, Content: f.Content, Mode: f.Mode, Iface: i}
}

func build(rows []store.Row, ls []links.Link, files []netconf.Owned) Plan {
	return Build(Input{Rows: rows, Links: ls, Files: files, Backend: netplan.Backend{}, Protected: map[int]string{1: "is the loopback"}})
}

func TestValidationFailsAlone(t *testing.T) {
	cases := []struct {
		row  store.Row
		want string
	}{
		{row(1, "", "", "", 0), "macaddress is NULL"},
		{row(1, "fa:16:3e:zz:00:01", "", "", 0), "not an Ethernet MAC"},
		{row(1, "01:00:5e:00:00:01", "", "", 0), "multicast"},
		{row(1, "00:00:00:00:00:00", "", "", 0), "all zeros"},
		{row(1, "fa:16:3e:00:00:01", "10.0.0.300", "10.0.0.0/24", 0), "not an IP address"},
		{row(1, "fa:16:3e:00:00:01", "10.0.0.5", "", 0), "has no CIDR"},
		{row(1, "fa:16:3e:00:00:01", "10.0.0.5", "10.0.0/24", 0), "not a network in CIDR"},
		{row(1, "fa:16:3e:00:00:01", "10.0.1.5", "10.0.0.0/24", 0), "outside its subnet"},
		{row(1, "fa:16:3e:00:00:01", "10.0.0.0", "10.0.0.0/24", 0), "network address"},
		{row(1, "fa:16:3e:00:00:01", "10.0.0.255", "10.0.0.0/24", 0), "broadcast address"},
		{row(1, "fa:16:3e:00:00:01", "2001:db8::5", "10.0.0.0/24", 0), "outside its subnet"},
		{row(1, "fa:16:3e:00:00:01", "", "", 67), "outside 68..9216"},
		{row(1, "fa:16:3e:00:00:01", "", "", 9217), "outside 68..9216"},
	}
	for _, c := range cases {
		good := row(2, "fa:16:3e:00:00:02", "10.9.0.2", "10.9.0.0/24", 1500)
		p := build([]store.Row{c.row, good}, []links.Link{nic(1, "lo", ""), nic(5, "eth1", "fa:16:3e:00:00:01"), nic(6, "eth2", "fa:16:3e:00:00:02")}, nil)
		if err := p.Ifaces[0].Err; err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "row 1") {
			t.Errorf("%+v: error %v, want %q naming row 1", c.row, err, c.want)
		}
		if p.Ifaces[1].Err != nil || len(p.Ifaces[1].Actions) == 0 {
			t.Errorf("%+v: the good row did not go on: %v", c.row, p.Ifaces[1].Err)
		}
	}
}

func TestAcceptsSpacesAndUpperCase(t *testing.T) {
	p := build([]store.Row{row(1, " FA:16:3E:00:00:01 ", " 10.0.0.5 ", " 10.0.0.0/24 ", 1500)}, []links.Link{nic(5, "eth1", "fa:16:3e:00:00:01")}, nil)
	it := p.Ifaces[0]
	if it.Err != nil || it.Want.MAC != "fa:16:3e:00:00:01" || it.Want.Addr.String() != "10.0.0.5/24" {
		t.Fatalf("got %+v, err %v", it.Want, it.Err)
	}
}

func TestDuplicatesAndTooManyRows(t *testing.T) {
	var rows []store.Row
	var ls []links.Link
	for i := 0; i < 12; i++ {
		mac := "fa:16:3e:00:00:" + string("0123456789ab"[i]) + "0"
		rows = append(rows, row(int64(i+1), mac, "", "", 0))
		ls = append(ls, nic(10+i, "eth"+string("0123456789ab"[i]), mac))
	}
	rows[1].MAC = rows[0].MAC
	rows[2].Address, rows[2].CIDR = "10.0.0.5", "10.0.0.0/24"
	rows[3].Address, rows[3].CIDR = "10.0.0.5", "10.0.0.0/24"
	p := build(rows, ls, nil)
	for k, want := range map[int]string{1: "already in row 1", 3: "already in row 3", 10: "at most 10", 11: "at most 10"} {
		if err := p.Ifaces[k].Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("row %d: error %v, want %q", k+1, err, want)
		}
	}
	// The first row of each duplicate pair keeps going.
	for k, name := range map[int]string{0: "multinic0", 2: "multinic1", 4: "multinic2"} {
		if p.Ifaces[k].Err != nil || p.Ifaces[k].Want.Name != name {
			t.Errorf("row %d: %v name %q, want %s", k+1, p.Ifaces[k].Err, p.Ifaces[k].Want.Name, name)
		}
	}
}

func TestNaming(t *testing.T) {
	b := netplan.Backend{}
	rows := []store.Row{
		row(1, "fa:16:3e:00:00:01", "", "", 0),
		row(2, "fa:16:3e:00:00:02", "", "", 0),
		row(3, "fa:16:3e:00:00:03", "", "", 0),
		row(4, "fa:16:3e:00:00:04", "", "", 0),
	}
	ls := []links.Link{
		nic(5, "eth1", "fa:16:3e:00:00:01"),      // new: lowest free
		nic(6, "multinic1", "fa:16:3e:00:00:02"), // keeps its live name
		nic(7, "eth3", "fa:16:3e:00:00:03"),      // file says multinic4
		nic(8, "eth4", "fa:16:3e:00:00:04"),      // new
		nic(9, "multinic3", "02:00:00:00:00:99"), // someone else's: held
	}
	files := []netconf.Owned{
		owned(b, netconf.Iface{RowID: 3, Name: "multinic4", MAC: "fa:16:3e:00:00:03"}),
		owned(b, netconf.Iface{RowID: 7, Name: "multinic2", MAC: "fa:16:3e:00:00:77"}), // orphan: held
	}
	p := build(rows, ls, files)
	for k, want := range []string{"multinic0", "multinic1", "multinic4", "multinic5"} {
		if got := p.Ifaces[k].Want.Name; got != want {
			t.Errorf("row %d named %q, want %q", k+1, got, want)
		}
	}
	if len(p.Orphans) != 1 || p.Orphans[0].Name != "multinic2" || p.Orphans[0].Confirmed {
		t.Errorf("orphans %+v, want unconfirmed multinic2", p.Orphans)
	}
}

func TestOrphanNeedsTwoReads(t *testing.T) {
	b := netplan.Backend{}
	f := owned(b, netconf.Iface{RowID: 7, Name: "multinic2", MAC: "fa:16:3e:00:00:77", Addr: netip.MustParsePrefix("10.0.0.7/24")})
	ls := []links.Link{nic(5, "multinic2", "fa:16:3e:00:00:77", "10.0.0.7/24")}
	first := Build(Input{Links: ls, Files: []netconf.Owned{f}, Backend: b})
	if len(first.Orphans) != 1 || first.Orphans[0].Confirmed || len(first.Absent) != 1 || !first.Pending() {
		t.Fatalf("first read: %+v", first)
	}
	prev := map[string]bool{first.Absent[0]: true}
	second := Build(Input{Links: ls, Files: []netconf.Owned{f}, Backend: b, PrevAbsent: prev})
	o := second.Orphans[0]
	var kinds []string
	for _, a := range o.Actions {
		kinds = append(kinds, a.String())
	}
	if !o.Confirmed || strings.Join(kinds, ";") != "delete /etc/netplan/92-multinic2.yaml;remove address 10.0.0.7/24;set link down" {
		t.Fatalf("second read: confirmed=%v actions %v", o.Confirmed, kinds)
	}
	// The row is back: nothing is removed, nothing stays absent.
	back := Build(Input{Rows: []store.Row{row(7, "fa:16:3e:00:00:77", "10.0.0.7", "10.0.0.0/24", 0)}, Links: ls, Files: []netconf.Owned{f}, Backend: b, PrevAbsent: prev})
	if len(back.Orphans) != 0 || len(back.Absent) != 0 {
		t.Fatalf("row back: %+v", back)
	}
}

func TestInSyncPlanIsEmpty(t *testing.T) {
	b := netplan.Backend{}
	want := netconf.Iface{RowID: 1, Name: "multinic0", MAC: "fa:16:3e:00:00:01", Addr: netip.MustParsePrefix("10.0.0.5/24"), MTU: 9000}
	l := nic(5, "multinic0", want.MAC, "10.0.0.5/24")
	l.MTU = 9000
	r := row(1, want.MAC, "10.0.0.5", "10.0.0.0/24", 9000)
	r.Success = true
	p := build([]store.Row{r}, []links.Link{l}, []netconf.Owned{owned(b, want)})
	if p.Pending() || p.Ifaces[0].State() != StateConfigured {
		t.Fatalf("in-sync node has a pending plan: %+v", p.Ifaces[0].Actions)
	}
	// The same node with the row not yet reported only needs the DB write.
	r.Success = false
	p = build([]store.Row{r}, []links.Link{l}, []netconf.Owned{owned(b, want)})
	if !p.Pending() || len(p.Ifaces[0].Actions) != 0 {
		t.Fatalf("unreported row: pending=%v actions %v", p.Pending(), p.Ifaces[0].Actions)
	}
}

func TestForeignFileIsNotOverwritten(t *testing.T) {
	foreign := netconf.Owned{Path: "/etc/netplan/90-multinic0.yaml", Name: "multinic0", Content: []byte("network: {}\n"), Foreign: true}
	p := build([]store.Row{row(1, "fa:16:3e:00:00:01", "", "", 0)}, []links.Link{nic(5, "eth1", "fa:16:3e:00:00:01")}, []netconf.Owned{foreign})
	// multinic0 is held by the foreign file: the row gets multinic1.
	if p.Ifaces[0].Err != nil || p.Ifaces[0].Want.Name != "multinic1" || len(p.Orphans) != 0 {
		t.Fatalf("got name %q err %v orphans %v", p.Ifaces[0].Want.Name, p.Ifaces[0].Err, p.Orphans)
	}
}
