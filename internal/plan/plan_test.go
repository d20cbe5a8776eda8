// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
)

func row(id int64, mac, addr, cidr string, mtu int64) Row {
	return Row{ID: id, MAC: mac, Address: addr, CIDR: cidr, MTU: mtu, HasMTU: mtu != 0, SubnetID: "s"}
}

func nic(index int, name, mac string, addrs ...string) Link {
	l := Link{Index: index, Name: name, MAC: mac, MTU: 1500, Up: true, Kind: "device"}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

func owned(b netplan.Backend, i netconf.Iface) netconf.Owned {
	f := b.Render(i)[0]
	name, _ := b.Owns(f.Path)
	return netconf.Owned{Path: f.Path, Name: name, Content: f.Content, Mode: f.Mode, Iface: i}
}

func build(rows []Row, ls []Link, files []netconf.Owned) Plan {
	return Build(Input{Rows: rows, Links: ls, Files: files, Render: netplan.Backend{}.Render, Protected: map[int]string{1: "is the loopback"}})
}

func TestValidationFailsAlone(t *testing.T) {
	cases := []struct {
		row  Row
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
		p := build([]Row{c.row, good}, []Link{nic(1, "lo", ""), nic(5, "eth1", "fa:16:3e:00:00:01"), nic(6, "eth2", "fa:16:3e:00:00:02")}, nil)
		if err := p.Ifaces[0].Err; err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "row 1") {
			t.Errorf("%+v: error %v, want %q naming row 1", c.row, err, c.want)
		}
		if p.Ifaces[1].Err != nil || len(p.Ifaces[1].Actions) == 0 {
			t.Errorf("%+v: the good row did not go on: %v", c.row, p.Ifaces[1].Err)
		}
	}
}

func TestAcceptsSpacesAndUpperCase(t *testing.T) {
	p := build([]Row{row(1, " FA:16:3E:00:00:01 ", " 10.0.0.5 ", " 10.0.0.0/24 ", 1500)}, []Link{nic(5, "eth1", "fa:16:3e:00:00:01")}, nil)
	it := p.Ifaces[0]
	if it.Err != nil || it.Want.MAC != "fa:16:3e:00:00:01" || it.Want.Addr.String() != "10.0.0.5/24" {
		t.Fatalf("got %+v, err %v", it.Want, it.Err)
	}
}

