// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// setEnv replaces or adds KEY=VALUE in the node's environment.
func (n *node) setEnv(kv ...string) {
	for _, e := range kv {
		key, _, _ := strings.Cut(e, "=")
		replaced := false
		for k, cur := range n.env {
			if strings.HasPrefix(cur, key+"=") {
				n.env[k], replaced = e, true
			}
		}
		if !replaced {
			n.env = append(n.env, e)
		}
	}
}

// tool runs a command inside the namespace with the node's environment.
func (n *node) tool(name string, args ...string) string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.ns.Exec(ctx, n.env, name, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (n *node) once() {
	n.t.Helper()
	if code, out, errOut := n.run("once"); code != 0 {
		n.t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestKeyfileBackendOnNetworkManager(t *testing.T) {
	n := newNode(t)
	n.setEnv(append(n.ns.StartNetworkManager(t, n.root), "NETWORK_BACKEND=keyfile")...)
	n.db.AddSubnet(t, "s6", "2001:db8:5::/64")
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:05:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:05:02")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:05:01", "s4", "10.30.0.51", 1450)
	n.db.AddRow(t, "node1", "fa:16:3e:00:05:02", "s6", "2001:db8:5::52", nil)

	n.once()
	active := n.tool("nmcli", "-t", "-f", "NAME,DEVICE,STATE", "connection", "show", "--active")
	for _, want := range []string{"multinic0:multinic0:activated", "multinic1:multinic1:activated"} {
		if !strings.Contains(active, want) {
			t.Errorf("NetworkManager does not have %s active:\n%s", want, active)
		}
	}
	if got := n.tool("nmcli", "-g", "802-3-ethernet.mtu,ipv4.addresses,802-3-ethernet.mac-address", "connection", "show", "multinic0"); got != `1450
10.30.0.51/24
FA\:16\:3E\:00\:05\:01` {
		t.Errorf("NetworkManager's profile multinic0: %q", got)
	}
	if got := n.tool("nmcli", "-g", "ipv6.addresses", "connection", "show", "multinic1"); got != `2001\:db8\:5\:\:52/64` {
		t.Errorf("NetworkManager's profile multinic1 ipv6: %q", got)
	}
	st, err := os.Stat(filepath.Join(n.root, "etc/NetworkManager/system-connections/multinic0.nmconnection"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("keyfile: %v mode %v", err, st)
	}
	if _, err := os.Stat(filepath.Join(n.root, "etc/systemd/network/70-multinic0.link")); err != nil {
		t.Errorf("no .link file to keep the name across a reboot: %v", err)
	}

	// NetworkManager itself applies the profile: remove the address by
	// hand and let NetworkManager (not the agent) bring the profile up.
	n.ns.IP(t, "addr", "flush", "dev", "multinic0")
	n.tool("nmcli", "--wait", "30", "connection", "up", "multinic0")
	if l := n.ns.Link(t, "multinic0"); len(l.Addrs) != 1 || l.Addrs[0].String() != "10.30.0.51/24" || l.MTU != 1450 {
		t.Errorf("NetworkManager did not apply the agent's profile: %+v", l)
	}

	// A changed MTU in the database: plan shows the keyfile diff, once applies it.
	n.db.Exec(t, "UPDATE multi_interface SET mtu=1300 WHERE id=?", id)
	code, out, _ := n.run("plan")
	if code != 2 || !strings.Contains(out, "rewrite /etc/NetworkManager/system-connections/multinic0.nmconnection") ||
		!strings.Contains(out, "-mtu=1450") || !strings.Contains(out, "+mtu=1300") {
		t.Errorf("plan: exit %d\n%s", code, out)
	}
	n.once()
	if got := n.tool("nmcli", "-g", "802-3-ethernet.mtu", "connection", "show", "multinic0"); got != "1300" || n.ns.Link(t, "multinic0").MTU != 1300 {
		t.Errorf("after the MTU change: profile mtu %q, link mtu %d", got, n.ns.Link(t, "multinic0").MTU)
	}

	// The row goes: after two reads the profile is unloaded and the file gone.
	n.db.Exec(t, "DELETE FROM multi_interface WHERE id=?", id)
	n.once()
	n.once()
	if out := n.tool("nmcli", "-t", "-f", "NAME", "connection", "show"); strings.Contains(out, "multinic0") {
		t.Errorf("NetworkManager still has the removed profile:\n%s", out)
	}
	if l := n.ns.Link(t, "multinic0"); len(l.Addrs) != 0 || l.Up {
		t.Errorf("removed interface not cleaned: %+v", l)
	}
}

func TestNetworkdBackendOnNetworkd(t *testing.T) {
	n := newNode(t)
	n.setEnv(append(n.ns.StartNetworkd(t, n.root), "NETWORK_BACKEND=networkd")...)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:06:01")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:06:01", "s4", "10.30.0.61", 1450)

	n.once()
	l := n.ns.Link(t, "multinic0")
	// networkctl reload returns before networkd has reconfigured the link.
	eventually(t, 10*time.Second, "networkd configured multinic0 with the agent's file", func() bool {
		st := testenv.NetworkdLinkState(t, n.root, l.Index)
		return st["NETWORK_FILE"] == "/etc/systemd/network/70-multinic0.network" && st["ADMIN_STATE"] == "configured"
	})

	// networkd itself applies the file (its [Match] takes the veth): remove
	// the address and MTU by hand and let networkd reconfigure the link.
	n.ns.IP(t, "addr", "del", "10.30.0.61/24", "dev", "multinic0")
	n.ns.IP(t, "link", "set", "multinic0", "mtu", "1500")
	n.tool("networkctl", "reconfigure", "multinic0")
	eventually(t, 10*time.Second, "networkd reapplied the agent's file", func() bool {
		l := n.ns.Link(t, "multinic0")
		return len(l.Addrs) == 1 && l.Addrs[0].String() == "10.30.0.61/24" && l.MTU == 1450
	})

	n.db.Exec(t, "UPDATE multi_interface SET mtu=1400 WHERE id=?", id)
	n.once()
	if n.ns.Link(t, "multinic0").MTU != 1400 {
		t.Error("changed MTU not applied")
	}
	n.tool("networkctl", "reconfigure", "multinic0")
	time.Sleep(500 * time.Millisecond)
	if mtu := n.ns.Link(t, "multinic0").MTU; mtu != 1400 {
		t.Errorf("networkd was not reloaded with the new file: it set MTU %d", mtu)
	}
}
