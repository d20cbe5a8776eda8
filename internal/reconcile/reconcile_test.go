// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/ifcfg"
	"github.com/multinic-agent/multinic-agent/internal/ifupdown"
	"github.com/multinic-agent/multinic-agent/internal/keyfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
	"github.com/multinic-agent/multinic-agent/internal/store"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

const node = "node1"

// env is one test's node: a namespace, a database and a ROOT_DIR.
type env struct {
	t    testing.TB
	ns   *testenv.Netns
	db   *testenv.DB
	root string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, ns: testenv.NewNetns(t), db: testenv.NewDB(t), root: t.TempDir()}
	e.db.AddSubnet(t, "s4", "10.20.0.0/24")
	e.db.AddSubnet(t, "s6", "2001:db8:1::/64")
	return e
}

// reconciler builds a fresh Reconciler, as a restarted agent would have.
func (e *env) reconciler() *reconcile.Reconciler {
	e.t.Helper()
	st, err := store.Open(store.Options{Socket: e.db.Socket, User: "root", Name: e.db.Name, MaxOpen: 2, MaxIdle: 1, MaxLifetime: time.Minute}, []string{node})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	return &reconcile.Reconciler{
		Store:       st,
		Links:       e.ns.Handle(e.t),
		Backend:     netplan.Backend{},
		Root:        rootfs.Root(e.root),
		Activate:    true,
		Concurrency: 3,
		Log:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
}

func (e *env) cycle(r *reconcile.Reconciler) reconcile.Result {
	e.t.Helper()
	res, err := r.Cycle(context.Background())
	if err != nil {
		e.t.Fatalf("cycle: %v", err)
	}
	return res
}

func (e *env) converge(r *reconcile.Reconciler) reconcile.Result {
	e.t.Helper()
	res := e.cycle(r)
	for _, row := range res.Rows {
		if row.Err != nil {
			e.t.Fatalf("row %d failed: %v", row.ID, row.Err)
		}
	}
	return res
}

// wantLink checks a link's live state.
func (e *env) wantLink(name string, mtu int, addrs ...string) {
	e.t.Helper()
	l := e.ns.Link(e.t, name)
	if mtu > 0 && l.MTU != mtu {
		e.t.Errorf("%s: mtu %d, want %d", name, l.MTU, mtu)
	}
	var got []string
	for _, a := range l.Addrs {
		got = append(got, a.String())
	}
	if !slices.Equal(got, addrs) {
		e.t.Errorf("%s: addresses %v, want %v", name, got, addrs)
	}
	if !l.Up {
		e.t.Errorf("%s is down", name)
	}
}

func (e *env) file(name string) string {
	return filepath.Join(e.root, netplan.Path(name))
}

type fileID struct {
	ino   uint64
	mtime time.Time
}

func (e *env) fileIDs() map[string]fileID {
	e.t.Helper()
	out := map[string]fileID{}
	matches, _ := filepath.Glob(filepath.Join(e.root, "etc/netplan/*"))
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			e.t.Fatal(err)
		}
		out[m] = fileID{st.Sys().(*syscall.Stat_t).Ino, st.ModTime()}
	}
	return out
}

// threeRows sets up the canonical node: an IPv4 NIC with MTU 9000, an
// IPv6 NIC with MTU 1400 and a NIC with neither address nor MTU.
func (e *env) threeRows() (ids [3]int64) {
	e.ns.AddNIC(e.t, "eth1", "fa:16:3e:00:00:01")
	e.ns.AddNIC(e.t, "eth2", "fa:16:3e:00:00:02")
	e.ns.AddNIC(e.t, "eth3", "fa:16:3e:00:00:03")
	ids[0] = e.db.AddRow(e.t, node, "fa:16:3e:00:00:01", "s4", "10.20.0.11", 9000)
	ids[1] = e.db.AddRow(e.t, node, "FA:16:3E:00:00:02", "s6", " 2001:db8:1::11 ", 1400)
	ids[2] = e.db.AddRow(e.t, node, "fa:16:3e:00:00:03", "s4", nil, nil)
	return ids
}

