// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// dbUser creates a MariaDB user with exactly the agent's grants on the
// node's database; it is dropped when the test ends.
func (n *node) dbUser(name, password string, update bool) {
	n.t.Helper()
	n.db.Exec(n.t, "CREATE USER '"+name+"'@'localhost' IDENTIFIED BY '"+password+"'")
	n.t.Cleanup(func() { n.db.DB.Exec("DROP USER '" + name + "'@'localhost'") })
	n.db.Exec(n.t, "GRANT SELECT ON "+n.db.Name+".multi_interface TO '"+name+"'@'localhost'")
	n.db.Exec(n.t, "GRANT SELECT ON "+n.db.Name+".multi_subnet TO '"+name+"'@'localhost'")
	if update {
		n.db.Exec(n.t, "GRANT UPDATE (netplan_success) ON "+n.db.Name+".multi_interface TO '"+name+"'@'localhost'")
	}
}

// writeConfig replaces the node's config file; settings in it (not in the
// environment) are what an operator's /etc/multinic-agent/config.env holds.
func (n *node) writeConfig(mode os.FileMode, lines ...string) {
	n.t.Helper()
	if err := os.WriteFile(n.conf, []byte(strings.Join(lines, "\n")+"\n"), mode); err != nil {
		n.t.Fatal(err)
	}
	os.Chmod(n.conf, mode)
	var env []string
	for _, e := range n.env {
		if !strings.HasPrefix(e, "DB_") && !strings.HasPrefix(e, "NODE_NAME=") {
			env = append(env, e)
		}
	}
	n.env = env
}

// squash collapses runs of spaces, so checks do not depend on alignment.
func squash(s string) string { return regexp.MustCompile(` +`).ReplaceAllString(s, " ") }

func TestDoctor(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0b:01")
	n.db.AddRow(t, "node1.novalocal", "fa:16:3e:00:0b:01", "s4", "10.30.0.111", nil)
	user := "mnt_doc" + strings.TrimPrefix(n.db.Name, "mnt_")
	n.dbUser(user, "s3cret-pw", true)
	base := []string{"DB_SOCKET=" + n.db.Socket, "DB_USER=" + user, "DB_NAME=" + n.db.Name}

	n.writeConfig(0o600, append(base, "DB_PASSWORD=s3cret-pw", "NODE_NAME=node1.novalocal")...)
	code, out, errOut := n.run("doctor")
	out = squash(out)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("healthy node: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"PASS config file", "PASS database", "PASS grants", "PASS node rows 1 rows for node1.novalocal", "PASS os/backend", "PASS privileges", "PASS config dir", "PASS health port"} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy node: no %q line:\n%s", want, out)
		}
	}

	cases := []struct {
		name  string
		mode  os.FileMode
		lines []string
		want  string
	}{
		{"wrong password", 0o600, append(base, "DB_PASSWORD=wrong-pw", "NODE_NAME=node1.novalocal"), "(using password: YES); check DB_USER and DB_PASSWORD\n"},
		{"node name without rows", 0o600, append(base, "DB_PASSWORD=s3cret-pw", "NODE_NAME=node1"), `FAIL node rows no rows for node1; names in the table that look close: "node1.novalocal"`},
		{"readable config", 0o644, append(base, "DB_PASSWORD=s3cret-pw", "NODE_NAME=node1.novalocal"), "is mode 0644 and holds DB_PASSWORD: run chmod 600"},
		{"misspelt key", 0o600, append(base, "DB_PASSWORD=s3cret-pw", "NODE_NAME=node1.novalocal", "POLL_INTERVALL=10s"), "unknown keys POLL_INTERVALL"},
	}
	for _, c := range cases {
		n.writeConfig(c.mode, c.lines...)
		code, out, _ := n.run("doctor")
		out = squash(out)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s", c.name, code, c.want, out)
		}
		if strings.Contains(out, "s3cret-pw") || strings.Contains(out, "wrong-pw") {
			t.Errorf("%s: the password is in the output", c.name)
		}
	}

	// A user without the UPDATE grant is told what to grant.
	n.dbUser(user+"r", "pw2", false)
	n.writeConfig(0o600, "DB_SOCKET="+n.db.Socket, "DB_USER="+user+"r", "DB_PASSWORD=pw2", "DB_NAME="+n.db.Name, "NODE_NAME=node1.novalocal")
	if code, out, _ := n.run("doctor"); code != 1 || !strings.Contains(squash(out), "FAIL grants") || !strings.Contains(out, "UPDATE (netplan_success)") {
		t.Errorf("missing grant: exit %d\n%s", code, out)
	}
}

func TestStatus(t *testing.T) {
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0c:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:0c:02")
	n.db.AddRow(t, "node1", "fa:16:3e:00:0c:01", "s4", "10.30.0.121", 9000)
	n.db.AddRow(t, "node1", "fa:16:3e:00:0c:02", "s4", "10.30.0.122", nil)
	n.db.AddRow(t, "node1", "fa:16:3e:00:0c:03", "s4", "10.30.0.123", nil)
	n.db.AddRow(t, "node1", "fa:16:3e:00:0c:04", "s4", "10.99.0.1", nil)

	code, out, errOut := n.run("status")
	if code != 1 || !strings.Contains(out, "pending") || !strings.Contains(out, "nic-missing") || !strings.Contains(out, "outside its subnet") {
		t.Fatalf("before: exit %d\n%s%s", code, out, errOut)
	}
	n.run("once")
	n.ns.IP(t, "link", "set", "multinic1", "mtu", "1400")
	n.db.Exec(t, "DELETE FROM multi_interface WHERE macaddress IN ('fa:16:3e:00:0c:03', 'fa:16:3e:00:0c:04')")
	code, out, _ = n.run("status")
	lines := strings.Split(out, "\n")
	var row1, row2 string
	for _, l := range lines {
		if strings.Contains(l, "fa:16:3e:00:0c:01") {
			row1 = l
		}
		if strings.Contains(l, "fa:16:3e:00:0c:02") {
			row2 = l
		}
	}
	if code != 0 || !strings.Contains(row1, "multinic0") || !strings.Contains(row1, "multinic0 up mtu 9000 10.30.0.121/24") || !strings.HasSuffix(strings.TrimSpace(row1), "configured") {
		t.Errorf("row 1: exit %d %q\n%s", code, row1, out)
	}
	// Row 2 has no MTU of its own: a hand-set MTU is not drift.
	if !strings.HasSuffix(strings.TrimSpace(row2), "configured") {
		t.Errorf("row 2: %q", row2)
	}
	n.ns.IP(t, "addr", "flush", "dev", "multinic0")
	if code, out, _ := n.run("status"); code != 1 || !strings.Contains(out, "drifted") || !strings.Contains(out, "pending: add address 10.30.0.121/24") {
		t.Errorf("drift: exit %d\n%s", code, out)
	}
}