func TestDuplicatesAndTooManyRows(t *testing.T) {
	var rows []Row
	var ls []Link
	for i := 0; i < 12; i++ {
		mac := "fa:16:3e:00:00:" + string("0123456789ab"[i]) + "0"
		rows = append(rows, row(int64(i+1), mac, "", "", 0))
		ls = append(ls, nic(10+i, "eth"+string("0123456789ab"[i]), mac))
	}
	rows[1].MAC = rows[0].MAC
	rows[2].Address, rows[2].CIDR = "10.0.0.5", "10.0.0.0/24"
	rows[3].Address, rows[3].CIDR = "10.0.0.5", "10.0.0.0/24"
	p := build(rows, ls, nil)
	// Row 2 repeats row 1's MAC and takes no slot, so row 11 is the tenth.
	for k, want := range map[int]string{1: "already in row 1", 3: "already in row 3", 11: "at most 10"} {
		if err := p.Ifaces[k].Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("row %d: error %v, want %q", k+1, err, want)
		}
	}
	if err := p.Ifaces[10].Err; err != nil {
		t.Errorf("row 11, the tenth valid one: %v", err)
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
	rows := []Row{
		row(1, "fa:16:3e:00:00:01", "", "", 0),
		row(2, "fa:16:3e:00:00:02", "", "", 0),
		row(3, "fa:16:3e:00:00:03", "", "", 0),
		row(4, "fa:16:3e:00:00:04", "", "", 0),
	}
	ls := []Link{
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
	ls := []Link{nic(5, "multinic2", "fa:16:3e:00:00:77", "10.0.0.7/24")}
	first := Build(Input{Links: ls, Files: []netconf.Owned{f}, Render: b.Render})
	if len(first.Orphans) != 1 || first.Orphans[0].Confirmed || len(first.Absent) != 1 || !first.Pending() {
		t.Fatalf("first read: %+v", first)
	}
	prev := map[string]bool{first.Absent[0]: true}
	second := Build(Input{Links: ls, Files: []netconf.Owned{f}, Render: b.Render, PrevAbsent: prev})
	o := second.Orphans[0]
	var kinds []string
	for _, a := range o.Actions {
		kinds = append(kinds, a.String())
	}
	if !o.Confirmed || strings.Join(kinds, ";") != "delete /etc/netplan/92-multinic2.yaml;remove address 10.0.0.7/24;set link down" {
		t.Fatalf("second read: confirmed=%v actions %v", o.Confirmed, kinds)
	}
	// The row is back: nothing is removed, nothing stays absent.
	back := Build(Input{Rows: []Row{row(7, "fa:16:3e:00:00:77", "10.0.0.7", "10.0.0.0/24", 0)}, Links: ls, Files: []netconf.Owned{f}, Render: b.Render, PrevAbsent: prev})
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
	p := build([]Row{r}, []Link{l}, []netconf.Owned{owned(b, want)})
	if p.Pending() || p.Ifaces[0].State() != StateConfigured {
		t.Fatalf("in-sync node has a pending plan: %+v", p.Ifaces[0].Actions)
	}
	// The same node with the row not yet reported only needs the DB write.
	r.Success = false
	p = build([]Row{r}, []Link{l}, []netconf.Owned{owned(b, want)})
	if !p.Pending() || len(p.Ifaces[0].Actions) != 0 {
		t.Fatalf("unreported row: pending=%v actions %v", p.Pending(), p.Ifaces[0].Actions)
	}
}

func TestForeignFileIsNotOverwritten(t *testing.T) {
	foreign := netconf.Owned{Path: "/etc/netplan/90-multinic0.yaml", Name: "multinic0", Content: []byte("network: {}\n"), Foreign: true}
	p := build([]Row{row(1, "fa:16:3e:00:00:01", "", "", 0)}, []Link{nic(5, "eth1", "fa:16:3e:00:00:01")}, []netconf.Owned{foreign})
	// multinic0 is held by the foreign file: the row gets multinic1.
	if p.Ifaces[0].Err != nil || p.Ifaces[0].Want.Name != "multinic1" || len(p.Orphans) != 0 {
		t.Fatalf("got name %q err %v orphans %v", p.Ifaces[0].Want.Name, p.Ifaces[0].Err, p.Orphans)
	}
}

// previous is a file of the previous multinic-agent as the scanner finds it.
func previous(t *testing.T, p netconftest.Previous) netconf.Owned {
	t.Helper()
	path := netplan.Path(p.Name)
	content := netconftest.PreviousNetplan(p)
	i, err := netplan.Backend{}.ParseLegacy(path, content)
	if err != nil {
		t.Fatal(err)
	}
	return netconf.Owned{Path: path, Name: p.Name, Content: content, Mode: 0o644, Iface: i, Legacy: true}
}

func TestAdoptsPreviousAgentFiles(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	configured := func() Link {
		l := nic(5, "multinic1", mac, "10.0.0.5/24")
		l.MTU = 9000
		return l
	}
	success := func(r Row) Row { r.Success = true; return r }
	cases := []struct {
		name  string
		rows  []Row
		link  Link
		file  netconf.Owned
		kinds []Kind
		state string
		err   string
	}{
		{
			name:  "a node the previous agent configured: adopt only, no live change",
			rows:  []Row{success(row(1, "FA:16:3E:00:00:01", "10.0.0.5", "10.0.0.0/24", 9000))},
			link:  configured(),
			file:  previous(t, netconftest.Previous{Name: "multinic1", MAC: "FA:16:3E:00:00:01", Addr: "10.0.0.5/24", MTU: 9000}),
			kinds: []Kind{Adopt},
			state: StatePending,
		},
		{
			name:  "the row changed since the previous agent wrote the file: adopt and the change",
			rows:  []Row{success(row(1, mac, "10.0.0.5", "10.0.0.0/24", 1500))},
			link:  configured(),
			file:  previous(t, netconftest.Previous{Name: "multinic1", MAC: mac, Addr: "10.0.0.5/24", MTU: 9000}),
			kinds: []Kind{Adopt, SetMTU},
			state: StatePending,
		},
		{
			name: "someone else's file at the path stays refused",
			rows: []Row{success(row(1, mac, "10.0.0.5", "10.0.0.0/24", 9000))},
			link: configured(),
			file: netconf.Owned{Path: netplan.Path("multinic1"), Name: "multinic1", Content: []byte("network: {}\n"), Mode: 0o600, Foreign: true,
				Err: errors.New("routes is not a key the previous agent wrote")},
			state: StateFailed,
			err:   "nor the previous multinic-agent's as it wrote it (routes is not a key",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(c.rows, []Link{nic(1, "lo", ""), c.link}, []netconf.Owned{c.file})
			it := p.Ifaces[0]
			var kinds []Kind
			for _, a := range it.Actions {
				kinds = append(kinds, a.Kind)
			}
			if !slices.Equal(kinds, c.kinds) {
				t.Errorf("actions %v, want kinds %v", it.Actions, c.kinds)
			}
			if it.State() != c.state {
				t.Errorf("state %s, want %s", it.State(), c.state)
			}
			if c.err == "" && (it.Err != nil || !it.WantSuccess()) {
				t.Errorf("error %v; netplan_success would become %v", it.Err, it.WantSuccess())
			}
			if c.err != "" && (it.Err == nil || !strings.Contains(it.Err.Error(), c.err) || KindOf(it.Err) != Conflict) {
				t.Errorf("error %v (%s), want a conflict with %q", it.Err, KindOf(it.Err), c.err)
			}
			if c.err == "" && len(p.Orphans) != 0 {
				t.Errorf("orphans %+v", p.Orphans)
			}
		})
	}
}