func TestThreeRowsConvergeAndStay(t *testing.T) {
	e := newEnv(t)
	ids := e.threeRows()
	e.db.AddRow(t, "other-node", "fa:16:3e:00:00:09", "s4", "10.20.0.99", 1500)

	res := e.converge(e.reconciler())
	if !res.Changed {
		t.Error("first cycle reported no change")
	}
	e.wantLink("multinic0", 9000, "10.20.0.11/24")
	e.wantLink("multinic1", 1400, "2001:db8:1::11/64")
	e.wantLink("multinic2", 1500)
	for k, id := range ids {
		if got := e.db.Success(t, id); got != 1 {
			t.Errorf("row %d (#%d): netplan_success=%d, want 1", id, k, got)
		}
	}
	var other int
	e.db.QueryRow("SELECT netplan_success FROM multi_interface WHERE attached_node_name='other-node'").Scan(&other)
	if other != 0 {
		t.Error("another node's row was written")
	}
	for _, name := range []string{"multinic0", "multinic1", "multinic2"} {
		st, err := os.Stat(e.file(name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", name, st.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(e.file("multinic0"))
	for _, want := range []string{"# Managed by multinic-agent", `macaddress: "fa:16:3e:00:00:01"`, "set-name: multinic0", `- "10.20.0.11/24"`, "mtu: 9000", "dhcp4: false"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("90-multinic0.yaml lacks %q:\n%s", want, data)
		}
	}

	// A second cycle, by a restarted agent, changes nothing at all.
	before, updates := e.fileIDs(), e.db.Updates(t)
	res = e.converge(e.reconciler())
	if res.Changed {
		t.Error("second cycle reported a change")
	}
	if after := e.fileIDs(); !mapsEqual(before, after) {
		t.Errorf("files changed on an idle cycle:\nbefore %v\nafter  %v", before, after)
	}
	if n := e.db.Updates(t); n != updates {
		t.Errorf("idle cycle wrote the database %d times", n-updates)
	}
}

func mapsEqual(a, b map[string]fileID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mtime.Equal(v.mtime) || w.ino != v.ino {
			return false
		}
	}
	return true
}

func TestDriftIsRepaired(t *testing.T) {
	e := newEnv(t)
	ids := e.threeRows()
	r := e.reconciler()
	e.converge(r)

	cases := []struct {
		name  string
		drift func()
		check func()
	}{
		{"address removed by hand", func() {
			e.ns.IP(t, "addr", "del", "10.20.0.11/24", "dev", "multinic0")
		}, func() { e.wantLink("multinic0", 9000, "10.20.0.11/24") }},
		{"foreign address added", func() {
			e.ns.IP(t, "addr", "add", "192.0.2.7/24", "dev", "multinic2")
		}, func() { e.wantLink("multinic2", 0) }},
		{"mtu changed on the link", func() {
			e.ns.IP(t, "link", "set", "multinic1", "mtu", "1300")
		}, func() { e.wantLink("multinic1", 1400, "2001:db8:1::11/64") }},
		{"link set down", func() {
			e.ns.IP(t, "link", "set", "multinic2", "down")
		}, func() { e.wantLink("multinic2", 0) }},
		{"link renamed by hand", func() {
			e.ns.IP(t, "link", "set", "multinic2", "down")
			e.ns.IP(t, "link", "set", "multinic2", "name", "eth3")
		}, func() { e.wantLink("multinic2", 0) }},
		{"file edited by hand", func() {
			p := e.file("multinic0")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.ReplaceAll(string(data), "mtu: 9000", "mtu: 1500")), 0o644)
		}, func() {
			data, _ := os.ReadFile(e.file("multinic0"))
			st, _ := os.Stat(e.file("multinic0"))
			if !strings.Contains(string(data), "mtu: 9000") || st.Mode().Perm() != 0o600 {
				t.Errorf("file not repaired (mode %o):\n%s", st.Mode().Perm(), data)
			}
		}},
		{"row changed in the database", func() {
			e.db.Exec(t, "UPDATE multi_interface SET address='10.20.0.12', mtu=1450 WHERE id=?", ids[0])
		}, func() {
			e.wantLink("multinic0", 1450, "10.20.0.12/24")
			data, _ := os.ReadFile(e.file("multinic0"))
			if !strings.Contains(string(data), "10.20.0.12/24") || !strings.Contains(string(data), "mtu: 1450") {
				t.Errorf("file does not follow the row:\n%s", data)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.drift()
			p, err := r.Plan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !p.Pending() {
				t.Fatal("plan does not see the drift")
			}
			res := e.converge(r)
			if !res.Changed {
				t.Error("repair cycle reported no change")
			}
			c.check()
			if p, _ := r.Plan(context.Background()); p.Pending() {
				t.Error("still pending after the repair")
			}
		})
	}
}

