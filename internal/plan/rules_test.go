// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/claims"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
)

// The rules of docs/reliability.md that the planner decides, one named
// case each, besides the tests of their own above (TestProtection,
// TestNaming, ...). Each case builds a node as plain values and checks
// the plan; none needs root, a kernel or a database.

const (
	macA = "fa:16:3e:00:00:0a"
	macB = "fa:16:3e:00:00:0b"
)

// node is an Input on netplan's files, with lo protected as the
// reconciler protects it.
func node(rows []Row, ls []Link, files ...netconf.Owned) Input {
	return Input{Rows: rows, Links: append([]Link{{Index: 1, Name: "lo", Loopback: true, Up: true}}, ls...), Files: files,
		Protected: map[int]string{1: "is the loopback"}, Render: netplan.Backend{}.Render}
}

func ownFile(name, mac, addr string) netconf.Owned {
	i := netconf.Iface{RowID: 1, Name: name, MAC: mac}
	if addr != "" {
		i.Addr = netip.MustParsePrefix(addr)
	}
	return owned(netplan.Backend{}, i)
}

// together is a node whose multinic0 file cannot be read, with row 2's
// NIC at mtu and its file holding content (nil: what the agent renders),
// and the file of an orphan gone from two reads; readTogether says whether
// the backend's activation reads its files all at once, as netplan's does.
func together(readTogether bool, mac string, mtu int, content []byte) Input {
	rowB := row(2, mac, "10.2.0.5", "10.2.0.0/24", 1500)
	link := nic(6, "multinic1", mac, "10.2.0.5/24")
	link.MTU = mtu
	file := owned(netplan.Backend{}, netconf.Iface{RowID: 2, Name: "multinic1", MAC: mac, Addr: netip.MustParsePrefix("10.2.0.5/24"), MTU: 1500})
	if content != nil {
		file.Content = content
	}
	gone := ownFile("multinic2", "fa:16:3e:00:00:0c", "10.3.0.5/24")
	in := node([]Row{row(1, macA, "10.1.0.5", "10.1.0.0/24", 1500), rowB}, []Link{nic(5, "multinic0", macA), link},
		netconf.Owned{Path: netplan.Path("multinic0"), Name: "multinic0", Unreadable: true, Err: errors.New("open: permission denied")}, file, gone)
	in.PrevAbsent = map[string]bool{gone.Path: true}
	if readTogether {
		in.ReadTogether = netplan.Backend{}.ReadTogether
	}
	return in
}

func kindsOf(acts []Action) []Kind {
	var ks []Kind
	for _, a := range acts {
		ks = append(ks, a.Kind)
	}
	return ks
}

// refused checks that the row failed with kind and a reason containing
// want, and that nothing is planned for it.
func refused(t *testing.T, it Iface, kind ErrorKind, want string) {
	t.Helper()
	if it.Err == nil || KindOf(it.Err) != kind || !strings.Contains(it.Err.Error(), want) {
		t.Errorf("row %d: error %v (%s), want %s: %q", it.Row.ID, it.Err, KindOf(it.Err), kind, want)
	}
	if len(it.Actions) > 0 {
		t.Errorf("row %d: actions %v on a refused row", it.Row.ID, it.Actions)
	}
}

func accepted(t *testing.T, it Iface) {
	t.Helper()
	if it.Err != nil || it.Link == nil {
		t.Errorf("row %d: error %v, link %v; want it applied", it.Row.ID, it.Err, it.Link)
	}
}

