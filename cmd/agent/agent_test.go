// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/lock"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	var err error
	if binary, err = harness.BuiltAgent(); err != nil {
		panic(err)
	}
	code := m.Run()
	harness.RemoveBuilt()
	os.Exit(code)
}

// node is an operator's node: a namespace with NICs, a database and a
// ROOT_DIR, and the environment the agent is started with.
type node struct {
	t    *testing.T
	ns   *testenv.Netns
	db   *testenv.DB
	root string
	conf string
	env  []string
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{t: t, ns: testenv.NewNetns(t), db: testenv.NewDB(t), root: t.TempDir()}
	n.conf = filepath.Join(t.TempDir(), "config.env")
	os.WriteFile(n.conf, []byte("# test config\nLOG_LEVEL=info\n"), 0o600)
	n.env = []string{"DB_SOCKET=" + n.db.Socket, "DB_USER=root", "DB_NAME=" + n.db.Name, "NODE_NAME=node1",
		"ROOT_DIR=" + n.root, "NETWORK_BACKEND=netplan"}
	n.db.AddSubnet(t, "s4", "10.30.0.0/24")
	return n
}

// run starts the built binary inside the namespace, as an operator would
// with `ip netns exec NS multinic-agent CMD`.
func (n *node) run(args ...string) (code int, stdout, stderr string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append(args, "--config", n.conf)
	return result(n.t, n.ns.Exec(ctx, n.env, binary, args...))
}

// result runs cmd and returns its exit status and output.
func result(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, o.String(), e.String()
}

func TestOperatorRunsOnceAndPlan(t *testing.T) {
	n := newNode(t)
	for i, mac := range []string{"fa:16:3e:00:01:01", "fa:16:3e:00:01:02", "fa:16:3e:00:01:03"} {
		n.ns.AddNIC(t, "ens"+string(rune('4'+i)), mac)
		n.db.AddRow(t, "node1", mac, "s4", "10.30.0."+string(rune('1'+i)), 1450)
	}

	code, out, errOut := n.run("plan")
	if code != 2 || !strings.Contains(out, "rename ens4 -> multinic0") || !strings.Contains(out, "+        - \"10.30.0.1/24\"") {
		t.Fatalf("plan before: exit %d\n%s\n%s", code, out, errOut)
	}
	if matches, _ := filepath.Glob(filepath.Join(n.root, "etc/netplan/*")); len(matches) != 0 {
		t.Fatalf("plan wrote files: %v", matches)
	}

	code, out, errOut = n.run("once")
	if code != 0 {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	// Every log line is JSON; those about an interface carry id, name, mac.
	sc := bufio.NewScanner(strings.NewReader(out))
	applied := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if rec["msg"] == "applied" {
			applied++
			if rec["id"] == nil || rec["name"] == nil || rec["mac"] == nil {
				t.Errorf("interface log line without id/name/mac: %s", sc.Text())
			}
		}
	}
	if applied == 0 || !strings.Contains(out, `"msg":"Operating system detected"`) {
		t.Errorf("missing log lines:\n%s", out)
	}
	for i, name := range []string{"multinic0", "multinic1", "multinic2"} {
		l := n.ns.Link(t, name)
		if l.MTU != 1450 || len(l.Addrs) != 1 || l.Addrs[0].String() != "10.30.0."+string(rune('1'+i))+"/24" {
			t.Errorf("%s: %+v", name, l)
		}
	}

	if code, out, _ = n.run("plan"); code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("plan after: exit %d\n%s", code, out)
	}
	updates := n.db.Updates(t)
	if code, _, _ = n.run("once"); code != 0 || n.db.Updates(t) != updates {
		t.Errorf("second once: exit %d, %d DB writes", code, n.db.Updates(t)-updates)
	}

	n.ns.IP(t, "addr", "del", "10.30.0.2/24", "dev", "multinic1")
	if code, out, _ = n.run("plan"); code != 2 || !strings.Contains(out, "add address 10.30.0.2/24  [drift: address]") {
		t.Errorf("plan after drift: exit %d\n%s", code, out)
	}
	if code, _, _ = n.run("once"); code != 0 || len(n.ns.Link(t, "multinic1").Addrs) != 1 {
		t.Errorf("once after drift: exit %d, link %+v", code, n.ns.Link(t, "multinic1"))
	}
}

func TestExitCodes(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:02:01")
	n.db.AddRow(t, "node1", "fa:16:3e:00:02:01", "s4", "10.30.0.5", 1500)
	bad := n.db.AddRow(t, "node1", "fa:16:3e:00:02:02", "s4", "10.99.0.5", 1500)

	code, _, errOut := n.run("once")
	if code != 1 {
		t.Errorf("once with a bad row: exit %d, want 1 (%s)", code, errOut)
	}
	if n.db.Success(t, bad) != 0 {
		t.Error("bad row marked successful")
	}
	// The failed row is already at 0, so nothing would be written: plan
	// still says the node is not in sync, and exits 1.
	if code, out, _ := n.run("plan"); code != 1 || strings.Contains(out, "In sync") || !strings.Contains(out, "Not in sync: 1 of 2 rows cannot be applied now") {
		t.Errorf("plan with a row that cannot be applied: exit %d\n%s", code, out)
	}

	n.env = append(n.env, "POLL_INTERVAL=often")
	code, _, errOut = n.run("once")
	if code != 2 || !strings.Contains(errOut, `POLL_INTERVAL="often"`) {
		t.Errorf("bad config: exit %d, stderr %q", code, errOut)
	}
	n.env = n.env[:len(n.env)-1]

	n.env = append(n.env, "DB_NAME=no_such_db", "DB_PASSWORD=hunter2")
	code, out, errOut := n.run("once")
	if code != 2 || !strings.Contains(errOut, "no_such_db") {
		t.Errorf("unreachable DB: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(out+errOut, "hunter2") {
		t.Error("the password appeared in the output")
	}
	if code, _, _ = n.run("plan"); code != 1 {
		t.Errorf("plan with a DB error: exit %d, want 1", code)
	}
	n.env = n.env[:len(n.env)-2]

	// A second instance is refused while another holds the lock.
	lk, err := lock.Acquire(filepath.Join(n.root, "run/multinic-agent.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	code, _, errOut = n.run("once")
	if code != 2 || !strings.Contains(errOut, "another multinic-agent instance") {
		t.Errorf("second instance: exit %d, stderr %q", code, errOut)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.Contains(string(out), "multinic-agent") || !strings.Contains(string(out), "go1.") {
		t.Errorf("version: %v %s", err, out)
	}
	for _, c := range []string{"once", "plan"} {
		out, err := exec.Command(binary, c, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "-db-host") {
			t.Errorf("%s --help: %v %s", c, err, out)
		}
	}
	if err := exec.Command(binary, "bogus").Run(); err == nil {
		t.Error("an unknown command succeeded")
	}
}