func TestDeletedRowIsCleanedAfterTwoReads(t *testing.T) {
	e := newEnv(t)
	ids := e.threeRows()
	e.converge(e.reconciler())

	// Absent from one read only: nothing is removed.
	e.db.Exec(t, "UPDATE multi_interface SET attached_node_name='elsewhere' WHERE id=?", ids[0])
	res := e.converge(e.reconciler())
	if len(res.Removed) != 0 {
		t.Fatalf("removed after one read: %v", res.Removed)
	}
	e.db.Exec(t, "UPDATE multi_interface SET attached_node_name=? WHERE id=?", node, ids[0])
	e.converge(e.reconciler())
	e.db.Exec(t, "DELETE FROM multi_interface WHERE id=?", ids[0])
	if res := e.converge(e.reconciler()); len(res.Removed) != 0 {
		t.Fatalf("removed after a read that followed one with the row: %v", res.Removed)
	}
	if _, err := os.Stat(e.file("multinic0")); err != nil {
		t.Fatalf("file removed too early: %v", err)
	}
	e.wantLink("multinic0", 9000, "10.20.0.11/24")

	// Absent from a second consecutive read (by a restarted agent): removed.
	res = e.converge(e.reconciler())
	if !slices.Equal(res.Removed, []string{"multinic0"}) {
		t.Fatalf("removed %v, want [multinic0]", res.Removed)
	}
	if _, err := os.Stat(e.file("multinic0")); !os.IsNotExist(err) {
		t.Errorf("orphan file still there: %v", err)
	}
	l := e.ns.Link(t, "multinic0")
	if len(l.Addrs) != 0 || l.Up {
		t.Errorf("orphan link not cleaned: addrs %v up %v", l.Addrs, l.Up)
	}
	e.wantLink("multinic1", 1400, "2001:db8:1::11/64")
	e.wantLink("multinic2", 1500)
}

func TestNamesSurviveRestartAndReboot(t *testing.T) {
	e := newEnv(t)
	e.threeRows()
	e.converge(e.reconciler())

	// The controller re-creates the rows in another order: the names stay.
	e.db.Exec(t, "DELETE FROM multi_interface")
	e.db.AddRow(t, node, "fa:16:3e:00:00:03", "s4", nil, nil)
	e.db.AddRow(t, node, "fa:16:3e:00:00:02", "s6", "2001:db8:1::11", 1400)
	e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s4", "10.20.0.11", 9000)
	e.converge(e.reconciler())
	e.wantLink("multinic0", 9000, "10.20.0.11/24")
	e.wantLink("multinic2", 1500)

	// A reboot where nothing applied the files: the kernel names come back
	// as eth*, without addresses; the files give each MAC its old name.
	for i, name := range []string{"multinic0", "multinic1", "multinic2"} {
		e.ns.IP(t, "link", "set", name, "down")
		e.ns.IP(t, "addr", "flush", "dev", name)
		e.ns.IP(t, "link", "set", name, "name", []string{"eth3", "eth1", "eth2"}[i])
	}
	e.converge(e.reconciler())
	e.wantLink("multinic0", 9000, "10.20.0.11/24")
	e.wantLink("multinic1", 1400, "2001:db8:1::11/64")
	e.wantLink("multinic2", 1500)

	// A new NIC gets the lowest free name, never one that is held.
	e.ns.AddNIC(t, "eth4", "fa:16:3e:00:00:04")
	e.db.AddRow(t, node, "fa:16:3e:00:00:04", "s4", "10.20.0.14", nil)
	e.converge(e.reconciler())
	e.wantLink("multinic3", 1500, "10.20.0.14/24")
}

