// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/ifcfg"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// previousNode is a node exactly as the previous generation of
// multinic-agent leaves it: NICs named, addressed and up, its files (no
// header, mode 0644) at the agent's paths, rows at netplan_success=1.
type previousNode struct {
	*node
	backend string
	path    func(name string) string
	render  func(netconftest.Previous) []byte
	nics    []netconftest.Previous
	ids     []int64
}

func newPreviousNode(t *testing.T, backend string) *previousNode {
	n := &previousNode{node: newNode(t), backend: backend}
	n.setEnv("NETWORK_BACKEND=" + backend)
	switch backend {
	case "netplan":
		n.path, n.render = netplan.Path, netconftest.PreviousNetplan
	case "ifcfg":
		n.path, n.render = ifcfg.Path, netconftest.PreviousIfcfg
	}
	n.db.AddSubnet(t, "s6", "2001:db8:7::/64")
	n.nics = []netconftest.Previous{
		{Name: "multinic0", MAC: "FA:16:3E:00:07:01", Addr: "10.30.0.71/24", MTU: 9000},
		{Name: "multinic1", MAC: "fa:16:3e:00:07:02", Addr: "2001:db8:7::72/64", MTU: 1400},
		{Name: "multinic2", MAC: "fa:16:3e:00:07:03", MTU: 1500},
	}
	subnets := []string{"s4", "s6", "s4"}
	for k, p := range n.nics {
		mac := strings.ToLower(p.MAC)
		n.ns.AddNIC(t, p.Name, mac)
		n.ns.IP(t, "link", "set", p.Name, "mtu", itoa(p.MTU))
		var addr any
		if a, _, ok := strings.Cut(p.Addr, "/"); ok {
			addr = a
			n.ns.IP(t, "addr", "add", p.Addr, "dev", p.Name, "nodad")
		}
		n.ns.IP(t, "link", "set", p.Name, "up")
		id := n.db.AddRow(t, "node1", p.MAC, subnets[k], addr, p.MTU)
		n.db.Exec(t, "UPDATE multi_interface SET netplan_success = 1 WHERE id = ?", id)
		n.ids = append(n.ids, id)
		n.write(n.path(p.Name), n.render(p))
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

func (n *previousNode) write(path string, content []byte) {
	n.t.Helper()
	full := filepath.Join(n.root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(full, content, 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// checkTakenOver checks that every NIC has exactly one file, now the
// agent's own, that the previous agent's file is kept as a backup, that
// every row is still 1 and that the links kept their state.
func (n *previousNode) checkTakenOver() {
	t := n.t
	t.Helper()
	for k, p := range n.nics {
		files, _ := filepath.Glob(filepath.Join(n.root, filepath.Dir(n.path(p.Name)), "*"+p.Name+"*"))
		if len(files) != 1 {
			t.Errorf("%s: files %v, want one", p.Name, files)
			continue
		}
		data, err := os.ReadFile(files[0])
		if err != nil || !netconf.HasMarker(data) {
			t.Errorf("%s: %s is not the agent's own (%v):\n%s", p.Name, files[0], err, data)
		}
		backup, err := os.ReadFile(filepath.Join(n.root, reconcile.BackupDir, n.path(p.Name)))
		if err != nil || !bytes.Equal(backup, n.render(p)) {
			t.Errorf("%s: backup of the previous agent's file: %v\n%s", p.Name, err, backup)
		}
		if got := n.db.Success(t, n.ids[k]); got != 1 {
			t.Errorf("row %d (%s): netplan_success %d, want 1", n.ids[k], p.Name, got)
		}
		l := n.ns.Link(t, p.Name)
		var addrs []string
		for _, a := range l.Addrs {
			addrs = append(addrs, a.String())
		}
		if want := strings.Fields(p.Addr); l.MTU != p.MTU || !l.Up || strings.Join(addrs, " ") != strings.Join(want, " ") {
			t.Errorf("%s: mtu %d up %v addresses %v, want mtu %d up, %v", p.Name, l.MTU, l.Up, addrs, p.MTU, want)
		}
		if ra := n.tool("sysctl", "-n", "net.ipv6.conf."+p.Name+".accept_ra", "net.ipv6.conf."+p.Name+".autoconf"); ra != "0\n0" {
			t.Errorf("%s still learns from router advertisements: %q", p.Name, ra)
		}
	}
}

func settle() { time.Sleep(300 * time.Millisecond) }

func TestTakeoverOfPreviousAgentNode(t *testing.T) {
	for _, backend := range []string{"netplan", "ifcfg"} {
		t.Run(backend, func(t *testing.T) {
			n := newPreviousNode(t, backend)
			// A file at the agent's path that the previous agent did not
			// write as it stands: an operator added a route.
			n.ns.AddNIC(t, "multinic3", "fa:16:3e:00:07:04")
			n.ns.IP(t, "addr", "add", "10.30.0.74/24", "dev", "multinic3")
			n.ns.IP(t, "link", "set", "multinic3", "up")
			hand := n.db.AddRow(t, "node1", "fa:16:3e:00:07:04", "s4", "10.30.0.74", 1500)
			n.db.Exec(t, "UPDATE multi_interface SET netplan_success = 1 WHERE id = ?", hand)
			handFile := n.render(netconftest.Previous{Name: "multinic3", MAC: "fa:16:3e:00:07:04", Addr: "10.30.0.74/24", MTU: 1500})
			switch backend {
			case "netplan":
				handFile = bytes.Replace(handFile, []byte("            dhcp4: false\n"), []byte("            dhcp4: false\n            routes:\n                - to: 10.99.0.0/16\n                  via: 10.30.0.1\n"), 1)
			case "ifcfg":
				handFile = append(handFile, "\nGATEWAY=10.30.0.1"...)
			}
			n.write(n.path("multinic3"), handFile)
			flaps := n.ns.WatchFlaps(t)

			code, out, errOut := n.run("plan")
			if code != 1 || !strings.Contains(out, "Changes pending, and 1 of 4 rows cannot be applied now") {
				t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
			}
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "    ") {
					continue
				}
				action := strings.TrimSpace(line)
				// Besides the files, the agent's one live change: its NICs never
				// learn from router advertisements (no address or link moves).
				if !strings.HasPrefix(action, "adopt ") && !strings.HasPrefix(action, "error: ") && action != "set netplan_success 1 -> 0" &&
					action != "stop learning from router advertisements: IPv6 accept_ra 0, autoconf 0" {
					t.Errorf("plan shows more than adoptions: %q\n%s", action, out)
				}
			}
			for _, p := range n.nics {
				if !strings.Contains(out, "adopt "+n.path(p.Name)) {
					t.Errorf("plan does not adopt %s:\n%s", n.path(p.Name), out)
				}
			}
			if !strings.Contains(out, "nor the previous multinic-agent's") {
				t.Errorf("plan does not say why %s is refused:\n%s", n.path("multinic3"), out)
			}

			for run := 1; run <= 2; run++ {
				code, out, errOut = n.run("once")
				if code != 1 || !strings.Contains(out, "not written by multinic-agent") {
					t.Fatalf("once #%d: exit %d, want 1 for the hand-written file's row\n%s\n%s", run, code, out, errOut)
				}
				if run == 1 && strings.Count(out, "adopted a file of the previous multinic-agent") != len(n.nics) {
					t.Errorf("once #1 did not log one adoption per file:\n%s", out)
				}
				if run == 2 && strings.Contains(out, "adopted") {
					t.Errorf("once #2 adopted again:\n%s", out)
				}
				n.checkTakenOver()
			}
			settle()
			if ev := flaps.Events(); len(ev) > 0 {
				t.Errorf("the takeover interrupted traffic: %v", ev)
			}
			if data, _ := os.ReadFile(filepath.Join(n.root, n.path("multinic3"))); !bytes.Equal(data, handFile) {
				t.Errorf("the hand-written file was changed:\n%s", data)
			}
			if got := n.db.Success(t, hand); got != 0 {
				t.Errorf("the hand-written file's row: netplan_success %d, want 0", got)
			}
			if code, out, _ := n.run("plan"); code != 0 && strings.Contains(out, "adopt") {
				t.Errorf("plan after the takeover still adopts:\n%s", out)
			}

			// An adopted file whose row is gone goes by the two-read rule.
			n.db.Exec(t, "DELETE FROM multi_interface WHERE id = ?", n.ids[2])
			gone := filepath.Join(n.root, n.path("multinic2"))
			n.run("once")
			if _, err := os.Stat(gone); err != nil {
				t.Fatalf("removed after one read without the row: %v", err)
			}
			n.run("once")
			if _, err := os.Stat(gone); err == nil {
				t.Fatalf("%s kept after two reads without the row", gone)
			}
		})
	}
}

func TestPreviousAgentStillRunning(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:07:11")
	n.db.AddRow(t, "node1", "fa:16:3e:00:07:11", "s4", "10.30.0.81", 1500)
	prev, _ := testenv.StartPreviousAgent(t, n.ns, ":8080")
	pid := strconv.Itoa(prev.Process.Pid)
	says := "the previous multinic-agent is still running on this node (pid " + pid

	code, out, errOut := n.run("once")
	if code != 2 || !strings.Contains(errOut, says) || !strings.Contains(errOut, "kill "+pid) {
		t.Errorf("once: exit %d, want 2 naming pid %s and how to stop it\n%s\n%s", code, pid, out, errOut)
	}
	code, out, _ = n.run("doctor")
	if code != 1 || !strings.Contains(squash(out), "FAIL instance "+says) || !strings.Contains(squash(out), "FAIL health port") {
		t.Errorf("doctor: exit %d, want 1 with the previous agent on the instance and health port lines\n%s", code, out)
	}

	d := n.startDaemon()
	testenv.WaitFor(t, 10*time.Second, "run says it waits", func() bool {
		return strings.Contains(d.Output(), "waiting for the previous multinic-agent to stop") && strings.Contains(d.Output(), says)
	})
	time.Sleep(3 * time.Second)
	if _, ok := n.ns.Find(t, "ens4"); !ok {
		t.Fatal("run touched the NIC while the previous agent runs")
	}
	prev.Process.Kill()
	d.waitNotify(t, "READY=1", 20*time.Second)
	if l := n.ns.Link(t, "multinic0"); len(l.Addrs) != 1 || l.Addrs[0].String() != "10.30.0.81/24" {
		t.Errorf("after the previous agent stopped: %+v", l)
	}
	if !strings.Contains(d.Output(), "the previous multinic-agent stopped; starting") {
		t.Errorf("no line saying the agent took over:\n%s", d.Output())
	}
}

func TestTakeoverThroughTheDaemon(t *testing.T) {
	n := newPreviousNode(t, "netplan")
	flaps := n.ns.WatchFlaps(t)
	d := n.startDaemon("POLL_INTERVAL=1s")
	d.waitNotify(t, "READY=1", 20*time.Second)
	n.checkTakenOver()
	time.Sleep(2500 * time.Millisecond) // two more polls
	n.checkTakenOver()
	if ev := flaps.Events(); len(ev) > 0 {
		t.Errorf("the takeover interrupted traffic: %v", ev)
	}
	if c := strings.Count(d.Output(), "adopted a file of the previous multinic-agent"); c != len(n.nics) {
		t.Errorf("%d adoption log lines, want one per file (%d)", c, len(n.nics))
	}
	if _, metrics := get(t, n.ns.HTTPClient(), "/metrics"); !strings.Contains(metrics, "multinic_adopted_files_total 3") {
		t.Errorf("/metrics does not count the adoptions:\n%s", metrics)
	}
}
