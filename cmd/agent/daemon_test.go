// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// daemonProc is `multinic-agent run` in the node's namespace.
type daemonProc struct{ *harness.Agent }

// startDaemon runs `multinic-agent run` in the node's namespace with a
// NOTIFY_SOCKET of the test's, as systemd would.
func (n *node) startDaemon(env ...string) *daemonProc {
	n.t.Helper()
	return n.startDaemonWith(nil, env...)
}

// startDaemonWith starts the daemon through wrapper (a command and its
// arguments, such as setpriv, that then runs the agent).
func (n *node) startDaemonWith(wrapper []string, env ...string) *daemonProc {
	t := n.t
	t.Helper()
	full := append(append(slices.Clone(n.env), "HEALTH_PORT=8080"), env...)
	argv := append(append(slices.Clone(wrapper), binary), "run", "--config", n.conf)
	a, err := harness.StartAgent(n.ns.Netns, harness.AgentConfig{Env: full, NotifyDir: t.TempDir()}, argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Kill()
		if t.Failed() {
			t.Logf("daemon output:\n%s", a.Output())
		}
	})
	return &daemonProc{a}
}

func (d *daemonProc) waitNotify(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-d.Notify:
			if strings.Contains(m, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s notification within %s", want, within)
		}
	}
}