func TestFailedApplyIsRolledBack(t *testing.T) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	e.ns.AddNIC(t, "eth2", "fa:16:3e:00:00:02")
	e.ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "eth1")
	// The kernel refuses IPv6 addresses on a link with IPv6 disabled.
	out, err := e.ns.Exec(context.Background(), nil, "sysctl", "-w", "net.ipv6.conf.eth1.disable_ipv6=1").CombinedOutput()
	if err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	bad := e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s6", "2001:db8:1::21", 1400)
	good := e.db.AddRow(t, node, "fa:16:3e:00:00:02", "s4", "10.20.0.22", nil)

	res := e.cycle(e.reconciler())
	var badErr error
	for _, row := range res.Rows {
		if row.ID == bad {
			badErr = row.Err
		}
		if row.ID == good && row.Err != nil {
			t.Errorf("good row failed: %v", row.Err)
		}
	}
	if badErr == nil {
		t.Fatal("row on the IPv6-disabled link did not fail")
	}
	t.Logf("failure reported: %v", badErr)
	// Everything about the failed interface is as it was.
	l := e.ns.Link(t, "eth1")
	if l.MTU != 1500 || l.Up || !slices.Equal(l.Addrs, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}) {
		t.Errorf("eth1 not restored: %+v", l)
	}
	if _, err := os.Stat(e.file("multinic0")); !os.IsNotExist(err) {
		t.Errorf("file of the failed interface left behind: %v", err)
	}
	if e.db.Success(t, bad) != 0 || e.db.Success(t, good) != 1 {
		t.Errorf("netplan_success bad=%d good=%d, want 0 and 1", e.db.Success(t, bad), e.db.Success(t, good))
	}
	e.wantLink("multinic1", 1500, "10.20.0.22/24")
}

func TestDefaultRouteLinkIsNeverTouched(t *testing.T) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth0", "fa:16:3e:00:00:10")
	e.ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "eth0")
	e.ns.IP(t, "link", "set", "eth0", "up")
	e.ns.IP(t, "route", "add", "default", "via", "192.0.2.1")
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:10", "s4", "10.20.0.30", 9000)

	res := e.cycle(e.reconciler())
	if res.Rows[0].Err == nil || !strings.Contains(res.Rows[0].Err.Error(), "default route") {
		t.Fatalf("row error %v, want a default-route refusal", res.Rows[0].Err)
	}
	l := e.ns.Link(t, "eth0")
	if l.MTU != 1500 || !slices.Equal(l.Addrs, []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}) {
		t.Errorf("default-route link changed: %+v", l)
	}
	if e.db.Success(t, id) != 0 {
		t.Error("refused row marked successful")
	}
	if matches, _ := filepath.Glob(filepath.Join(e.root, "etc/netplan/*")); len(matches) != 0 {
		t.Errorf("files written for a refused row: %v", matches)
	}
}

func TestMissingNICFailsUntilItAppears(t *testing.T) {
	e := newEnv(t)
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:05", "s4", "10.20.0.50", nil)
	res := e.cycle(e.reconciler())
	if res.Rows[0].State != "nic-missing" || res.Rows[0].Err == nil {
		t.Fatalf("state %q err %v, want nic-missing", res.Rows[0].State, res.Rows[0].Err)
	}
	e.ns.AddNIC(t, "ens5", "fa:16:3e:00:00:05")
	e.converge(e.reconciler())
	e.wantLink("multinic0", 1500, "10.20.0.50/24")
	if e.db.Success(t, id) != 1 {
		t.Error("row not marked successful once its NIC appeared")
	}
}

