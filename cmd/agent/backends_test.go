// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
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

	// A changed MTU in the database: plan shows the keyfile diff, once applies
	// it, and NetworkManager reapplies the active profile in place: the
	// address never leaves the link.
	flaps := n.ns.WatchFlaps(t)
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
	if got := n.tool("nmcli", "-g", "GENERAL.STATE", "connection", "show", "multinic0"); got != "activated" {
		t.Errorf("after the MTU change the profile is %q", got)
	}
	time.Sleep(300 * time.Millisecond)
	if ev := flaps.Events(); len(ev) > 0 {
		t.Errorf("the MTU change interrupted traffic: %v", ev)
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
	testenv.WaitFor(t, 10*time.Second, "networkd configured multinic0 with the agent's file", func() bool {
		st := testenv.NetworkdLinkState(t, n.root, l.Index)
		return st["NETWORK_FILE"] == "/etc/systemd/network/70-multinic0.network" && st["ADMIN_STATE"] == "configured"
	})

	// networkd itself applies the file (its [Match] takes the veth): remove
	// the address and MTU by hand and let networkd reconfigure the link.
	n.ns.IP(t, "addr", "del", "10.30.0.61/24", "dev", "multinic0")
	n.ns.IP(t, "link", "set", "multinic0", "mtu", "1500")
	n.tool("networkctl", "reconfigure", "multinic0")
	testenv.WaitFor(t, 10*time.Second, "networkd reapplied the agent's file", func() bool {
		l := n.ns.Link(t, "multinic0")
		return len(l.Addrs) == 1 && l.Addrs[0].String() == "10.30.0.61/24" && l.MTU == 1450
	})

	// The changed file's reload keeps the address (networkd.KeepStatic).
	flaps := n.ns.WatchFlaps(t)
	n.db.Exec(t, "UPDATE multi_interface SET mtu=1400 WHERE id=?", id)
	n.once()
	if n.ns.Link(t, "multinic0").MTU != 1400 {
		t.Error("changed MTU not applied")
	}
	// networkd puts a removed address back within about 100 ms.
	time.Sleep(500 * time.Millisecond)
	if ev := flaps.Events(); len(ev) > 0 {
		t.Errorf("the reload of the changed file interrupted traffic: %v", ev)
	}
	n.tool("networkctl", "reconfigure", "multinic0")
	time.Sleep(500 * time.Millisecond)
	if mtu := n.ns.Link(t, "multinic0").MTU; mtu != 1400 {
		t.Errorf("networkd was not reloaded with the new file: it set MTU %d", mtu)
	}
}

// TestIfupdownBackendOnIfupdown runs Debian's ifupdown on the agent's
// files: at each change (ifup of that interface only, nothing taken down),
// and as a boot would, from the files alone.
func TestIfupdownBackendOnIfupdown(t *testing.T) {
	testenv.RequireTool(t, "ifup")
	n := newNode(t)
	n.setEnv("NETWORK_BACKEND=ifupdown")
	interfaces := filepath.Join(n.root, "etc/network/interfaces")
	n.layOut(map[string]string{
		// The test's root stands for /: its interfaces file sources the
		// root's interfaces.d, as stock Debian's sources /etc/network/interfaces.d.
		"/etc/network/interfaces": "source " + filepath.Join(n.root, "etc/network/interfaces.d") + "/*\nauto lo\niface lo inet loopback\n",
		"/run/network/ifstate":    "",
	})
	n.db.AddSubnet(t, "s6", "2001:db8:8::/64")
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:08:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:08:02")
	n.ns.AddNIC(t, "ens6", "fa:16:3e:00:08:03")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:08:01", "s4", "10.30.0.81", 1450)
	gone := n.db.AddRow(t, "node1", "fa:16:3e:00:08:02", "s6", "2001:db8:8::82", 1400)
	n.db.AddRow(t, "node1", "fa:16:3e:00:08:03", "s4", nil, 1500)
	if code, out, errOut := n.run("once"); code != 0 || !strings.Contains(out, `"msg":"activated","backend":"ifupdown"`) {
		t.Fatalf("once: exit %d, or ifupdown did not activate\n%s\n%s", code, out, errOut)
	}
	want := map[string][2]string{"multinic0": {"1450", "10.30.0.81/24"}, "multinic1": {"1400", "2001:db8:8::82/64"}, "multinic2": {"1500", ""}}
	check := func(when string) {
		t.Helper()
		for name, w := range want {
			l := n.ns.Link(t, name)
			var addrs []string
			for _, a := range l.Addrs {
				addrs = append(addrs, a.String())
			}
			if strconv.Itoa(l.MTU) != w[0] || strings.Join(addrs, " ") != w[1] || !l.Up {
				t.Errorf("%s: %s: mtu %d, addresses %v, up %v; want mtu %s, %q, up", when, name, l.MTU, addrs, l.Up, w[0], w[1])
			}
			if ra := n.tool("sysctl", "-n", "net.ipv6.conf."+name+".accept_ra", "net.ipv6.conf."+name+".autoconf"); ra != "0\n0" {
				t.Errorf("%s: %s learns from router advertisements: %q", when, name, ra)
			}
		}
	}
	check("after once")
	for name := range want {
		if st, _ := os.ReadFile(filepath.Join(n.root, "run/network/ifstate."+name)); strings.TrimSpace(string(st)) != name {
			t.Errorf("ifupdown does not hold %s as up after the activation: %q", name, st)
		}
	}

	// A boot: the NICs come back as the kernel makes them, and ifupdown
	// alone (hotplug class, as udev runs it) configures them from the files.
	for name := range want {
		n.ns.IP(t, "link", "set", name, "down")
		n.ns.IP(t, "addr", "flush", "dev", name, "scope", "global")
		n.ns.IP(t, "link", "set", name, "mtu", "1500")
		n.tool("sysctl", "-q", "-w", "net.ipv6.conf."+name+".accept_ra=1", "net.ipv6.conf."+name+".autoconf=1")
	}
	boot := t.TempDir()
	for name := range want {
		n.tool("ifup", "--no-scripts", "--allow", "hotplug", "-i", interfaces, "--state-dir", boot, name)
	}
	check("after ifupdown alone brought them up")

	// A change to a row: ifup of that interface, and no address leaves a link.
	n.once()
	flaps := n.ns.WatchFlaps(t)
	n.db.Exec(t, "UPDATE multi_interface SET mtu = 1300 WHERE id = ?", id)
	n.once()
	want["multinic0"] = [2]string{"1300", "10.30.0.81/24"}
	check("after an MTU change")
	time.Sleep(300 * time.Millisecond)
	if ev := flaps.Events(); len(ev) > 0 {
		t.Errorf("the MTU change interrupted traffic: %v", ev)
	}
	if out := n.tool("ifquery", "-i", interfaces, "multinic0"); !strings.Contains(out, "mtu: 1300") {
		t.Errorf("ifupdown reads the old file:\n%s", out)
	}

	// A row goes: its file is removed and ifupdown forgets the interface.
	n.db.Exec(t, "DELETE FROM multi_interface WHERE id = ?", gone)
	n.once()
	n.once()
	if _, err := os.Stat(filepath.Join(n.root, "etc/network/interfaces.d/multinic1")); err == nil {
		t.Error("the removed row's file is still there")
	}
	if st, _ := os.ReadFile(filepath.Join(n.root, "run/network/ifstate.multinic1")); strings.TrimSpace(string(st)) != "" {
		t.Errorf("ifupdown still holds the removed interface: %q", st)
	}
}

