// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func wantUntouched(t *testing.T, n *node, name string) {
	t.Helper()
	l := n.ns.Link(t, name)
	if l.MTU != 1500 || len(l.Addrs) != 0 || l.Up {
		t.Errorf("%s not restored: %+v", name, l)
	}
	if m, _ := filepath.Glob(filepath.Join(n.root, "etc/netplan/*.yaml")); len(m) != 0 {
		t.Errorf("files left behind: %v", m)
	}
}

// TestRowsCannotCaptureTheNodesRoutes: rows whose subnet would take the
// node's default traffic, the route to the database, the default gateway
// or the management network onto a managed NIC fail validation, and their
// NICs are never touched. The database is reached over TCP through the
// uplink eth0 (default route via 198.51.100.1), and a second network,
// 203.0.113.0/24, where the database's own address is, through the same
// gateway.
func TestRowsCannotCaptureTheNodesRoutes(t *testing.T) {
	n := newNode(t)
	gw := testenv.NewNetns(t)
	n.ns.Connect(t, "eth0", "198.51.100.2/24", gw, "gw0", "198.51.100.1/24")
	n.ns.IP(t, "route", "add", "default", "via", "198.51.100.1")
	gw.IP(t, "addr", "add", "203.0.113.10/32", "dev", "lo")
	testenv.NewTCPProxy(t, gw, "203.0.113.10:3306", n.db.Socket)
	n.setEnv("DB_SOCKET=", "DB_HOST=203.0.113.10", "DB_PORT=3306")
	cases := []struct {
		subnet, cidr, addr, why string
	}{
		{"all4", "0.0.0.0/0", "10.99.0.5", "subnet 0.0.0.0/0 is wider than /8"},
		{"all6", "::/0", "2001:db8::5", "subnet ::/0 is wider than /16"},
		{"half", "128.0.0.0/1", "192.0.2.5", "subnet 128.0.0.0/1 is wider than /8"},
		{"mgmt", "198.51.100.128/25", "198.51.100.160", "subnet 198.51.100.128/25 lies in the network of eth0 (198.51.100.0/24)"},
		{"db", "203.0.113.0/28", "203.0.113.5", "subnet 203.0.113.0/28 takes in the database address 203.0.113.10"},
		{"gateway", "198.51.0.0/16", "198.51.7.5", "subnet 198.51.0.0/16 takes in the default gateway 198.51.100.1"},
	}
	var ids []int64
	for k, c := range cases {
		n.db.AddSubnet(t, c.subnet, c.cidr)
		mac := fmt.Sprintf("fa:16:3e:00:09:%02x", k+1)
		n.ns.AddNIC(t, fmt.Sprintf("ens%d", k+10), mac)
		ids = append(ids, n.db.AddRow(t, "node1", mac, c.subnet, c.addr, 1400))
	}
	routes := n.tool("ip", "route", "show") + n.tool("ip", "-6", "route", "show")
	code, out, _ := n.run("once")
	if code != 1 {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	for k, c := range cases {
		if !strings.Contains(out, fmt.Sprintf("row %d: %s", ids[k], c.why)) {
			t.Errorf("%s: no error %q in\n%s", c.subnet, c.why, out)
		}
		l := n.ns.Link(t, fmt.Sprintf("ens%d", k+10))
		if l.MTU != 1500 || len(l.Addrs) != 0 || l.Up {
			t.Errorf("%s: its NIC was touched: %+v", c.subnet, l)
		}
	}
	if after := n.tool("ip", "route", "show") + n.tool("ip", "-6", "route", "show"); after != routes {
		t.Errorf("the node's routes changed:\n%s\nwas:\n%s", after, routes)
	}
	if !strings.Contains(out, `"error_type":"validation"`) {
		t.Errorf("not classed as validation errors:\n%s", out)
	}
}

// TestAnOrphanCarryingADefaultRouteIsCleanedUp: a route that reached the
// agent's own NIC (here added by hand) does not keep its interface from
// being removed once its row is gone.
func TestAnOrphanCarryingADefaultRouteIsCleanedUp(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:09:31")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:09:31", "s4", "10.30.0.131", nil)
	n.once()
	n.ns.IP(t, "route", "add", "default", "via", "10.30.0.1", "dev", "multinic0")
	n.db.Exec(t, "DELETE FROM multi_interface WHERE id = ?", id)
	n.once()
	n.once()
	l := n.ns.Link(t, "multinic0")
	if len(l.Addrs) != 0 || l.Up {
		t.Errorf("the orphan was kept: %+v", l)
	}
	if m, _ := filepath.Glob(filepath.Join(n.root, "etc/netplan/*.yaml")); len(m) != 0 {
		t.Errorf("its file is still there: %v", m)
	}
}

