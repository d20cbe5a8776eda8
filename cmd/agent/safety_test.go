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

// hijackRow adds a NIC and a row whose subnet is a more specific part of
// the node's uplink subnet 198.51.100.0/24: once applied, the route to
// the gateway and the database at 198.51.100.1 moves onto that NIC, which
// leads nowhere.
func hijackRow(n *node) int64 {
	n.db.AddSubnet(n.t, "hijack", "198.51.100.0/25")
	n.ns.AddNIC(n.t, "ens9", "fa:16:3e:00:09:01")
	return n.db.AddRow(n.t, "node1", "fa:16:3e:00:09:01", "hijack", "198.51.100.60", 1400)
}

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

// TestLosingTheDatabaseRollsBack: the database is reached over TCP through
// the uplink; a row that moves that route onto a managed NIC is applied,
// found to cut the node off, and rolled back.
func TestLosingTheDatabaseRollsBack(t *testing.T) {
	n := newNode(t)
	gw := testenv.NewNetns(t)
	n.ns.Connect(t, "eth0", "198.51.100.2/24", gw, "gw0", "198.51.100.1/24")
	n.ns.IP(t, "route", "add", "default", "via", "198.51.100.1")
	testenv.NewTCPProxy(t, gw, "198.51.100.1:3306", n.db.Socket)
	n.setEnv("DB_SOCKET=", "DB_HOST=198.51.100.1", "DB_PORT=3306")
	id := hijackRow(n)

	start := time.Now()
	code, out, _ := n.run("once")
	if code != 1 || !strings.Contains(out, "stopped answering") {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	t.Logf("cut-off detected and rolled back in %s", time.Since(start))
	wantUntouched(t, n, "ens9")
	if n.db.Success(t, id) != 0 {
		t.Error("the row that cut the node off is marked successful")
	}
	if !strings.Contains(out, `"error_type":"connectivity"`) && !strings.Contains(out, "rolling them back") {
		t.Errorf("no rollback logged:\n%s", out)
	}
}

// TestLosingTheGatewayRollsBack: the same with the database on a local
// socket: only the default gateway stops answering.
func TestLosingTheGatewayRollsBack(t *testing.T) {
	n := newNode(t)
	gw := testenv.NewNetns(t)
	n.ns.Connect(t, "eth0", "198.51.100.2/24", gw, "gw0", "198.51.100.1/24")
	n.ns.IP(t, "route", "add", "default", "via", "198.51.100.1")
	hijackRow(n)

	code, out, _ := n.run("once")
	if code != 1 || !strings.Contains(out, "the default gateway 198.51.100.1 stopped answering") {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	wantUntouched(t, n, "ens9")
	// The uplink itself was never touched.
	if l := n.ns.Link(t, "eth0"); len(l.Addrs) != 1 || !l.Up {
		t.Errorf("uplink changed: %+v", l)
	}
}

func TestFailingActivationRollsBack(t *testing.T) {
	n := newNode(t)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "netplan"), []byte("#!/bin/sh\necho 'netplan: simulated failure' >&2\nexit 1\n"), 0o755)
	n.setEnv("PATH=" + bin + ":" + os.Getenv("PATH"))
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
