// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func TestManagedNICsNeverLearnFromRouterAdvertisements(t *testing.T) {
	n := newNode(t)
	router := testenv.NewNetns(t)
	// eth9 is a NIC no row names: the kernel's defaults let it learn, which
	// shows that the advertisements are good ones.
	n.ns.AddNICToward(t, "eth1", "fa:16:3e:00:09:01", router, "r1")
	n.ns.AddNICToward(t, "eth9", "fa:16:3e:00:09:09", router, "r9")
	n.ns.IP(t, "link", "set", "eth9", "up")
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:09:01", "s4", "10.30.0.91", 1500)
	n.once()
	for _, key := range []string{"accept_ra", "autoconf"} {
		if got := n.tool("sysctl", "-n", "net.ipv6.conf.multinic0."+key); got != "0" {
			t.Errorf("multinic0 %s is %s, want 0", key, got)
		}
	}

	prefix := netip.MustParsePrefix("2001:db8:99::/64")
	learnt := func(dev string) string {
		return n.tool("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "global") + n.tool("ip", "-6", "route", "show", "dev", dev)
	}
	testenv.WaitFor(t, 10*time.Second, "the unmanaged NIC learns from the advertisements", func() bool {
		n.router(router, prefix)
		out := learnt("eth9")
		return strings.Contains(out, "2001:db8:99:") && strings.Contains(out, "default via fe80::")
	})
	if out := learnt("multinic0"); strings.Contains(out, "2001:db8:99:") || strings.Contains(out, "default") {
		t.Fatalf("multinic0 learnt from the router advertisements:\n%s", out)
	}

	// A row change after the advertisements applies.
	n.db.Exec(t, "UPDATE multi_interface SET mtu = 1400 WHERE id = ?", id)
	n.once()
	if mtu := n.ns.Link(t, "multinic0").MTU; mtu != 1400 {
		t.Errorf("the row's new MTU did not apply: %d", mtu)
	}

	// A default route that arrives on the agent's NIC anyway does not lock
	// the agent out of it.
	n.ns.IP(t, "route", "add", "default", "via", "10.30.0.1", "dev", "multinic0")
	n.db.Exec(t, "UPDATE multi_interface SET mtu = 1300 WHERE id = ?", id)
	n.once()
	if mtu := n.ns.Link(t, "multinic0").MTU; mtu != 1300 {
		t.Errorf("with a default route on multinic0 the row's new MTU did not apply: %d", mtu)
	}
	if code, out, _ := n.run("plan"); code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("plan: exit %d\n%s", code, out)
	}
}

// router sends a router advertisement on each of the router's ports.
func (n *node) router(r *testenv.Netns, prefix netip.Prefix) {
	for _, port := range []string{"r1", "r9"} {
		r.SendRouterAdvertisement(n.t, port, prefix)
	}
}