func get(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get("http://127.0.0.1:8080" + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestDaemon(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:03:01")
	n.db.AddRow(t, "node1", "fa:16:3e:00:03:01", "s4", "10.30.0.31", 1400)
	d := n.startDaemon("POLL_INTERVAL=60s")
	d.waitNotify(t, "READY=1", 10*time.Second)
	if l := n.ns.Link(t, "multinic0"); l.MTU != 1400 || len(l.Addrs) != 1 {
		t.Fatalf("not converged at READY: %+v", l)
	}

	c := n.ns.HTTPClient()
	code, body := get(t, c, "/")
	var status map[string]any
	if err := json.Unmarshal([]byte(body), &status); err != nil || code != 200 {
		t.Fatalf("GET /: %d %v\n%s", code, err, body)
	}
	for _, k := range []string{"status", "uptime", "processed_vms", "failed_configs", "database_connected", "last_sync", "components", "statistics", "interfaces"} {
		if _, ok := status[k]; !ok {
			t.Errorf("GET / lacks %q", k)
		}
	}
	if status["status"] != "healthy" || status["database_connected"] != true {
		t.Errorf("status %v", status)
	}
	comp := status["components"].(map[string]any)
	if comp["database"].(map[string]any)["healthy"] != true || comp["network_manager"].(map[string]any)["type"] != "netplan" {
		t.Errorf("components %v", comp)
	}
	ifs := status["interfaces"].([]any)
	if len(ifs) != 1 || ifs[0].(map[string]any)["name"] != "multinic0" || ifs[0].(map[string]any)["state"] != "configured" {
		t.Errorf("interfaces %v", ifs)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, c, p); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	_, metrics := get(t, c, "/metrics")
	for _, name := range []string{
		"multinic_interfaces_processed_total{status=\"success\"} 1", "multinic_interface_processing_duration_seconds",
		"multinic_polling_cycles_total", "multinic_polling_cycle_duration_seconds", "multinic_polling_backoff_level 0",
		"multinic_db_connection_status 1", "multinic_concurrent_tasks", "multinic_configuration_drifts_total",
		"multinic_orphaned_interfaces_deleted_total", "multinic_errors_total", "multinic_agent_info{",
		"multinic_db_query_duration_seconds", "multinic_interfaces{state=\"configured\"} 1",
		"multinic_last_success_timestamp_seconds", "go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(d.Output(), `"msg":"Operating system detected"`) {
		t.Error("no 'Operating system detected' log line")
	}

	// Hot-plug: the row first, then the NIC; the 60s poll is far away.
	n.db.AddRow(t, "node1", "fa:16:3e:00:03:02", "s4", "10.30.0.32", nil)
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:03:02")
	took := testenv.WaitFor(t, 2*time.Second, "hot-plugged NIC converged", func() bool {
		l, ok := n.ns.Find(t, "multinic1")
		return ok && len(l.Addrs) == 1 && l.Addrs[0].String() == "10.30.0.32/24" && l.Up
	})
	t.Logf("hot-plugged NIC converged in %s", took)

	// A change made by hand is repaired at once too.
	n.ns.IP(t, "addr", "del", "10.30.0.31/24", "dev", "multinic0")
	took = testenv.WaitFor(t, 5*time.Second, "removed address restored", func() bool {
		return len(n.ns.Link(t, "multinic0").Addrs) == 1
	})
	t.Logf("hand-removed address restored in %s", took)

	// A second instance on the same host is refused.
	second := n.ns.Exec(t.Context(), append(n.env, "HEALTH_PORT=8081"), binary, "run", "--config", n.conf)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another multinic-agent instance") {
		t.Errorf("second instance: %v\n%s", err, out)
	}

	start := time.Now()
	d.Signal(syscall.SIGTERM)
	select {
	case <-d.Done():
		err := d.Err()
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		t.Logf("stopped %s after SIGTERM", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
	d.waitNotify(t, "STOPPING=1", time.Second)
}

// TestWatchdogBeatsBetweenPolls: cycles are the watchdog's heartbeat, and
// between polls further apart than half of WatchdogSec the agent still
// notifies WATCHDOG=1 (systemd would otherwise kill a healthy agent).
func TestWatchdogBeatsBetweenPolls(t *testing.T) {
	n := newNode(t)
	d := n.startDaemon("POLL_INTERVAL=60s", "WATCHDOG_USEC=1000000")
	d.waitNotify(t, "READY=1", 10*time.Second)
	// Every 500 ms: three within 5 s leave room for a slow machine.
	for range 3 {
		d.waitNotify(t, "WATCHDOG=1", 5*time.Second)
	}
}

func TestDaemonSurvivesDatabaseOutage(t *testing.T) {
	n := newNode(t)
	proxy := testenv.NewProxy(t, n.db.Socket)
	for k, e := range n.env {
		if strings.HasPrefix(e, "DB_SOCKET=") {
			n.env[k] = "DB_SOCKET=" + proxy.Path
		}
	}
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:04:01")
	n.db.AddRow(t, "node1", "fa:16:3e:00:04:01", "s4", "10.30.0.41", 1400)
	d := n.startDaemon("POLL_INTERVAL=1s", "POLL_JITTER=0", "BACKOFF_MAX_INTERVAL=2s")
	d.waitNotify(t, "READY=1", 10*time.Second)
	c := n.ns.HTTPClient()
	before := n.ns.Link(t, "multinic0")
	file := filepath.Join(n.root, "etc/netplan/90-multinic0.yaml")
	fileBefore, _ := os.ReadFile(file)

	proxy.Cut()
	testenv.WaitFor(t, 5*time.Second, "503 unhealthy", func() bool {
		code, body := get(t, c, "/")
		return code == 503 && strings.Contains(body, `"status": "unhealthy"`) && strings.Contains(body, `"database_connected": false`)
	})
	if code, _ := get(t, c, "/readyz"); code != 503 {
		t.Errorf("/readyz during the outage: %d", code)
	}
	if code, _ := get(t, c, "/healthz"); code != 200 {
		t.Errorf("/healthz during the outage: %d (the loop is alive)", code)
	}
	testenv.WaitFor(t, 5*time.Second, "backoff rising and DB status 0", func() bool {
		_, m := get(t, c, "/metrics")
		return strings.Contains(m, "multinic_db_connection_status 0") && !strings.Contains(m, "multinic_polling_backoff_level 0")
	})
	after := n.ns.Link(t, "multinic0")
	fileAfter, _ := os.ReadFile(file)
	if after.MTU != before.MTU || len(after.Addrs) != 1 || !after.Up || !bytes.Equal(fileBefore, fileAfter) {
		t.Errorf("the outage changed the node: link %+v -> %+v", before, after)
	}

	proxy.Restore()
	took := testenv.WaitFor(t, 8*time.Second, "healthy again", func() bool {
		code, body := get(t, c, "/")
		return code == 200 && strings.Contains(body, `"status": "healthy"`)
	})
	t.Logf("recovered %s after the database came back", took)
	_, m := get(t, c, "/metrics")
	if !strings.Contains(m, "multinic_polling_backoff_level 0") || !strings.Contains(m, "multinic_db_connection_status 1") {
		t.Error("backoff or DB status not reset after recovery")
	}
	// Everything the agent printed, the database driver's messages about
	// the cut connections included, is JSON (the journal's lines).
	for _, line := range d.Lines(0) {
		if !json.Valid([]byte(line)) {
			t.Errorf("a line of the agent's output is not JSON: %q", line)
		}
	}
}

// TestSIGTERMDuringACycle stops the daemon while a cycle is in the middle
// of its activation (a netplan that takes 2 s): the interfaces in hand are
// finished and verified, the row is reported, and the exit status is 0.
func TestSIGTERMDuringACycle(t *testing.T) {
	n := newNode(t)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "netplan"), []byte("#!/bin/sh\necho started > \"$(dirname \"$0\")/started\"\nsleep 2\n"), 0o755)
	// netplan, or its generator where the agent runs that directly.
	n.setEnv("PATH="+bin+":"+os.Getenv("PATH"), "NETPLAN_GENERATE_PATH="+filepath.Join(bin, "netplan"))
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0d:01")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:0d:01", "s4", "10.30.0.131", 1400)
	d := n.startDaemon("POLL_INTERVAL=60s")
	testenv.WaitFor(t, 10*time.Second, "activation started", func() bool {
		_, err := os.Stat(filepath.Join(bin, "started"))
		return err == nil
	})
	d.Signal(syscall.SIGTERM)
	select {
	case <-d.Done():
		err := d.Err()
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	l := n.ns.Link(t, "multinic0")
	if l.MTU != 1400 || len(l.Addrs) != 1 || n.db.Success(t, id) != 1 {
		t.Errorf("the interface in hand was not finished: %+v, netplan_success=%d", l, n.db.Success(t, id))
	}
	if _, err := os.Stat(filepath.Join(n.root, "etc/netplan/90-multinic0.yaml")); err != nil {
		t.Errorf("its file: %v", err)
	}
}

// TestDaemonNoticesAReturningDatabase: with the database gone, the backoff
// spaces the cycles (2, 4, 8 s... here, at POLL_INTERVAL=1s), while a probe
// of the server's greeting runs every interval; when the database is back
// the probe, not the backoff's next poll, brings the next cycle.
func TestDaemonNoticesAReturningDatabase(t *testing.T) {
	n := newNode(t)
	proxy := testenv.NewProxy(t, n.db.Socket)
	n.setEnv("DB_SOCKET=" + proxy.Path)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:04:11")
	n.db.AddRow(t, "node1", "fa:16:3e:00:04:11", "s4", "10.30.0.141", nil)
	d := n.startDaemon("POLL_INTERVAL=1s", "POLL_JITTER=0", "LOG_LEVEL=debug")
	d.waitNotify(t, "READY=1", 10*time.Second)
	c := n.ns.HTTPClient()

	proxy.Cut()
	// Three failed cycles: the next poll is 8 s ± 4 s away.
	testenv.WaitFor(t, 20*time.Second, "backoff level 3", func() bool {
		_, m := get(t, c, "/metrics")
		return strings.Contains(m, "multinic_polling_backoff_level 3")
	})
	from := len(d.Output())
	proxy.Restore()
	testenv.WaitFor(t, 20*time.Second, "healthy again", func() bool {
		code, _ := get(t, c, "/")
		return code == 200
	})
	log := d.Output()[from:]
	var trigger string
	for _, line := range strings.Split(log, "\n") {
		var m struct{ Msg, Trigger string }
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m.Msg, "reconcile finished") {
			trigger = m.Trigger
			break
		}
	}
	if trigger != "database" || !strings.Contains(log, "the database server answers again") {
		t.Errorf("the first cycle after the database came back was triggered by %q, not the probe:\n%s", trigger, log)
	}
	if !strings.Contains(d.Output(), `"probe_every":"1s"`) {
		t.Error("the failed cycles do not say that the database is probed every interval")
	}
	_, m := get(t, c, "/metrics")
	if !strings.Contains(m, "multinic_polling_backoff_level 0") {
		t.Error("backoff not reset after the database came back")
	}
}

// TestDaemonRepairsAFileEditedInPlace: the daemon's idle cycles stat no
// file and reuse their last plan while nothing is reported; a file edited
// in place (same inode, same size) is still seen through the kernel's
// report and put back, and so is a row changed in the database.
func TestDaemonRepairsAFileEditedInPlace(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:04:21")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:04:21", "s4", "10.30.0.151", 1400)
	d := n.startDaemon("POLL_INTERVAL=1s", "POLL_JITTER=0")
	d.waitNotify(t, "READY=1", 10*time.Second)
	file := filepath.Join(n.root, "etc/netplan/90-multinic0.yaml")
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // idle cycles, with the file settled
	edited := bytes.Replace(want, []byte("mtu: 1400"), []byte("mtu: 1300"), 1)
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(edited, 0)
	f.Close()
	testenv.WaitFor(t, 10*time.Second, "the file put back", func() bool {
		got, _ := os.ReadFile(file)
		return bytes.Equal(got, want)
	})
	n.db.Exec(t, "UPDATE multi_interface SET mtu = 1450 WHERE id = ?", id)
	testenv.WaitFor(t, 10*time.Second, "the row's change applied", func() bool {
		return n.ns.Link(t, "multinic0").MTU == 1450
	})
}
