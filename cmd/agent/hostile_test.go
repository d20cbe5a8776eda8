package main

import (
	"strings"
	"testing"
	"time"
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
	if out := d.out.String(); strings.Contains(out, "S3cr3t") || !strings.Contains(out, "line 5") {
		t.Errorf("run:\n%s", out)
	}
}
