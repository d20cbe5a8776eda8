// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// TestIPv6AddressOnTheNICBeforeTheRename: the row's IPv6 address is on the
// NIC before the agent renames it; the rename takes the link down, which
// drops IPv6 addresses, so the agent must add it again (it used to verify,
// fail and roll back every cycle).
func TestIPv6AddressOnTheNICBeforeTheRename(t *testing.T) {
	n := newNode(t)
	n.db.AddSubnet(t, "s6", "2001:db8:6::/64")
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0d:01")
	n.ns.IP(t, "addr", "add", "2001:db8:6::61/64", "dev", "ens4", "nodad")
	n.ns.IP(t, "link", "set", "ens4", "up")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:0d:01", "s6", "2001:db8:6::61", 1400)
	if code, out, errOut := n.run("once"); code != 0 {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	l := n.ns.Link(t, "multinic0")
	if len(l.Addrs) != 1 || l.Addrs[0].String() != "2001:db8:6::61/64" || !l.Up || n.db.Success(t, id) != 1 {
		t.Errorf("multinic0 %+v, netplan_success %d", l, n.db.Success(t, id))
	}
	if code, out, _ := n.run("plan"); code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("plan after: exit %d\n%s", code, out)
	}
}

// TestMalformedConfigLineNeverShowsThePassword: `DB_PASSWORD S3cr3t` (no
// "=") used to be quoted in the error of once, run and doctor.
func TestMalformedConfigLineNeverShowsThePassword(t *testing.T) {
	n := newNode(t)
	n.writeConfig(0o600, "DB_SOCKET="+n.db.Socket, "DB_USER=root", "DB_NAME="+n.db.Name, "NODE_NAME=node1", "DB_PASSWORD S3cr3t")
	for _, cmd := range []string{"once", "doctor", "plan", "status"} {
		_, out, errOut := n.run(cmd)
		if strings.Contains(out+errOut, "S3cr3t") {
			t.Errorf("%s shows the password:\n%s\n%s", cmd, out, errOut)
		}
		if cmd == "doctor" && !strings.Contains(squash(out), "line 5: no \"=\" on the line (not KEY=VALUE); systemd ignores the line") {
			t.Errorf("doctor does not name the line:\n%s", out)
		}
	}
	d := n.startDaemon("POLL_INTERVAL=60s")
	d.waitNotify(t, "READY=1", 10*time.Second)
	if out := d.Output(); strings.Contains(out, "S3cr3t") || !strings.Contains(out, "line 5") {
		t.Errorf("run:\n%s", out)
	}
}

// metricValue reads one sample of the daemon's /metrics.
func metricValue(t *testing.T, n *node, sample string) float64 {
	t.Helper()
	_, m := get(t, n.ns.HTTPClient(), "/metrics")
	for _, line := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", sample)
	return 0
}

const reads = `multinic_db_query_duration_seconds_count{query_type="select_rows"}`

