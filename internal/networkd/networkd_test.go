// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package networkd

import (
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func TestRenderGolden(t *testing.T) { netconftest.Golden(t, Backend{}) }

func TestRoundTrip(t *testing.T) {
	netconftest.RoundTrip(t, Backend{}, func(p string) bool { return strings.HasSuffix(p, ".link") })
}

func TestRejectsDamage(t *testing.T) {
	// Render's first file is the .link.
	netconftest.RejectsDamage(t, Backend{}, map[string][2]string{
		"other name": {"Name=multinic0", "Name=eth0"},
		"bad mac":    {"MACAddress=fa:16:3e:00:00:01", "MACAddress=zz"},
		"no mac":     {"MACAddress=fa:16:3e:00:00:01", "Driver=virtio_net"},
	})
	f := Backend{}.Render(netconftest.Samples["ipv4-mtu"])[1]
	for what, e := range map[string][2]string{
		"bad address": {"Address=10.20.0.11/24", "Address=10.20.0.11/99"},
		"bad mtu":     {"MTUBytes=9000", "MTUBytes=huge"},
		"other name":  {"Name=multinic0", "Name=eth1"},
	} {
		if _, err := (Backend{}).Parse(f.Path, []byte(strings.Replace(string(f.Content), e[0], e[1], 1))); err == nil {
			t.Errorf(".network with %s parsed", what)
		}
	}
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/systemd/network/70-multinic3.link":    "multinic3",
		"/etc/systemd/network/70-multinic3.network": "multinic3",
		"/etc/systemd/network/10-netplan-x.network": "",
		"/etc/systemd/network/70-multinic3.netdev":  "",
	} {
		if got, _ := (Backend{}).Owns(path); got != want {
			t.Errorf("Owns(%s) = %q, want %q", path, got, want)
		}
	}
}
