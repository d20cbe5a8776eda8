// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// AddNICToward creates a NIC called name with the given MAC in n whose
// veth peer, called peer, sits in other, up and with an IPv6 link-local
// address usable at once (no duplicate address detection), as a router's
// port on the NIC's network would be.
func (n *Netns) AddNICToward(t testing.TB, name, mac string, other *Netns, peer string) {
	t.Helper()
	n.IP(t, "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer, "netns", other.Name)
	other.Sysctl(t, "net.ipv6.conf."+peer+".accept_dad", "0")
	other.IP(t, "link", "set", peer, "up")
}

// Sysctl sets a kernel setting inside the namespace.
func (n *Netns) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	if err := n.Do(func() error { return writeSysctl(key, value) }); err != nil {
		t.Fatal(err)
	}
}

// SendRouterAdvertisement sends, from the namespace's link ifname, one
// router advertisement to all nodes (ff02::1): this router as a default
// router for 30 minutes and prefix for stateless address
// autoconfiguration, as radvd would.
func (n *Netns) SendRouterAdvertisement(t testing.TB, ifname string, prefix netip.Prefix) {
	t.Helper()
	body := make([]byte, 12+32)
	body[0] = 64                               // current hop limit
	binary.BigEndian.PutUint16(body[2:], 1800) // router lifetime
	opt := body[12:]                           // prefix information
	opt[0], opt[1], opt[2] = 3, 4, byte(prefix.Bits())
	opt[3] = 0xc0                              // on-link, autonomous
	binary.BigEndian.PutUint32(opt[4:], 86400) // valid lifetime
	binary.BigEndian.PutUint32(opt[8:], 14400) // preferred lifetime
	copy(opt[16:], prefix.Addr().AsSlice())
	msg, err := (&icmp.Message{Type: ipv6.ICMPTypeRouterAdvertisement, Body: &icmp.RawBody{Data: body}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		defer c.Close()
		p := ipv6.NewPacketConn(c)
		// Hosts drop advertisements that did not come with hop limit 255.
		if err := p.SetMulticastHopLimit(255); err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		// The kernel fills in the ICMPv6 checksum.
		_, err = p.WriteTo(msg, nil, &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: ifname})
		return err
	})
	if err != nil {
		t.Fatalf("sending a router advertisement on %s: %v", ifname, err)
	}
}

// writeSysctl writes /proc/sys/KEY (dots as slashes) in the calling
// thread's network namespace.
func writeSysctl(key, value string) error {
	return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0o644)
}