// TestAFlappingLinkCannotDriveTheAgent: a NIC whose carrier flaps used to
// trigger a cycle, and a database read, on every flap (69 in 20 s), and an
// attempt on every flap while the database was down. Now the carrier alone
// triggers nothing, kernel changes trigger at most one cycle a second, and
// none while cycles fail. (Counted from the log: the first poll may fall
// in the window.)
func TestAFlappingLinkCannotDriveTheAgent(t *testing.T) {
	n := newNode(t)
	proxy := testenv.NewProxy(t, n.db.Socket)
	n.setEnv("DB_SOCKET=" + proxy.Path)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:01")
	n.db.AddRow(t, "node1", "fa:16:3e:00:0f:01", "s4", "10.30.0.151", nil)
	d := n.startDaemon("POLL_INTERVAL=60s", "LOG_LEVEL=debug")
	d.waitNotify(t, "READY=1", 10*time.Second)
	time.Sleep(500 * time.Millisecond) // the agent's own changes settle
	triggered := func() int { return strings.Count(d.Output(), `"trigger":"netlink"`) }

	before := triggered()
	for range 20 {
		n.ns.IP(t, "link", "set", "pens4", "down")
		n.ns.IP(t, "link", "set", "pens4", "up")
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := triggered() - before; got > 0 {
		t.Errorf("20 carrier flaps triggered %d cycles, want none", got)
	}

	// Changes the agent repairs, 10 in 2 s: at most one cycle a second
	// after a burst of three (a NIC's cycle, the one for its own changes'
	// events, the next NIC's).
	before = triggered()
	start := time.Now()
	for range 10 {
		n.ns.IP(t, "link", "set", "multinic0", "mtu", "1400")
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if got, most := triggered()-before, int(time.Since(start).Seconds())+3; got > most || got < 1 {
		t.Errorf("10 changes by hand in %s triggered %d cycles, want 1 to %d", time.Since(start).Round(time.Second), got, most)
	}

	// The database goes: the first change finds it down, the rest wait for
	// the poll's backoff.
	proxy.Cut()
	before = triggered()
	for range 10 {
		n.ns.IP(t, "link", "set", "multinic0", "mtu", "1400")
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := triggered() - before; got > 1 {
		t.Errorf("10 changes while the database is down triggered %d attempts, want at most 1", got)
	}
}

// TestAGapInTheTableRemovesNothing: the controller deletes and rewrites a
// node's rows 1.5 s apart; two reads triggered by kernel events in that
// gap used to count as the two reads that remove an interface, and tore
// down every NIC.
func TestAGapInTheTableRemovesNothing(t *testing.T) {
	n := newNode(t)
	macs := []string{"fa:16:3e:00:0f:11", "fa:16:3e:00:0f:12"}
	for k, mac := range macs {
		n.ns.AddNIC(t, fmt.Sprintf("ens%d", k+4), mac)
		n.db.AddRow(t, "node1", mac, "s4", fmt.Sprintf("10.30.0.16%d", k), nil)
	}
	d := n.startDaemon("POLL_INTERVAL=60s")
	d.waitNotify(t, "READY=1", 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	flaps := n.ns.WatchFlaps(t)
	before := metricValue(t, n, reads)

	n.db.Exec(t, "DELETE FROM multi_interface")
	n.ns.AddNIC(t, "eth8", "fa:16:3e:00:0f:18") // new links: each triggers a read
	time.Sleep(1200 * time.Millisecond)
	n.ns.AddNIC(t, "eth9", "fa:16:3e:00:0f:19")
	time.Sleep(800 * time.Millisecond)
	if got := metricValue(t, n, reads) - before; got < 2 {
		t.Fatalf("the gap saw %v reads; the test needs two", got)
	}
	for k, mac := range macs {
		n.db.AddRow(t, "node1", mac, "s4", fmt.Sprintf("10.30.0.16%d", k), nil)
	}
	n.ns.AddNIC(t, "eth10", "fa:16:3e:00:0f:1a")
	time.Sleep(1500 * time.Millisecond)
	if ev := flaps.Events(); len(ev) > 0 {
		t.Errorf("the gap in the table took NICs down: %v", ev)
	}
	for _, name := range []string{"multinic0", "multinic1"} {
		if l := n.ns.Link(t, name); len(l.Addrs) != 1 || !l.Up {
			t.Errorf("%s after the gap: %+v", name, l)
		}
	}
}

// TestReadOnlyProcSysDoesNotFailTheRow is the agent in a container whose
// /proc/sys is read-only (an unprivileged pod without the host's
// /proc/sys/net/ipv6/conf bound in): it cannot stop the NIC from learning
// router advertisements itself, says so, and the row still converges.
func TestReadOnlyProcSysDoesNotFailTheRow(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:21")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:21", "s4", "10.30.0.171", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := n.ns.Exec(ctx, n.env, "sh", "-ec", `mount -o bind,ro /proc/sys /proc/sys; exec "$0" once --config "$1"`, binary, n.conf)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cannot stop the NIC from learning router advertisements now") {
		t.Fatalf("once with a read-only /proc/sys: %v\n%s", err, out)
	}
	if l := n.ns.Link(t, "multinic0"); len(l.Addrs) != 1 || !l.Up || n.db.Success(t, id) != 1 {
		t.Errorf("multinic0 %+v, netplan_success %d", l, n.db.Success(t, id))
	}
}

// TestAnUnreadableFileOrStateStopsOnlyWhatItMust: under the unit the agent
// has no CAP_DAC_OVERRIDE, so a file of mode 0000 is unreadable to it, and
// state.json can be replaced by a directory. Either used to stop every row
// while / said healthy. Now the file stops only the row that would write
// it, the state lives on in memory, and health says what is wrong. Where
// the backend activates files one by one (networkd) the other row's change
// applies and stays. netplan's generator reads every file of /etc/netplan
// and fails on the unreadable one, so there the other row's file change
// waits, its NIC is never touched (no change applied and rolled back at
// every retry), and its error names the file.
func TestAnUnreadableFileOrStateStopsOnlyWhatItMust(t *testing.T) {
	testenv.RequireTool(t, "setpriv")
	for _, c := range []struct {
		backend, file string
		applies       bool
		// multinic1's MTU throughout and its row's netplan_success.
		mtu, success int
	}{
		{"networkd", networkd.NetworkPath("multinic0"), true, 1400, 1},
		{"netplan", netplan.Path("multinic0"), false, 1500, 0},
	} {
		t.Run(c.backend, func(t *testing.T) {
			n := newNode(t)
			n.setEnv("NETWORK_BACKEND=" + c.backend)
			n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:31")
			n.ns.AddNIC(t, "ens5", "fa:16:3e:00:0f:32")
			stuck := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:31", "s4", "10.30.0.181", nil)
			goes := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:32", "s4", "10.30.0.182", nil)
			n.once()
			if err := os.Chmod(filepath.Join(n.root, c.file), 0); err != nil {
				t.Fatal(err)
			}
			state := filepath.Join(n.root, "var/lib/multinic-agent/state.json")
			os.Remove(state)
			os.Mkdir(state, 0o700)

			// The unit's capabilities: root without CAP_DAC_OVERRIDE.
			d := n.startDaemonWith([]string{"setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"}, "POLL_INTERVAL=1s")
			d.waitNotify(t, "READY=1", 10*time.Second)
			n.db.Exec(t, "UPDATE multi_interface SET mtu = 1400 WHERE id IN (?, ?)", stuck, goes)
			c2 := n.ns.HTTPClient()
			want := `"name": "multinic1",`
			if c.applies {
				testenv.WaitFor(t, 10*time.Second, "the other row's change applies", func() bool { return n.ns.Link(t, "multinic1").MTU == 1400 })
			} else {
				want = "reads " + c.file + " with this row's files"
				testenv.WaitFor(t, 10*time.Second, "the other row's error names the unreadable file", func() bool {
					_, body := get(t, c2, "/")
					return strings.Contains(body, want)
				})
			}
			// Three more polls: the other row's NIC stays as the row's
			// outcome says, and the unreadable file's NIC is never changed.
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if m := n.ns.Link(t, "multinic1").MTU; m != c.mtu {
					t.Fatalf("multinic1 MTU %d, want %d throughout", m, c.mtu)
				}
				if n.ns.Link(t, "multinic0").MTU == 1400 {
					t.Fatal("the row whose file cannot be read was changed")
				}
			}
			code, body := get(t, c2, "/")
			if code != 200 || !strings.Contains(body, `"status": "degraded"`) || !strings.Contains(body, "the agent's state") ||
				!strings.Contains(body, "the agent does not change a file it cannot read") || !strings.Contains(body, want) {
				t.Errorf("GET / %d:\n%s", code, body)
			}
			if got := n.db.Success(t, goes); got != c.success {
				t.Errorf("the other row's netplan_success %d, want %d", got, c.success)
			}
		})
	}
}

// TestTheHealthPortCannotStarveTheAgent opens, inside the node's
// namespace, more idle keep-alive, slow and malformed connections to the
// health port than the agent's file limit (lowered to 128 with prlimit, as
// a unit's LimitNOFILE would be): a row change still applies, /healthz
// still answers, and the agent never runs out of descriptors. The port
// also does not answer on a managed NIC's address.
func TestTheHealthPortCannotStarveTheAgent(t *testing.T) {
	testenv.RequireTool(t, "prlimit")
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:41")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:41", "s4", "10.30.0.191", 1500)
	d := n.startDaemonWith([]string{"prlimit", "--nofile=128:128", "--"}, "POLL_INTERVAL=1s")
	d.waitNotify(t, "READY=1", 10*time.Second)

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	open := func(first string) {
		n.ns.Do(func() error {
			c, err := net.Dial("tcp", "127.0.0.1:8080")
			if err == nil {
				conns = append(conns, c)
				c.Write([]byte(first))
			}
			return nil
		})
	}
	for range 200 {
		open("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // answered, then idle
	}
	for range 60 {
		open("GET /metrics HTTP/1.1\r\nHo") // slow: never finishes its header
	}
	for range 60 {
		open("\x16\x03\x01\x00\xa5garbage\r\n\r\n") // malformed
	}

	n.db.Exec(t, "UPDATE multi_interface SET mtu = 1400 WHERE id = ?", id)
	took := testenv.WaitFor(t, 10*time.Second, "the row change applies during the load", func() bool { return n.ns.Link(t, "multinic0").MTU == 1400 })
	t.Logf("row change applied %s into the load", took)
	c := n.ns.HTTPClient()
	took = testenv.WaitFor(t, 5*time.Second, "/healthz answers during the load", func() bool { code, _ := get(t, c, "/healthz"); return code == 200 })
	t.Logf("/healthz answered %s into the load", took)
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.PID))
	if strings.Contains(d.Output(), "too many open files") || len(fds) > 120 {
		t.Errorf("the agent holds %d descriptors (limit 128):\n%s", len(fds), d.Output())
	}

	// Not on the tenant network: the managed NIC's own address.
	err := n.ns.Do(func() error {
		conn, err := net.DialTimeout("tcp", "10.30.0.191:8080", time.Second)
		if err != nil {
			return nil // refused outright is fine too
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		if b, _ := io.ReadAll(conn); len(b) > 0 {
			return fmt.Errorf("answered on the managed NIC's address: %q", b)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestSignalsDuringACycle: a hangup (the terminal of `once` closed) or a
// closed standard output used to kill the agent in the middle of a change.
// Now `once` finishes the interface in hand on SIGHUP and goes on writing
// nowhere when its output is gone; `run` takes SIGHUP as a request for a
// cycle (systemd's reload), not as the end.
func TestSignalsDuringACycle(t *testing.T) {
	slow := func(n *node) string {
		bin := t.TempDir()
		os.WriteFile(filepath.Join(bin, "netplan"), []byte("#!/bin/sh\necho started > \"$(dirname \"$0\")/started\"\nsleep 2\n"), 0o755)
		// netplan, or its generator where the agent runs that directly.
		n.setEnv("PATH="+bin+":"+os.Getenv("PATH"), "NETPLAN_GENERATE_PATH="+filepath.Join(bin, "netplan"))
		return filepath.Join(bin, "started")
	}
	started := func(path string) func() bool {
		return func() bool { _, err := os.Stat(path); return err == nil }
	}
	t.Run("SIGHUP to once", func(t *testing.T) {
		n := newNode(t)
		mark := slow(n)
		n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:51")
		id := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:51", "s4", "10.30.0.201", 1400)
		once, err := harness.StartAgent(n.ns.Netns, harness.AgentConfig{Env: n.env}, binary, "once", "--config", n.conf)
		if err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 10*time.Second, "activation started", started(mark))
		once.Signal(syscall.SIGHUP)
		<-once.Done()
		if l := n.ns.Link(t, "multinic0"); l.MTU != 1400 || len(l.Addrs) != 1 || n.db.Success(t, id) != 1 {
			t.Errorf("the interface in hand was not finished: %+v, netplan_success %d\n%s", l, n.db.Success(t, id), once.Output())
		}
	})
	t.Run("once with its output closed", func(t *testing.T) {
		n := newNode(t)
		mark := slow(n)
		n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:52")
		id := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:52", "s4", "10.30.0.202", 1400)
		cmd := n.ns.Exec(context.Background(), n.env, binary, "once", "--config", n.conf)
		r, w, _ := os.Pipe()
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		testenv.WaitFor(t, 10*time.Second, "activation started", started(mark))
		r.Close() // the reader goes: every later write fails
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() < 0 {
			t.Fatalf("once was killed by a signal: %v", err)
		}
		if l := n.ns.Link(t, "multinic0"); l.MTU != 1400 || n.db.Success(t, id) != 1 {
			t.Errorf("not finished after its output closed: %+v, netplan_success %d (%v)", l, n.db.Success(t, id), err)
		}
	})
	t.Run("SIGHUP to run", func(t *testing.T) {
		n := newNode(t)
		n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:53")
		id := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:53", "s4", "10.30.0.203", 1400)
		d := n.startDaemon("POLL_INTERVAL=60s", "POLL_JITTER=0") // the first poll a minute away
		d.waitNotify(t, "READY=1", 10*time.Second)
		n.db.Exec(t, "UPDATE multi_interface SET mtu = 1300 WHERE id = ?", id)
		d.Signal(syscall.SIGHUP)
		testenv.WaitFor(t, 5*time.Second, "the cycle SIGHUP asks for applies the new MTU", func() bool { return n.ns.Link(t, "multinic0").MTU == 1300 })
		select {
		case <-d.Done():
			t.Fatalf("run ended on SIGHUP: %v", d.Err())
		default:
		}
	})
}

// TestLinksSomethingElseUses: a NIC that is a bridge's port, or that
// carries a macvlan (pod networking, say), fails its row and is never
// touched; the others go on.
func TestLinksSomethingElseUses(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0f:61")
	n.ns.IP(t, "link", "add", "br0", "type", "bridge")
	n.ns.IP(t, "link", "set", "ens4", "master", "br0")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:0f:62")
	n.ns.IP(t, "link", "add", "mv0", "link", "ens5", "type", "macvlan", "mode", "bridge")
	n.ns.AddNIC(t, "ens6", "fa:16:3e:00:0f:63")
	bridged := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:61", "s4", "10.30.0.211", 1400)
	carrier := n.db.AddRow(t, "node1", "fa:16:3e:00:0f:62", "s4", "10.30.0.212", 1400)
	n.db.AddRow(t, "node1", "fa:16:3e:00:0f:63", "s4", "10.30.0.213", 1400)
	code, out, _ := n.run("once")
	if code != 1 || !strings.Contains(out, "is a port of another link") || !strings.Contains(out, "carries link mv0 (macvlan) on top of it") {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	for _, name := range []string{"ens4", "ens5"} {
		if l := n.ns.Link(t, name); l.MTU != 1500 || len(l.Addrs) != 0 {
			t.Errorf("%s was touched: %+v", name, l)
		}
	}
	if n.db.Success(t, bridged) != 0 || n.db.Success(t, carrier) != 0 {
		t.Error("a row on a link something else uses is marked successful")
	}
	if l := n.ns.Link(t, "multinic0"); l.MTU != 1400 {
		t.Errorf("the free NIC did not converge: %+v", l)
	}
}

// TestPlanLeavesTheDaemonsTemporaryFilesAlone: `plan` (or status, or
// doctor) run next to a working daemon used to clear the hidden temporary
// files of an interrupted write, which may be the daemon's own write in
// progress. Only a cycle, under the lock, clears them.
func TestPlanLeavesTheDaemonsTemporaryFilesAlone(t *testing.T) {
	n := newNode(t)
	tmp := filepath.Join(n.root, "etc/netplan/.90-multinic0.yaml.tmp-4242")
	os.MkdirAll(filepath.Dir(tmp), 0o755)
	os.WriteFile(tmp, []byte("half a file"), 0o600)
	n.run("plan")
	n.run("status")
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("plan or status removed a temporary file: %v", err)
	}
	n.run("once")
	if _, err := os.Stat(tmp); err == nil {
		t.Error("once left the temporary file of an interrupted write")
	}
}

// TestRowsThatSwapAddressesOrMACs: configured rows that swap addresses,
// pass them round, or swap MACs used to fail "already on link" for ever.
// Every address moves in one cycle, never on two NICs at once.
func TestRowsThatSwapAddressesOrMACs(t *testing.T) {
	n := newNode(t)
	macs := []string{"fa:16:3e:00:0f:71", "fa:16:3e:00:0f:72", "fa:16:3e:00:0f:73"}
	addrs := []string{"10.30.0.221", "10.30.0.222", "10.30.0.223"}
	var ids []int64
	for k := range macs {
		n.ns.AddNIC(t, fmt.Sprintf("ens%d", k+4), macs[k])
		ids = append(ids, n.db.AddRow(t, "node1", macs[k], "s4", addrs[k], nil))
	}
	n.once()
	want := func(when string, byName map[string]string) {
		t.Helper()
		for name, addr := range byName {
			if l := n.ns.Link(t, name); len(l.Addrs) != 1 || l.Addrs[0].String() != addr+"/24" {
				t.Errorf("%s: %s has %v, want %s", when, name, l.Addrs, addr)
			}
		}
		for _, id := range ids {
			if n.db.Success(t, id) != 1 {
				t.Errorf("%s: row %d is not at 1", when, id)
			}
		}
	}
	apply := func(when string) {
		t.Helper()
		if code, out, _ := n.run("once"); code != 0 {
			t.Fatalf("%s: once exit %d\n%s", when, code, out)
		}
	}

	n.db.Exec(t, "UPDATE multi_interface SET address = CASE id WHEN ? THEN ? WHEN ? THEN ? ELSE address END", ids[0], addrs[1], ids[1], addrs[0])
	apply("two rows swap addresses")
	want("two rows swap addresses", map[string]string{"multinic0": addrs[1], "multinic1": addrs[0], "multinic2": addrs[2]})

	n.db.Exec(t, "UPDATE multi_interface SET address = CASE id WHEN ? THEN ? WHEN ? THEN ? WHEN ? THEN ? END", ids[0], addrs[2], ids[1], addrs[1], ids[2], addrs[0])
	apply("three rows pass their addresses round")
	want("three rows pass their addresses round", map[string]string{"multinic0": addrs[2], "multinic1": addrs[1], "multinic2": addrs[0]})

	n.db.Exec(t, "UPDATE multi_interface SET macaddress = CASE id WHEN ? THEN ? WHEN ? THEN ? ELSE macaddress END", ids[0], macs[1], ids[1], macs[0])
	apply("two rows swap MACs")
	// Row 1 (address 3) now names NIC 2, row 2 (address 2) NIC 1.
	want("two rows swap MACs", map[string]string{"multinic0": addrs[1], "multinic1": addrs[2], "multinic2": addrs[0]})
	if code, out, _ := n.run("plan"); code != 0 {
		t.Errorf("plan after the moves: exit %d\n%s", code, out)
	}
}