func TestPreviousAgentFileWithoutRowIsAnOrphan(t *testing.T) {
	f := previous(t, netconftest.Previous{Name: "multinic2", MAC: "fa:16:3e:00:00:02", Addr: "10.0.0.6/24", MTU: 1500})
	ls := []Link{nic(1, "lo", ""), nic(6, "multinic2", "fa:16:3e:00:00:02", "10.0.0.6/24")}
	first := build(nil, ls, []netconf.Owned{f})
	if len(first.Orphans) != 1 || first.Orphans[0].Confirmed || !slices.Equal(first.Absent, []string{f.Path}) {
		t.Fatalf("first read: orphans %+v, absent %v", first.Orphans, first.Absent)
	}
	second := Build(Input{Links: ls, Files: []netconf.Owned{f}, Render: netplan.Backend{}.Render, PrevAbsent: map[string]bool{f.Path: true}})
	o := second.Orphans[0]
	if !o.Confirmed || len(o.Actions) != 3 || o.Actions[0].Kind != DeleteFile || string(o.Actions[0].Old) != string(f.Content) {
		t.Fatalf("second read: %+v", o)
	}
}

func TestProtection(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	r := row(1, mac, "10.0.0.5", "10.0.0.0/24", 1500)
	own := owned(netplan.Backend{}, netconf.Iface{RowID: 1, Name: "multinic0", MAC: mac, Addr: netip.MustParsePrefix("10.0.0.5/24"), MTU: 1500})
	cases := []struct {
		name      string
		link      Link
		files     []netconf.Owned
		protected map[int]string
		defaults  map[int]bool
		want      string // "" when the row goes on
	}{
		{"loopback", nic(5, "eth1", mac), nil, map[int]string{5: "is the loopback"}, nil, "is the loopback"},
		{"listed in PROTECTED_INTERFACES", nic(5, "eth1", mac), nil, map[int]string{5: "is listed in PROTECTED_INTERFACES"}, nil, "PROTECTED_INTERFACES"},
		{"route to the database", nic(5, "eth1", mac), nil, map[int]string{5: "carries the route to the database (192.0.2.1)"}, nil, "route to the database"},
		{"default route on a NIC the agent does not manage yet", nic(5, "eth1", mac), nil, nil, map[int]bool{5: true}, "carries a default route"},
		{"default route on the agent's own NIC", nic(5, "multinic0", mac), []netconf.Owned{own}, nil, map[int]bool{5: true}, ""},
		{"default route on a multinicN the agent has no file for", nic(5, "multinic0", mac), nil, nil, map[int]bool{5: true}, "carries a default route"},
		{"the route to the database on the agent's own NIC", nic(5, "multinic0", mac), []netconf.Owned{own}, map[int]string{5: "carries the route to the database (10.0.0.9)"}, map[int]bool{5: true}, "route to the database"},
		{"a port of a bridge", func() Link { l := nic(5, "eth1", mac); l.Master = 9; return l }(), nil, nil, nil, "is a port of another link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Build(Input{Rows: []Row{r}, Links: []Link{c.link}, Files: c.files, Protected: c.protected, DefaultRoute: c.defaults, Render: netplan.Backend{}.Render})
			it := p.Ifaces[0]
			switch {
			case c.want == "" && it.Err != nil:
				t.Errorf("refused: %v", it.Err)
			case c.want != "" && (it.Err == nil || KindOf(it.Err) != Protected || !strings.Contains(it.Err.Error(), c.want)):
				t.Errorf("error %v (%s), want protected: %q", it.Err, KindOf(it.Err), c.want)
			case c.want != "" && len(it.Actions) > 0:
				t.Errorf("actions on a protected link: %v", it.Actions)
			}
		})
	}
}

