// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"os"
	"path/filepath"
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

// layOut makes the node's ROOT_DIR look like a real one: each path gets
// its content, or becomes a symlink for "-> TARGET" (systemctl enable).
func (n *node) layOut(files map[string]string) {
	n.t.Helper()
	for p, content := range files {
		full := filepath.Join(n.root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o755)
		}
		if err != nil {
			n.t.Fatal(err)
		}
	}
}

// netplanNode is what makes a root an Ubuntu server's: netplan installed,
// systemd-networkd enabled.
var netplanNode = map[string]string{
	"/usr/sbin/netplan": "netplan",
	"/etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "-> /lib/systemd/system/systemd-networkd.service",
}

// squash collapses runs of spaces, so checks do not depend on alignment.
func squash(s string) string { return regexp.MustCompile(` +`).ReplaceAllString(s, " ") }

func TestDoctor(t *testing.T) {
	n := newNode(t)
	n.layOut(netplanNode)
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
	for _, want := range []string{"PASS config file", "PASS database", "PASS grants", "PASS node rows 1 rows for node1.novalocal", "PASS os/backend", "PASS at boot the netplan files are read at the next boot", "PASS privileges", "PASS config dir", "PASS health port"} {
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

	// A config.env carried over from the previous agent: a WARN per key of
	// its own, and nothing fails because of them.
	n.writeConfig(0o600, append(base, "DB_PASSWORD=s3cret-pw", "NODE_NAME=node1.novalocal", "MAX_RETRIES=3", "RETRY_DELAY=2s", "COMMAND_TIMEOUT=30s", "BACKUP_DIR=/var/lib/multinic/backups")...)
	code, out, errOut = n.run("doctor")
	out = squash(out)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Errorf("previous agent's keys: exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, k := range []string{"MAX_RETRIES", "RETRY_DELAY", "COMMAND_TIMEOUT", "BACKUP_DIR"} {
		if !strings.Contains(out, "WARN config file "+k+" is a key of the previous multinic-agent, ignored") {
			t.Errorf("no WARN line for %s:\n%s", k, out)
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

// TestBackendWhoseFilesAreNotReadAtBoot is stock Debian 12 told to use
// networkd: ifupdown runs it, systemd-networkd is installed but disabled.
// The files would apply now but not after a reboot: the log warns once and
// doctor fails, naming the command that fixes it.
func TestBackendWhoseFilesAreNotReadAtBoot(t *testing.T) {
	n := newNode(t)
	n.layOut(map[string]string{
		"/etc/os-release":               "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		"/sbin/ifup":                    "ifup",
		"/lib/systemd/systemd-networkd": "networkd",
		"/etc/network/interfaces":       "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\nallow-hotplug ens3\niface ens3 inet dhcp\n",
		"/etc/systemd/system/multi-user.target.wants/networking.service": "-> /lib/systemd/system/networking.service",
	})
	n.setEnv("NETWORK_BACKEND=networkd")
	code, out, errOut := n.run("once")
	if code != 0 || strings.Count(out, "would not be read at the next boot") != 1 || !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "systemctl enable systemd-networkd.service") {
		t.Errorf("once: exit %d, want 0 and one WARN line naming the fix\n%s\n%s", code, out, errOut)
	}
	code, out, _ = n.run("doctor")
	if code != 1 || !strings.Contains(squash(out), "FAIL at boot systemd-networkd.service is not enabled") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
	// Left to choose, the agent picks what runs the node's network, and
	// says why (plan logs to stderr).
	n.setEnv("NETWORK_BACKEND=auto")
	_, _, errOut = n.run("plan")
	if !strings.Contains(errOut, `"backend":"ifupdown"`) || !strings.Contains(errOut, `"evidence":"ifupdown enabled`) {
		t.Errorf("plan with NETWORK_BACKEND=auto did not log ifupdown with its evidence:\n%s", errOut)
	}
}

// TestCloudInitClaimsARowsNIC is an Ubuntu node whose cloud-init netplan
// file also configures a NIC a row names: two configurations would fight
// over it, so the row fails naming the file, and doctor says it. A stale
// keyfile that nothing on this node reads is only noted.
func TestCloudInitClaimsARowsNIC(t *testing.T) {
	n := newNode(t)
	n.layOut(netplanNode)
	n.setEnv("NETWORK_BACKEND=auto")
	n.layOut(map[string]string{"/etc/os-release": "ID=ubuntu\nVERSION_ID=\"22.04\"\n"})
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0c:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:0c:02")
	fought := n.db.AddRow(t, "node1", "fa:16:3e:00:0c:01", "s4", "10.30.0.121", nil)
	noted := n.db.AddRow(t, "node1", "fa:16:3e:00:0c:02", "s4", "10.30.0.122", nil)
	n.layOut(map[string]string{
		"/etc/netplan/50-cloud-init.yaml":                         "network:\n    version: 2\n    ethernets:\n        ens4:\n            dhcp4: true\n            match:\n                macaddress: fa:16:3e:00:0c:01\n            set-name: ens4\n",
		"/etc/NetworkManager/system-connections/old.nmconnection": "[connection]\nid=old\ntype=ethernet\n\n[ethernet]\nmac-address=FA:16:3E:00:0C:02\n",
	})
	code, out, errOut := n.run("once")
	if code != 1 || !strings.Contains(out, "/etc/netplan/50-cloud-init.yaml (MAC fa:16:3e:00:0c:01, name ens4) is not the agent's and also configures this NIC") {
		t.Errorf("once: exit %d, want 1 with the row naming cloud-init's file\n%s\n%s", code, out, errOut)
	}
	if _, ok := n.ns.Find(t, "ens4"); !ok {
		t.Error("the fought-over NIC was changed")
	}
	if n.db.Success(t, fought) != 0 || n.db.Success(t, noted) != 1 {
		t.Errorf("netplan_success: fought-over row %d, noted row %d; want 0 and 1", n.db.Success(t, fought), n.db.Success(t, noted))
	}
	code, out, _ = n.run("plan")
	if !strings.Contains(out, "note: /etc/NetworkManager/system-connections/old.nmconnection (MAC fa:16:3e:00:0c:02) also configures this NIC, but does not take effect on this node") {
		t.Errorf("plan: exit %d, no note for the stale keyfile\n%s", code, out)
	}
	n.writeConfig(0o600, "DB_SOCKET="+n.db.Socket, "DB_USER=root", "DB_NAME="+n.db.Name, "NODE_NAME=node1")
	code, out, _ = n.run("doctor")
	out = squash(out)
	if code != 1 || !strings.Contains(out, "FAIL other configs row 1 (multinic0): /etc/netplan/50-cloud-init.yaml") || !strings.Contains(out, "WARN other configs row 2 (multinic1): /etc/NetworkManager/system-connections/old.nmconnection") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
}
