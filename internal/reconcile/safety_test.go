// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"github.com/multinic-agent/multinic-agent/internal/store"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// TestBadRowsFailAlone inserts one kind of bad data at a time next to a
// good row, on the real database and kernel: the bad row fails with a
// reason naming its id and field, stays netplan_success=0 and its NIC is
// untouched; the good row converges.
func TestBadRowsFailAlone(t *testing.T) {
	e := newEnv(t)
	e.db.AddSubnet(t, "nullcidr", "")
	e.db.Exec(t, "UPDATE multi_subnet SET cidr=NULL WHERE subnet_id='nullcidr'")
	e.db.AddSubnet(t, "badcidr", "10.20.0/24")
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	e.ns.AddNIC(t, "eth2", "fa:16:3e:00:00:02")
	e.ns.AddNIC(t, "eth9", "fa:16:3e:00:00:09")
	e.ns.IP(t, "addr", "add", "10.20.0.99/24", "dev", "eth9")
	good := e.db.AddRow(t, node, "fa:16:3e:00:00:02", "s4", "10.20.0.2", 1450)
	r := e.reconciler()

	type row struct {
		mac, subnet string
		addr, mtu   any
	}
	cases := []struct {
		name string
		rows []row
		want string
	}{
		{"bad MAC", []row{{"fa:16:3e:00:00:zz", "s4", "10.20.0.1", nil}}, "macaddress \"fa:16:3e:00:00:zz\" is not an Ethernet MAC"},
		{"multicast MAC", []row{{"01:00:5e:00:00:01", "s4", "10.20.0.1", nil}}, "is a multicast address"},
		{"empty MAC", []row{{"", "s4", "10.20.0.1", nil}}, "macaddress is NULL or empty"},
		{"bad IP", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.300", nil}}, "address \"10.20.0.300\" is not an IP address"},
		{"bad CIDR", []row{{"fa:16:3e:00:00:01", "badcidr", "10.20.0.1", nil}}, "cidr \"10.20.0/24\" is not a network"},
		{"NULL CIDR", []row{{"fa:16:3e:00:00:01", "nullcidr", "10.20.0.1", nil}}, "subnet \"nullcidr\" has no CIDR"},
		{"unknown subnet", []row{{"fa:16:3e:00:00:01", "no-such-subnet", "10.20.0.1", nil}}, "subnet \"no-such-subnet\" has no CIDR"},
		{"address outside CIDR", []row{{"fa:16:3e:00:00:01", "s4", "10.21.0.1", nil}}, "10.21.0.1 is outside its subnet 10.20.0.0/24"},
		{"network address", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.0", nil}}, "is the network address"},
		{"broadcast address", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.255", nil}}, "is the broadcast address"},
		{"MTU too small", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.1", 67}}, "mtu 67 is outside 68..9216"},
		{"MTU too large", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.1", 9217}}, "mtu 9217 is outside 68..9216"},
		{"IPv6 with MTU below 1280", []row{{"fa:16:3e:00:00:01", "s6", "2001:db8:1::5", 1200}}, "mtu 1200 is below 1280, the minimum for IPv6"},
		{"duplicate MAC", []row{{"FA:16:3E:00:00:02", "s4", "10.20.0.3", nil}}, "macaddress fa:16:3e:00:00:02 is already in row"},
		{"duplicate address", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.2", nil}}, "address 10.20.0.2 is already in row"},
		{"address on another link", []row{{"fa:16:3e:00:00:01", "s4", "10.20.0.99", nil}}, "address 10.20.0.99 is already on link eth9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, rw := range c.rows {
				e.db.AddRow(t, node, rw.mac, rw.subnet, rw.addr, rw.mtu)
			}
			defer e.db.Exec(t, "DELETE FROM multi_interface WHERE id <> ?", good)
			res := e.cycle(r)
			for _, row := range res.Rows {
				if row.ID == good {
					if row.Err != nil {
						t.Errorf("good row failed: %v", row.Err)
					}
					continue
				}
				if row.Err == nil || !strings.Contains(row.Err.Error(), c.want) || !strings.HasPrefix(row.Err.Error(), "row ") || plan.KindOf(row.Err) != plan.Validation {
					t.Errorf("row %d: error %v (%s), want %q", row.ID, row.Err, plan.KindOf(row.Err), c.want)
				}
				if e.db.Success(t, row.ID) != 0 {
					t.Errorf("row %d marked successful", row.ID)
				}
			}
			if l := e.ns.Link(t, "eth1"); l.MTU != 1500 || len(l.Addrs) != 0 || l.Up {
				t.Errorf("the bad row's NIC was touched: %+v", l)
			}
			e.wantLink("multinic0", 1450, "10.20.0.2/24")
			if e.db.Success(t, good) != 1 {
				t.Error("good row not successful")
			}
		})
	}

	t.Run("more than ten rows", func(t *testing.T) {
		defer e.db.Exec(t, "DELETE FROM multi_interface WHERE id <> ?", good)
		var last int64
		for i := 0; i < 10; i++ {
			last = e.db.AddRow(t, node, "fa:16:3e:00:01:"+string("0123456789"[i])+"0", "s4", nil, nil)
		}
		res := e.cycle(r)
		var failed []int64
		for _, row := range res.Rows {
			if row.Err != nil && strings.Contains(row.Err.Error(), "at most 10") {
				failed = append(failed, row.ID)
			}
		}
		if len(failed) != 1 || failed[0] != last {
			t.Errorf("rows failed for the limit: %v, want only the highest id %d", failed, last)
		}
		e.wantLink("multinic0", 1450, "10.20.0.2/24")
	})
}

func TestProtectedLinksAreNeverTouched(t *testing.T) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth6", "fa:16:3e:00:00:06")
	e.ns.IP(t, "addr", "add", "2001:db8:9::6/64", "dev", "eth6")
	e.ns.IP(t, "link", "set", "eth6", "up")
	e.ns.IP(t, "-6", "route", "add", "default", "via", "2001:db8:9::1", "dev", "eth6")
	e.ns.AddNIC(t, "eth7", "fa:16:3e:00:00:07")
	e.ns.AddNIC(t, "eth8", "fa:16:3e:00:00:08")
	e.ns.IP(t, "addr", "add", "192.0.2.8/24", "dev", "eth8")
	e.ns.IP(t, "link", "set", "eth8", "up")
	e.db.AddRow(t, node, "fa:16:3e:00:00:06", "s4", "10.20.0.6", 9000)
	e.db.AddRow(t, node, "fa:16:3e:00:00:07", "s4", "10.20.0.7", 9000)
	e.db.AddRow(t, node, "fa:16:3e:00:00:08", "s4", "10.20.0.8", 9000)
	r := e.reconciler()
	r.ProtectedNames = []string{"eth7"}
	r.DBHost = "192.0.2.200" // reached through eth8's subnet

	res := e.cycle(r)
	want := map[string]string{"eth6": "carries a default route", "eth7": "PROTECTED_INTERFACES", "eth8": "route to the database"}
	for k, row := range res.Rows {
		name := []string{"eth6", "eth7", "eth8"}[k]
		if row.Err == nil || !strings.Contains(row.Err.Error(), want[name]) || plan.KindOf(row.Err) != plan.Protected {
			t.Errorf("%s: %v (%s), want %q", name, row.Err, plan.KindOf(row.Err), want[name])
		}
		if l := e.ns.Link(t, name); l.MTU != 1500 {
			t.Errorf("%s changed: %+v", name, l)
		}
	}
}

func TestFailedReadRemovesNothing(t *testing.T) {
	e := newEnv(t)
	e.threeRows()
	proxy := testenv.NewProxy(t, e.db.Socket)
	st, err := store.Open(store.Options{Socket: proxy.Path, User: "root", Name: e.db.Name, MaxOpen: 2, MaxLifetime: time.Minute, Timeout: 2 * time.Second}, []string{node})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := e.reconciler()
	r.Store = st
	e.converge(r)
	before := e.fileIDs()
	e.db.Exec(t, "DELETE FROM multi_interface")

	proxy.Cut()
	for range 3 {
		if _, err := r.Cycle(context.Background()); plan.KindOf(err) != plan.Database {
			t.Fatalf("cycle with the database gone: %v", err)
		}
	}
	proxy.Restore()
	// One successful empty read: still nothing removed.
	if res := e.cycle(r); len(res.Removed) != 0 {
		t.Fatalf("removed after failed reads and one empty read: %v", res.Removed)
	}
	if after := e.fileIDs(); !mapsEqual(before, after) {
		t.Errorf("files changed: %v -> %v", before, after)
	}
	e.wantLink("multinic0", 9000, "10.20.0.11/24")
	if _, err := os.Stat(filepath.Join(e.root, reconcile.StatePath)); err != nil {
		t.Errorf("the pending removal was not recorded: %v", err)
	}
}

// TestCyclesNeverOverlap runs cycles from several goroutines while the
// node drifts; they must serialize, each seeing a consistent node.
func TestCyclesNeverOverlap(t *testing.T) {
	e := newEnv(t)
	e.threeRows()
	r := e.reconciler()
	e.converge(r)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if g == 0 {
					e.ns.IP(t, "link", "set", "multinic1", "mtu", "1300")
				}
				res, err := r.Cycle(context.Background())
				if err != nil {
					errs <- err
					return
				}
				for _, row := range res.Rows {
					if row.Err != nil {
						errs <- errors.New(row.Err.Error() + " (iteration " + string(rune('0'+i)) + ")")
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.wantLink("multinic1", 1400, "2001:db8:1::11/64")
}

// TestMTUTheNICRefusesFailsAlone: an MTU inside 68..9216 above what the
// NIC supports (a VXLAN link on a 1500-byte link takes at most 1450) fails
// alone with a reason naming the MTU, and the NIC is left as it was.
func TestMTUTheNICRefusesFailsAlone(t *testing.T) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	e.ns.IP(t, "link", "add", "vx0", "address", "fa:16:3e:00:00:0a", "type", "vxlan", "id", "42", "dev", "eth1", "dstport", "4789")
	e.ns.AddNIC(t, "eth2", "fa:16:3e:00:00:02")
	bad := e.db.AddRow(t, node, "fa:16:3e:00:00:0a", "s4", "10.20.0.31", 1500)
	e.db.AddRow(t, node, "fa:16:3e:00:00:02", "s4", "10.20.0.32", 1450)
	res := e.cycle(e.reconciler())
	for _, row := range res.Rows {
		if row.ID == bad && (row.Err == nil || !strings.Contains(row.Err.Error(), "setting MTU 1500") || !strings.Contains(row.Err.Error(), "lower the row's mtu")) {
			t.Errorf("row %d: %v", row.ID, row.Err)
		}
	}
	if l := e.ns.Link(t, "vx0"); l.MTU != 1450 || len(l.Addrs) != 0 {
		t.Errorf("the refused NIC changed: %+v", l)
	}
	e.wantLink("multinic1", 1450, "10.20.0.32/24")
}

// TestDuplicateIPv6AddressFails: another host on the NIC's network already
// has the row's IPv6 address; duplicate address detection fails and the
// next cycle reports the row failed with that reason.
func TestDuplicateIPv6AddressFails(t *testing.T) {
	e := newEnv(t)
	other := testenv.NewNetns(t)
	e.ns.IP(t, "link", "add", "eth1", "address", "fa:16:3e:00:00:01", "type", "veth", "peer", "name", "peer1", "netns", other.Name)
	other.IP(t, "addr", "add", "2001:db8:1::41/64", "dev", "peer1", "nodad")
	other.IP(t, "link", "set", "peer1", "up")
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s6", "2001:db8:1::41", nil)
	r := e.reconciler()
	e.cycle(r)
	var last reconcile.RowResult
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(500 * time.Millisecond) {
		if last = e.cycle(r).Rows[0]; last.Err != nil {
			break
		}
	}
	if last.Err == nil || !strings.Contains(last.Err.Error(), "failed IPv6 duplicate address detection") {
		t.Fatalf("row: %v", last.Err)
	}
	if e.db.Success(t, id) != 0 {
		t.Error("a row whose address another host uses is marked successful")
	}
}

// TestLostGatewayRollsBackTheCycle: a gateway that answered before a
// cycle's link changes and not after them (the probe, the one seam here)
// has every change of the cycle undone on the real kernel, and the rows
// fail as connectivity errors.
func TestLostGatewayRollsBackTheCycle(t *testing.T) {
	e := newEnv(t)
	gw := netip.MustParseAddr("192.0.2.1")
	e.ns.AddNIC(t, "eth0", "fa:16:3e:00:00:09")
	e.ns.IP(t, "addr", "add", "192.0.2.9/24", "dev", "eth0")
	e.ns.IP(t, "link", "set", "eth0", "up")
	e.ns.IP(t, "route", "add", "default", "via", gw.String())
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s4", "10.20.0.11", 9000)
	r := e.reconciler()
	probes := 0
	r.Probe = func(_ context.Context, a netip.Addr) error {
		probes++
		if a != gw {
			t.Errorf("probed %s, want the default gateway %s", a, gw)
		}
		if probes > 1 {
			return errors.New("no answer")
		}
		return nil
	}
	res := e.cycle(r)
	if row := res.Rows[0]; row.Err == nil || plan.KindOf(row.Err) != plan.Connectivity || !strings.Contains(row.Err.Error(), "the default gateway 192.0.2.1 stopped answering") {
		t.Fatalf("row: %v (%s)", row.Err, plan.KindOf(row.Err))
	}
	l := e.ns.Link(t, "eth1")
	if l.MTU != 1500 || l.Up || len(l.Addrs) != 0 {
		t.Errorf("eth1 not restored: %+v", l)
	}
	if _, err := os.Stat(e.file("multinic0")); err == nil {
		t.Error("the cycle's file was kept")
	}
	if e.db.Success(t, id) != 0 {
		t.Error("the row is marked successful")
	}
}

// TestAHangingReportEndsTheCycleInTime: another transaction holds the
// rows' locks while the agent writes its results. The report stops at the
// statement deadline (2 s here) instead of waiting on every row, the cycle
// says the database failed, and the next one reports.
func TestAHangingReportEndsTheCycleInTime(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for k := range 4 {
		mac := fmt.Sprintf("fa:16:3e:00:00:2%d", k)
		e.ns.AddNIC(t, fmt.Sprintf("eth%d", k+1), mac)
		ids = append(ids, e.db.AddRow(t, node, mac, "s4", fmt.Sprintf("10.20.0.2%d", k), nil))
	}
	st, err := store.Open(store.Options{Socket: e.db.Socket, User: "root", Name: e.db.Name, MaxOpen: 2, MaxIdle: 1, MaxLifetime: time.Minute, Timeout: 2 * time.Second}, []string{node})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := e.reconciler()
	r.Store = st
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT id FROM multi_interface FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = r.Cycle(context.Background())
	took := time.Since(start)
	tx.Rollback()
	if plan.KindOf(err) != plan.Database || took > 6*time.Second {
		t.Fatalf("cycle with the rows locked: %v after %s, want a database error within the deadline", err, took)
	}
	t.Logf("the locked report ended after %s: %v", took.Round(100*time.Millisecond), err)
	e.cycle(r)
	for _, id := range ids {
		if e.db.Success(t, id) != 1 {
			t.Errorf("row %d not reported by the next cycle", id)
		}
	}
}