func TestFailingRowBacksOffUntilItChanges(t *testing.T) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	out, err := e.ns.Exec(context.Background(), nil, "sysctl", "-w", "net.ipv6.conf.eth1.disable_ipv6=1").CombinedOutput()
	if err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s6", "2001:db8:1::21", nil)
	r := e.reconciler()
	r.Backoff = reconcile.Backoff{Base: time.Hour, Max: 2 * time.Hour, Multiplier: 2}

	first := e.cycle(r).Rows[0]
	if first.Err == nil || first.Deferred || plan.KindOf(first.Err) != plan.Apply {
		t.Fatalf("first attempt: %+v", first)
	}
	second := e.cycle(r).Rows[0]
	if !second.Deferred || second.Err == nil || second.Duration != 0 {
		t.Fatalf("second cycle re-applied a row in backoff: %+v", second)
	}
	// A change to the row resets its backoff: it is tried at once.
	e.db.Exec(t, "UPDATE multi_interface SET address='10.20.0.21', subnet_id='s4' WHERE id=?", id)
	third := e.cycle(r).Rows[0]
	if third.Err != nil || third.Deferred {
		t.Fatalf("changed row not retried at once: %+v", third)
	}
	e.wantLink("multinic0", 0, "10.20.0.21/24")
}

func TestBackoffDelay(t *testing.T) {
	b := reconcile.Backoff{Base: 30 * time.Second, Max: 5 * time.Minute, Multiplier: 2}
	for failures, want := range []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute} {
		if got := b.Delay(failures); got != want {
			t.Errorf("after %d failures: %s, want %s", failures, got, want)
		}
	}
	if (reconcile.Backoff{}).Delay(3) != 0 {
		t.Error("zero Backoff must retry every cycle")
	}
}

func TestMovingBetweenBackendsLeavesNoStaleFile(t *testing.T) {
	e := newEnv(t)
	e.threeRows()
	all := []netconf.Backend{ifcfg.Backend{}, keyfile.Backend{}, networkd.Backend{}, netplan.Backend{}}
	for _, b := range all {
		r := e.reconciler()
		r.Backend, r.Others = b, nil
		for _, o := range all {
			if o.Name() != b.Name() {
				r.Others = append(r.Others, o)
			}
		}
		e.converge(r)
		var want []string
		for _, name := range []string{"multinic0", "multinic1", "multinic2"} {
			for _, f := range b.Render(netconf.Iface{Name: name}) {
				want = append(want, f.Path)
			}
		}
		var got []string
		filepath.WalkDir(filepath.Join(e.root, "etc"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				got = append(got, strings.TrimPrefix(p, e.root))
			}
			return nil
		})
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("after moving to %s the node holds\n%v\nwant\n%v", b.Name(), got, want)
		}
		e.wantLink("multinic0", 9000, "10.20.0.11/24")
		e.wantLink("multinic1", 1400, "2001:db8:1::11/64")
	}
}