func TestOrphanOnTheAgentsOwnNICWithADefaultRouteIsRemoved(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	own := owned(netplan.Backend{}, netconf.Iface{RowID: 1, Name: "multinic0", MAC: mac, Addr: netip.MustParsePrefix("10.0.0.5/24")})
	for _, c := range []struct {
		name string
		link Link
		kept bool
	}{
		{"the agent's own NIC", nic(5, "multinic0", mac, "10.0.0.5/24"), false},
		{"a NIC that carries the name but not the MAC's files", nic(5, "eth1", mac, "10.0.0.5/24"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Build(Input{Links: []Link{c.link}, Files: []netconf.Owned{own}, DefaultRoute: map[int]bool{5: true},
				Render: netplan.Backend{}.Render, PrevAbsent: map[string]bool{own.Path: true}})
			o := p.Orphans[0]
			if (o.Kept != "") != c.kept || (!c.kept && len(o.Actions) == 0) {
				t.Errorf("kept %q, actions %v; want kept=%v", o.Kept, o.Actions, c.kept)
			}
		})
	}
}

func TestManagedNICsStopLearningFromRouterAdvertisements(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	r := row(1, mac, "10.0.0.5", "10.0.0.0/24", 1500)
	for _, c := range []struct {
		name string
		ra   RA
		want bool
	}{
		{"kernel defaults", RA{Known: true, AcceptRA: 1, Autoconf: 1}, true},
		{"autoconf alone", RA{Known: true, AcceptRA: 0, Autoconf: 1}, true},
		{"accept_ra 2 (even when forwarding)", RA{Known: true, AcceptRA: 2, Autoconf: 0}, true},
		{"already off", RA{Known: true}, false},
		{"no IPv6 on the link", RA{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := nic(5, "eth1", mac)
			l.Up, l.RA = false, c.ra
			acts := build([]Row{r}, []Link{l}, nil).Ifaces[0].Actions
			ra, up := slices.IndexFunc(acts, func(a Action) bool { return a.Kind == DisableRA }), slices.IndexFunc(acts, func(a Action) bool { return a.Kind == SetUp })
			if (ra >= 0) != c.want {
				t.Fatalf("actions %v: DisableRA present %v, want %v", acts, ra >= 0, c.want)
			}
			if c.want && ra > up {
				t.Errorf("actions %v: the link comes up before it stops learning", acts)
			}
		})
	}
}

func TestSubnetsThatWouldCaptureTheNodesRoutes(t *testing.T) {
	uplink := nic(2, "eth0", "52:54:00:00:00:10", "198.51.100.2/24")
	reserved := []Reserved{
		{Prefix: netip.MustParsePrefix("203.0.113.10/32"), What: "the database address 203.0.113.10"},
		{Prefix: netip.MustParsePrefix("198.51.100.1/32"), What: "the default gateway 198.51.100.1", Via: 2},
	}
	cases := []struct {
		name, addr, cidr, want string // want "" when the row goes on
	}{
		{"the whole IPv4 space", "10.9.0.5", "0.0.0.0/0", "wider than /8"},
		{"the whole IPv6 space", "2001:db8::5", "::/0", "wider than /16"},
		{"half the IPv4 space", "192.0.2.5", "128.0.0.0/1", "wider than /8"},
		{"an IPv6 /15", "2001:db8::5", "2000::/15", "wider than /16"},
		{"the database address", "203.0.113.5", "203.0.113.0/28", "takes in the database address 203.0.113.10"},
		{"the default gateway", "198.51.7.5", "198.51.0.0/16", "takes in the default gateway 198.51.100.1"},
		{"part of the management network", "198.51.100.160", "198.51.100.128/25", "lies in the network of eth0 (198.51.100.0/24)"},
		{"the management network itself", "198.51.100.60", "198.51.100.0/24", "takes in the default gateway"},
		{"a /8 of its own", "10.9.0.5", "10.0.0.0/8", ""},
		{"a network next to the management one", "198.51.101.5", "198.51.101.0/24", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Build(Input{Rows: []Row{row(1, "fa:16:3e:00:00:01", c.addr, c.cidr, 1500)},
				Links:     []Link{uplink, nic(5, "eth1", "fa:16:3e:00:00:01")},
				Protected: map[int]string{}, DefaultRoute: map[int]bool{2: true}, Reserved: reserved, Render: netplan.Backend{}.Render})
			it := p.Ifaces[0]
			switch {
			case c.want == "" && it.Err != nil:
				t.Errorf("refused: %v", it.Err)
			case c.want != "" && (it.Err == nil || KindOf(it.Err) != Validation || !strings.Contains(it.Err.Error(), c.want)):
				t.Errorf("error %v (%s), want validation: %q", it.Err, KindOf(it.Err), c.want)
			}
		})
	}
}