// TestKeyfileEditedThroughNetworkManager edits the agent's profile with
// nmcli, as an operator or Cockpit would: NetworkManager rewrites the
// keyfile without its comments. The file stays the agent's; a changed
// setting is put back, a rewrite that changes nothing is left alone.
func TestKeyfileEditedThroughNetworkManager(t *testing.T) {
	n := newNode(t)
	n.setEnv(append(n.ns.StartNetworkManager(t, n.root), "NETWORK_BACKEND=keyfile")...)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:0e:01")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:0e:01", "s4", "10.30.0.141", 1450)
	n.once()
	path := filepath.Join(n.root, "etc/NetworkManager/system-connections/multinic0.nmconnection")

	n.tool("nmcli", "connection", "modify", "multinic0", "ipv4.dns", "10.0.0.53")
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(netconf.Marker)) || !bytes.Contains(data, []byte("dns=10.0.0.53")) {
		t.Fatalf("NetworkManager did not rewrite the keyfile as expected; the test proves nothing:\n%s", data)
	}
	code, out, _ := n.run("plan")
	if code != 2 || !strings.Contains(out, "rewrite /etc/NetworkManager/system-connections/multinic0.nmconnection") || strings.Contains(out, "not written by multinic-agent") {
		t.Errorf("plan after the edit: exit %d\n%s", code, out)
	}
	n.once()
	if n.db.Success(t, id) != 1 {
		t.Error("the row failed after NetworkManager rewrote its keyfile")
	}
	if data, _ := os.ReadFile(path); !bytes.HasPrefix(data, []byte(netconf.Marker)) || bytes.Contains(data, []byte("dns")) {
		t.Errorf("the edited keyfile was not put back:\n%s", data)
	}
	if dns := n.tool("nmcli", "-g", "ipv4.dns", "connection", "show", "multinic0"); dns != "" {
		t.Errorf("NetworkManager still has the DNS server: %q", dns)
	}

	// Two edits that cancel out: NetworkManager's layout, the agent's settings.
	n.tool("nmcli", "connection", "modify", "multinic0", "ipv4.dns", "10.0.0.53")
	n.tool("nmcli", "connection", "modify", "multinic0", "ipv4.dns", "")
	data, _ = os.ReadFile(path)
	if bytes.Contains(data, []byte(netconf.Marker)) {
		t.Fatalf("NetworkManager kept the comment; the test proves nothing:\n%s", data)
	}
	updates := n.db.Updates(t)
	if code, out, _ := n.run("plan"); code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("plan after a rewrite that changes nothing: exit %d\n%s\n%s", code, out, data)
	}
	n.once()
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) || n.db.Updates(t) != updates {
		t.Errorf("a rewrite that changes nothing was rewritten (or the row written):\n%s", again)
	}
}