func TestFailingActivationRollsBack(t *testing.T) {
	n := newNode(t)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "netplan"), []byte("#!/bin/sh\necho 'netplan: simulated failure' >&2\nexit 1\n"), 0o755)
	// netplan, or its generator where the agent runs that directly.
	n.setEnv("PATH="+bin+":"+os.Getenv("PATH"), "NETPLAN_GENERATE_PATH="+filepath.Join(bin, "netplan"))
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:07:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:07:02")
	a := n.db.AddRow(t, "node1", "fa:16:3e:00:07:01", "s4", "10.30.0.71", 9000)
	b := n.db.AddRow(t, "node1", "fa:16:3e:00:07:02", "s4", "10.30.0.72", nil)

	code, out, _ := n.run("once")
	if code != 1 || !strings.Contains(out, "simulated failure") || !strings.Contains(out, "activation failed") {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	wantUntouched(t, n, "ens4")
	wantUntouched(t, n, "ens5")
	if n.db.Success(t, a) != 0 || n.db.Success(t, b) != 0 {
		t.Error("rows marked successful although activation failed")
	}
}

// TestUnwritableFileFailsAlone makes one row's file immutable (chattr +i):
// that row's change fails and is rolled back, the other row's goes on.
func TestUnwritableFileFailsAlone(t *testing.T) {
	testenv.RequireTool(t, "chattr")
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:08:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:08:02")
	bad := n.db.AddRow(t, "node1", "fa:16:3e:00:08:01", "s4", "10.30.0.81", 9000)
	good := n.db.AddRow(t, "node1", "fa:16:3e:00:08:02", "s4", "10.30.0.82", 9000)
	n.once()

	file := filepath.Join(n.root, "etc/netplan/90-multinic0.yaml")
	if out, err := exec.Command("chattr", "+i", file).CombinedOutput(); err != nil {
		testenv.Skip(t, fmt.Sprintf("the test filesystem has no immutable attribute: %v %s", err, out))
	}
	defer exec.Command("chattr", "-i", file).Run()
	n.db.Exec(t, "UPDATE multi_interface SET mtu=1400")

	code, out, _ := n.run("once")
	if code != 1 || !strings.Contains(out, "90-multinic0.yaml") || !strings.Contains(out, "operation not permitted") {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	if l := n.ns.Link(t, "multinic0"); l.MTU != 9000 {
		t.Errorf("the failed row's NIC changed: MTU %d", l.MTU)
	}
	if l := n.ns.Link(t, "multinic1"); l.MTU != 1400 {
		t.Errorf("the good row did not converge: MTU %d", l.MTU)
	}
	if n.db.Success(t, bad) != 0 || n.db.Success(t, good) != 1 {
		t.Errorf("netplan_success bad=%d good=%d", n.db.Success(t, bad), n.db.Success(t, good))
	}
}

// TestKillNineLeavesNoPartialFile kills `once` at random points of a cycle
// that rewrites every file, many times, and checks after each kill that
// every file the network tools would read is whole, then that a normal run
// converges and clears the temporary files.
func TestKillNineLeavesNoPartialFile(t *testing.T) {
	loops := 25
	if v, err := strconv.Atoi(os.Getenv("MULTINIC_KILL_LOOPS")); err == nil {
		loops = v
	}
	n := newNode(t)
	for i := 1; i <= 3; i++ {
		mac := fmt.Sprintf("fa:16:3e:00:0a:%02x", i)
		n.ns.AddNIC(t, fmt.Sprintf("ens%d", i), mac)
		n.db.AddRow(t, "node1", mac, "s4", fmt.Sprintf("10.30.0.%d", 100+i), 1500)
	}
	b := netplan.Backend{}
	killedMidway := 0
	for i := range loops {
		// Every loop changes every row, so every file is rewritten.
		n.db.Exec(t, "UPDATE multi_interface SET mtu=?", 1400+i%2*100)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := n.ns.Exec(ctx, n.env, binary, "once", "--config", n.conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(250_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			killedMidway++
		}
		cancel()
		files, _ := filepath.Glob(filepath.Join(n.root, "etc/netplan/*"))
		for _, f := range files {
			base := filepath.Base(f)
			if strings.HasPrefix(base, ".") {
				continue // a temporary file: no network tool reads it
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Parse(strings.TrimPrefix(f, n.root), data); err != nil {
				t.Fatalf("loop %d: %s is not whole after kill -9: %v\n%s", i, base, err, data)
			}
		}
	}
	t.Logf("%d kill -9 loops, %d killed before the run ended", loops, killedMidway)
	n.once()
	for i := 1; i <= 3; i++ {
		if l := n.ns.Link(t, fmt.Sprintf("multinic%d", i-1)); len(l.Addrs) != 1 {
			t.Errorf("not converged after the kills: %+v", l)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(n.root, "etc/netplan/.*")); len(tmp) != 0 {
		t.Errorf("temporary files left after a normal run: %v", tmp)
	}
}