func TestRenameKeepsTheRowsIPv6Address(t *testing.T) {
	// The kernel drops IPv6 addresses from a link that goes down, as a
	// rename takes it: the address is planned again, after the rename.
	l := nic(5, "eth1", "fa:16:3e:00:00:01", "2001:db8::5/64")
	acts := build([]Row{row(1, "fa:16:3e:00:00:01", "2001:db8::5", "2001:db8::/64", 1500)}, []Link{l}, nil).Ifaces[0].Actions
	rename := slices.IndexFunc(acts, func(a Action) bool { return a.Kind == Rename })
	add := slices.IndexFunc(acts, func(a Action) bool { return a.Kind == AddAddr && a.Addr.String() == "2001:db8::5/64" })
	if rename < 0 || add < rename || slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == DelAddr }) {
		t.Errorf("actions %v: want the rename, then the address added again, and no removal", acts)
	}
	// An IPv4 address survives the rename and is left alone.
	l = nic(5, "eth1", "fa:16:3e:00:00:01", "10.0.0.5/24")
	acts = build([]Row{row(1, "fa:16:3e:00:00:01", "10.0.0.5", "10.0.0.0/24", 1500)}, []Link{l}, nil).Ifaces[0].Actions
	if slices.ContainsFunc(acts, func(a Action) bool { return a.Kind == AddAddr || a.Kind == DelAddr }) {
		t.Errorf("actions %v: an IPv4 address is touched by a rename", acts)
	}
}

func TestAGatewayOnTheAgentsOwnNICIsNotReserved(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	own := owned(netplan.Backend{}, netconf.Iface{RowID: 1, Name: "multinic0", MAC: mac, Addr: netip.MustParsePrefix("10.30.0.5/24")})
	gw := []Reserved{{Prefix: netip.MustParsePrefix("10.30.0.1/32"), What: "the default gateway 10.30.0.1", Via: 5}}
	r := row(1, mac, "10.30.0.5", "10.30.0.0/24", 1500)
	for _, c := range []struct {
		name string
		link Link
		file []netconf.Owned
		want bool // refused
	}{
		{"reached through the agent's own NIC", nic(5, "multinic0", mac, "10.30.0.5/24"), []netconf.Owned{own}, false},
		{"reached through a NIC the agent does not manage", nic(5, "eth1", mac), nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Build(Input{Rows: []Row{r}, Links: []Link{c.link}, Files: c.file, DefaultRoute: map[int]bool{5: true}, Reserved: gw, Render: netplan.Backend{}.Render})
			if refused := p.Ifaces[0].Err != nil; refused != c.want {
				t.Errorf("refused %v (%v), want %v", refused, p.Ifaces[0].Err, c.want)
			}
		})
	}
}

func TestABadRowTakesNoSlot(t *testing.T) {
	var rows []Row
	var ls []Link
	for i := range 11 {
		mac := fmt.Sprintf("fa:16:3e:00:01:%02x", i)
		rows = append(rows, row(int64(i+1), mac, "", "", 0))
		ls = append(ls, nic(10+i, fmt.Sprintf("eth%d", i), mac))
	}
	rows[0].MAC = "not-a-mac"
	p := build(rows, ls, nil)
	for k, it := range p.Ifaces[1:] {
		if it.Err != nil || it.Want.Name == "" {
			t.Errorf("row %d: %v (name %q): a bad row took one of the ten slots", k+2, it.Err, it.Want.Name)
		}
	}
}

func TestAddressesThatAreNoHosts(t *testing.T) {
	for _, c := range []struct{ addr, cidr, want string }{
		{"0.1.2.3", "0.0.0.0/8", "this network"},
		{"240.0.0.5", "240.0.0.0/24", "reserved for future use"},
		{"255.255.255.255", "255.255.255.255/32", "reserved for future use"},
		{"::1.2.3.4", "::/96", "IPv4-compatible"},
		{"100::5", "100::/64", "discard prefix"},
		{"224.0.0.5", "224.0.0.0/24", "not a unicast host address"},
		{"10.0.0.0", "10.0.0.0/24", "network address"},
		{"2001:db8::", "2001:db8::/64", "network address"},
	} {
		t.Run(c.addr, func(t *testing.T) {
			_, err := validate(row(1, "fa:16:3e:00:00:01", c.addr, c.cidr, 0))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s in %s: %v, want %q", c.addr, c.cidr, err, c.want)
			}
		})
	}
}