func TestRules(t *testing.T) {
	rowA := row(1, macA, "10.1.0.5", "10.1.0.0/24", 1500)
	rowB := row(2, macB, "10.2.0.5", "10.2.0.0/24", 1500)
	withMaster := func(l Link, m int) Link { l.Master = m; return l }
	withKind := func(l Link, kind string, parent int) Link { l.Kind, l.Parent = kind, parent; return l }
	withDAD := func(l Link, a string) Link { l.DADFailed = []netip.Prefix{netip.MustParsePrefix(a)}; return l }
	configured := func(r Row) Row { r.Success = true; return r }

	cases := []struct {
		rule  string
		in    Input
		check func(t *testing.T, p Plan)
	}{
		{"the NIC is the link that owns the MAC, not a bridge that copies it",
			node([]Row{rowA}, []Link{withKind(nic(9, "br0", macA), "bridge", 0), nic(5, "eth1", macA)}),
			func(t *testing.T, p Plan) {
				accepted(t, p.Ifaces[0])
				if p.Ifaces[0].Link.Name != "eth1" {
					t.Errorf("the row's NIC is %s, want eth1", p.Ifaces[0].Link.Name)
				}
			}},
		{"links of no row are never touched",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), nic(6, "eth0", "52:54:00:00:00:01", "192.0.2.2/24"), nic(7, "multinic4", "52:54:00:00:00:02")}),
			func(t *testing.T, p Plan) {
				accepted(t, p.Ifaces[0])
				if len(p.Orphans) != 0 || p.Ifaces[0].Link.Index != 5 {
					t.Errorf("orphans %v, link %v: only the row's NIC is planned", p.Orphans, p.Ifaces[0].Link)
				}
			}},
		{"two links carrying the row's MAC fail the row",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), nic(6, "eth2", macA)}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Protected, "several links carry MAC") }},
		{"a port of a bond is never changed",
			node([]Row{rowA}, []Link{withMaster(nic(5, "eth1", macA), 9), withKind(nic(9, "bond0", macA), "bond", 0)}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Protected, "is a port of another link") }},
		{"a link carrying a VLAN is never changed",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), withKind(nic(9, "eth1.100", macA), "vlan", 5)}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Protected, "carries link eth1.100 (vlan)") }},
		{"a link carrying a macvlan is never changed",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), withKind(nic(9, "mv0", "02:00:00:00:00:09"), "macvlan", 5)}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Protected, "carries link mv0 (macvlan)") }},
		{"a link carrying a VXLAN is never changed",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), withKind(nic(9, "vx0", "02:00:00:00:00:09"), "vxlan", 5)}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Protected, "carries link vx0 (vxlan)") }},
		{"a veth's peer is not a link on top of it",
			node([]Row{rowA}, []Link{withKind(nic(5, "eth1", macA), "veth", 9), withKind(nic(9, "peer", "02:00:00:00:00:09"), "veth", 5)}),
			func(t *testing.T, p Plan) { accepted(t, p.Ifaces[0]) }},
		{"an IPv6 address another host uses is a conflict, not configured",
			node([]Row{row(1, macA, "2001:db8::5", "2001:db8::/64", 1500)}, []Link{withDAD(nic(5, "multinic0", macA, "2001:db8::5/64"), "2001:db8::5/64")},
				ownFile("multinic0", macA, "2001:db8::5/64")),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Conflict, "failed IPv6 duplicate address detection")
				if p.Ifaces[0].WantSuccess() {
					t.Error("the row would be reported configured")
				}
			}},
		{"an address another link keeps fails the row",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), nic(6, "eth0", "52:54:00:00:00:01", "10.1.0.5/24")}),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Validation, "is already on link eth0, which keeps it")
			}},
		{"addresses that two rows swap move in one cycle",
			node([]Row{rowA, row(2, macB, "10.1.0.6", "10.1.0.0/24", 1500)},
				[]Link{nic(5, "multinic0", macA, "10.1.0.6/24"), nic(6, "multinic1", macB, "10.1.0.5/24")},
				ownFile("multinic0", macA, "10.1.0.6/24"), ownFile("multinic1", macB, "10.1.0.5/24")),
			func(t *testing.T, p Plan) {
				for _, it := range p.Ifaces {
					accepted(t, it)
					if ks := kindsOf(it.Actions); !slices.Contains(ks, DelAddr) || !slices.Contains(ks, AddAddr) {
						t.Errorf("row %d: actions %v, want the old address removed and the new added", it.Row.ID, it.Actions)
					}
				}
			}},
		{"an address a removed interface gives up passes to a row, but only once the removal is confirmed",
			node([]Row{rowA}, []Link{nic(5, "eth1", macA), nic(6, "multinic3", macB, "10.1.0.5/24")}, ownFile("multinic3", macB, "10.1.0.5/24")),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Validation, "already on link multinic3")
				in := node([]Row{rowA}, []Link{nic(5, "eth1", macA), nic(6, "multinic3", macB, "10.1.0.5/24")}, ownFile("multinic3", macB, "10.1.0.5/24"))
				in.PrevAbsent = map[string]bool{netplan.Path("multinic3"): true}
				accepted(t, Build(in).Ifaces[0])
			}},
		{"a file at another row's path is that row's to rewrite, never deleted",
			// The two NICs' files name each other's MAC.
			node([]Row{rowA, rowB}, []Link{nic(5, "multinic0", macA, "10.1.0.5/24"), nic(6, "multinic1", macB, "10.2.0.5/24")},
				ownFile("multinic0", macB, "10.2.0.5/24"), ownFile("multinic1", macA, "10.1.0.5/24")),
			func(t *testing.T, p Plan) {
				for _, it := range p.Ifaces {
					accepted(t, it)
					if !slices.Equal(kindsOf(it.Actions), []Kind{WriteFile}) || it.Actions[0].Path != netplan.Path(it.Want.Name) {
						t.Errorf("row %d: actions %v, want only its own file rewritten", it.Row.ID, it.Actions)
					}
				}
				if len(p.Orphans) != 0 {
					t.Errorf("orphans %v", p.Orphans)
				}
			}},
		{"a file the agent cannot read fails its row and stays as it is",
			node([]Row{rowA}, []Link{nic(5, "multinic0", macA)},
				netconf.Owned{Path: netplan.Path("multinic0"), Name: "multinic0", Unreadable: true, Err: errors.New("open: permission denied")}),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Conflict, "does not change a file it cannot read")
				if len(p.Orphans) != 0 {
					t.Errorf("an unreadable file is an orphan: %v", p.Orphans)
				}
			}},
		{"an unreadable file of no row is never removed",
			node(nil, []Link{nic(5, "multinic0", macA)},
				netconf.Owned{Path: netplan.Path("multinic0"), Name: "multinic0", Unreadable: true, Err: errors.New("open: permission denied")}),
			func(t *testing.T, p Plan) {
				if len(p.Orphans) != 0 || len(p.Absent) != 0 {
					t.Errorf("orphans %v, absent %v", p.Orphans, p.Absent)
				}
			}},
		{"a file read together with one the agent cannot read is not changed",
			together(true, macB, 1500, []byte("stale")),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Conflict, "does not change a file it cannot read")
				refused(t, p.Ifaces[1], Conflict, "reads "+netplan.Path("multinic0")+" with this row's files")
				if len(p.Orphans) != 1 || !strings.Contains(p.Orphans[0].Kept, "which the agent cannot read") || len(p.Orphans[0].Actions) != 0 {
					t.Errorf("orphans %+v, want the orphan kept", p.Orphans)
				}
			}},
		{"an unreadable file stops only its row where files are activated one by one",
			together(false, macB, 1500, []byte("stale")),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Conflict, "does not change a file it cannot read")
				accepted(t, p.Ifaces[1])
				if !slices.Contains(kindsOf(p.Ifaces[1].Actions), WriteFile) {
					t.Errorf("row 2 actions %v, want its file written", p.Ifaces[1].Actions)
				}
				if len(p.Orphans) != 1 || p.Orphans[0].Kept != "" || len(p.Orphans[0].Actions) == 0 {
					t.Errorf("orphans %+v, want the orphan removed", p.Orphans)
				}
			}},
		{"a live change beside an unreadable file read together still applies",
			together(true, macB, 1400, nil),
			func(t *testing.T, p Plan) {
				accepted(t, p.Ifaces[1])
				if !slices.Equal(kindsOf(p.Ifaces[1].Actions), []Kind{SetMTU}) {
					t.Errorf("row 2 actions %v, want only its MTU set", p.Ifaces[1].Actions)
				}
			}},
		{"someone else's file at the agent's path fails the row",
			node([]Row{rowA}, []Link{nic(5, "multinic0", macA)},
				netconf.Owned{Path: netplan.Path("multinic0"), Name: "multinic0", Content: []byte("network: {}\n"), Foreign: true}),
			func(t *testing.T, p Plan) { refused(t, p.Ifaces[0], Conflict, "was not written by multinic-agent") }},
		{"a row with bad data keeps its NIC's files",
			node([]Row{row(1, macA, "10.1.0.300", "10.1.0.0/24", 1500)}, []Link{nic(5, "multinic0", macA, "10.1.0.5/24")}, ownFile("multinic0", macA, "10.1.0.5/24")),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Validation, "not an IP address")
				if len(p.Orphans) != 0 {
					t.Errorf("orphans %v: the files of a row with a bad address would go", p.Orphans)
				}
			}},
		{"a configuration that takes effect and names the NIC fails the row",
			func() Input {
				in := node([]Row{rowA}, []Link{nic(5, "eth1", macA)})
				in.Claims = []claims.Claim{{Path: "/etc/netplan/50-cloud-init.yaml", Family: claims.Netplan, MAC: macA}}
				in.ClaimsRead = map[string]bool{claims.Netplan: true}
				return in
			}(),
			func(t *testing.T, p Plan) {
				refused(t, p.Ifaces[0], Conflict, "50-cloud-init.yaml")
				if len(p.Ifaces[0].Claims) != 1 || !p.Ifaces[0].Claims[0].TakesEffect {
					t.Errorf("claims %v", p.Ifaces[0].Claims)
				}
			}},
		{"a configuration nothing on the node reads is noted, not fought",
			func() Input {
				in := node([]Row{rowA}, []Link{nic(5, "eth1", macA)})
				in.Claims = []claims.Claim{{Path: "/etc/NetworkManager/system-connections/old.nmconnection", Family: claims.Keyfile, MAC: macA}}
				in.ClaimsRead = map[string]bool{claims.Netplan: true}
				return in
			}(),
			func(t *testing.T, p Plan) {
				accepted(t, p.Ifaces[0])
				if len(p.Ifaces[0].Claims) != 1 || p.Ifaces[0].Claims[0].TakesEffect {
					t.Errorf("claims %v", p.Ifaces[0].Claims)
				}
			}},
		{"a file that says the same in other words is left alone",
			func() Input {
				f := owned(netplan.Backend{}, netconf.Iface{RowID: 1, Name: "multinic0", MAC: macA, Addr: netip.MustParsePrefix("10.1.0.5/24"), MTU: 1500})
				f.Content = append([]byte("# rewritten by a tool\n"), f.Content...)
				in := node([]Row{configured(rowA)}, []Link{nic(5, "multinic0", macA, "10.1.0.5/24")}, f)
				in.Same = func(_ string, content, want []byte) bool { return strings.HasSuffix(string(content), string(want)) }
				return in
			}(),
			func(t *testing.T, p Plan) {
				if it := p.Ifaces[0]; len(it.Actions) != 0 || it.State() != StateConfigured {
					t.Errorf("actions %v, state %s", it.Actions, it.State())
				}
			}},
		{"a changed setting in a configured row's file is drift and is put back",
			func() Input {
				f := ownFile("multinic0", macA, "10.1.0.9/24")
				return node([]Row{configured(rowA)}, []Link{nic(5, "multinic0", macA, "10.1.0.5/24")}, f)
			}(),
			func(t *testing.T, p Plan) {
				it := p.Ifaces[0]
				if !slices.Equal(kindsOf(it.Actions), []Kind{WriteFile}) || it.Actions[0].Drift != "file" || it.State() != StateDrifted {
					t.Errorf("actions %v, state %s: want the file put back as drift", it.Actions, it.State())
				}
			}},
		{"a configured NIC changed by hand is drift, each change named",
			func() Input {
				l := nic(5, "multinic0", macA, "10.1.0.5/24", "10.1.0.77/24")
				l.MTU, l.Up = 9000, false
				return node([]Row{configured(rowA)}, []Link{l}, ownFile("multinic0", macA, "10.1.0.5/24"))
			}(),
			func(t *testing.T, p Plan) {
				it := p.Ifaces[0]
				var drift []string
				for _, a := range it.Actions {
					drift = append(drift, a.Drift)
				}
				if !slices.Equal(drift, []string{"file", "mtu", "address", "state"}) || it.State() != StateDrifted {
					t.Errorf("actions %v drift %v state %s", it.Actions, drift, it.State())
				}
			}},
		{"one interface's changes come in order: files, name, MTU, router advertisements off, addresses out, in, up",
			func() Input {
				l := nic(5, "eth1", macA, "10.1.0.77/24")
				l.MTU, l.Up, l.RA = 1400, false, RA{Known: true, AcceptRA: 1, Autoconf: 1}
				return node([]Row{rowA}, []Link{l})
			}(),
			func(t *testing.T, p Plan) {
				want := []Kind{WriteFile, Rename, SetMTU, DisableRA, DelAddr, AddAddr, SetUp}
				if got := kindsOf(p.Ifaces[0].Actions); !slices.Equal(got, want) {
					t.Errorf("actions %v", p.Ifaces[0].Actions)
				}
			}},
		{"a refused or waiting row keeps the plan from being in sync",
			node([]Row{configured(row(1, macA, "10.1.0.300", "10.1.0.0/24", 0)), configured(rowB)}, nil),
			func(t *testing.T, p Plan) {
				if got := p.Blocked(); !slices.Equal(got, []int64{1, 2}) {
					t.Errorf("blocked %v, want rows 1 (bad data) and 2 (no NIC)", got)
				}
				if p.Ifaces[1].State() != StateMissing {
					t.Errorf("row 2 state %s", p.Ifaces[1].State())
				}
			}},
		{"an orphan on a link that carries the route to the database is kept",
			func() Input {
				in := node(nil, []Link{nic(5, "multinic0", macA, "10.1.0.5/24")}, ownFile("multinic0", macA, "10.1.0.5/24"))
				in.Protected[5] = "carries the route to the database (10.1.0.1)"
				in.PrevAbsent = map[string]bool{netplan.Path("multinic0"): true}
				return in
			}(),
			func(t *testing.T, p Plan) {
				if len(p.Orphans) != 1 || !strings.Contains(p.Orphans[0].Kept, "route to the database") || len(p.Orphans[0].Actions) != 0 {
					t.Errorf("orphans %+v", p.Orphans)
				}
				if p.Pending() {
					t.Error("a kept orphan is pending")
				}
			}},
		{"a row's failure reports it unconfigured",
			node([]Row{configured(row(1, macA, "", "", 67))}, []Link{nic(5, "multinic0", macA)}, ownFile("multinic0", macA, "")),
			func(t *testing.T, p Plan) {
				if p.Ifaces[0].WantSuccess() || !p.Pending() {
					t.Errorf("success %v pending %v: a configured row that now fails is reported 0", p.Ifaces[0].WantSuccess(), p.Pending())
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) { c.check(t, Build(c.in)) })
	}
}