// TestActivationInterruptedByACrashRunsAtNextStart: a run that wrote the
// files but died before activating leaves that recorded; the next start
// activates although the files are already in sync.
func TestActivationInterruptedByACrashRunsAtNextStart(t *testing.T) {
	testenv.RequireTool(t, "netplan")
	e := newEnv(t)
	e.threeRows()
	r := e.reconciler()
	r.Activate = false
	e.converge(r)
	generated := filepath.Join(e.root, "run/systemd/network/10-netplan-multinic0.network")
	statePath := filepath.Join(e.root, reconcile.StatePath)
	os.MkdirAll(filepath.Dir(statePath), 0o755)
	if err := os.WriteFile(statePath, []byte(`{"activate":["multinic0"]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	r = e.reconciler()
	res := e.converge(r)
	if res.Changed {
		t.Error("the files were in sync, yet the cycle changed something")
	}
	if _, err := os.Stat(generated); err != nil {
		t.Errorf("the unfinished activation did not run: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(e.root, reconcile.StatePath))
	if strings.Contains(string(data), "activate") {
		t.Errorf("the pending activation is still recorded: %s", data)
	}
}

// activations returns the backends a cycle's log says were activated or
// skipped, in order.
func activations(t *testing.T, log *bytes.Buffer) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var m struct {
			Msg     string `json:"msg"`
			Backend string `json:"backend"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m.Msg == "activated" || strings.HasPrefix(m.Msg, "activation skipped") {
			out = append(out, m.Backend)
		}
	}
	log.Reset()
	return out
}

// TestSharedFileIsActivatedByOneBackend: the networkd and keyfile backends
// both write 70-multinicN.link. A change to it runs the activation of the
// backend in use only; a .link left by a previous backend is activated by
// the backend whose other file goes with it.
func TestSharedFileIsActivatedByOneBackend(t *testing.T) {
	all := []netconf.Backend{netplan.Backend{}, ifcfg.Backend{}, keyfile.Backend{}, networkd.Backend{}, ifupdown.Backend{}}
	use := func(r *reconcile.Reconciler, name string) {
		r.Backend, r.Others = nil, nil
		for _, b := range all {
			if b.Name() == name {
				r.Backend = b
			} else {
				r.Others = append(r.Others, b)
			}
		}
	}
	for _, tc := range []struct {
		from, to string
		// want are the backends activated by the cycle that moves the node
		// from one backend to the other.
		want []string
	}{
		{"", "networkd", []string{"networkd"}},
		{"", "keyfile", []string{"keyfile"}},
		{"networkd", "netplan", []string{"netplan", "networkd"}},
		{"keyfile", "netplan", []string{"netplan", "keyfile"}},
		// The old backend's own file went: its tool unloads it.
		{"keyfile", "networkd", []string{"networkd", "keyfile"}},
		{"networkd", "keyfile", []string{"keyfile", "networkd"}},
		// ifupdown writes the .link too.
		{"", "ifupdown", []string{"ifupdown"}},
		{"ifupdown", "networkd", []string{"networkd", "ifupdown"}},
		{"keyfile", "ifupdown", []string{"ifupdown", "keyfile"}},
	} {
		t.Run(tc.from+"_to_"+tc.to, func(t *testing.T) {
			if tc.to == "netplan" {
				testenv.RequireTool(t, "netplan")
			}
			e := newEnv(t)
			e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
			e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s4", "10.20.0.11", 1500)
			var log bytes.Buffer
			r := e.reconciler()
			r.Log = slog.New(slog.NewJSONHandler(&log, nil))
			if tc.from != "" {
				use(r, tc.from)
				e.converge(r)
				log.Reset()
				r = e.reconciler()
				r.Log = slog.New(slog.NewJSONHandler(&log, nil))
			}
			use(r, tc.to)
			e.converge(r)
			if got := activations(t, &log); !slices.Equal(got, tc.want) {
				t.Errorf("activated %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRenameLogNamesTheLinkAsItWas: a NIC renamed after the agent planned
// (udev renaming a hot-plugged eth1 to enp1s0 while the agent plans) is
// logged under the name it had when the agent renamed it. The rename runs
// in the gateway probe, which comes between the plan and the apply.
func TestRenameLogNamesTheLinkAsItWas(t *testing.T) {
	e, _ := gatewayNode(t, "192.0.2.1")
	var log bytes.Buffer
	r := e.reconciler()
	r.Log = slog.New(slog.NewJSONHandler(&log, nil))
	var once sync.Once
	r.Probe = func(context.Context, netip.Addr) error {
		once.Do(func() { e.ns.IP(t, "link", "set", "eth1", "name", "enp1s0") })
		return nil
	}
	e.converge(r)
	e.wantLink("multinic0", 9000, "10.20.0.11/24")
	var renames []string
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var m struct{ Msg, Action string }
		json.Unmarshal([]byte(line), &m)
		if m.Msg == "applied" && strings.HasPrefix(m.Action, "rename ") {
			renames = append(renames, m.Action)
		}
	}
	if want := []string{"rename enp1s0 -> multinic0"}; !slices.Equal(renames, want) {
		t.Errorf("rename logged as %q, want %q", renames, want)
	}
}
