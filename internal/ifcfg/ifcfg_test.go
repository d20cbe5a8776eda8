// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifcfg

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/envfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func TestRenderGolden(t *testing.T) { netconftest.Golden(t, Backend{}) }

func TestRoundTrip(t *testing.T) { netconftest.RoundTrip(t, Backend{}, nil) }

func TestRejectsDamage(t *testing.T) {
	netconftest.RejectsDamage(t, Backend{}, map[string][2]string{
		"other device": {"DEVICE=multinic0", "DEVICE=eth0"},
		"bad hwaddr":   {"HWADDR=fa:16:3e:00:00:01", "HWADDR=nope"},
		"bad address":  {"IPADDR=10.20.0.11", "IPADDR=10.20.0.300"},
		"bad prefix":   {"PREFIX=24", "PREFIX=40"},
		"bad mtu":      {"MTU=9000", "MTU=jumbo"},
		"bad quoting":  {"NAME=multinic0", "NAME='multinic0"},
	})
}

// TestFieldsAsSpecified reads the file the way initscripts and
// NetworkManager's ifcfg-rh plugin do (shell KEY=VALUE) and checks the
// keys SPEC section 5 lists.
func TestFieldsAsSpecified(t *testing.T) {
	f := Backend{}.Render(netconftest.Samples["ipv4-mtu"])
	if len(f) != 1 || f[0].Path != "/etc/sysconfig/network-scripts/ifcfg-multinic0" || f[0].Mode != 0o644 {
		t.Fatalf("files %+v", f)
	}
	v, err := envfile.Parse(f[0].Path, f[0].Content)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"DEVICE": "multinic0", "NAME": "multinic0", "TYPE": "Ethernet", "ONBOOT": "yes",
		"BOOTPROTO": "none", "IPADDR": "10.20.0.11", "PREFIX": "24", "MTU": "9000", "HWADDR": "fa:16:3e:00:00:01"} {
		if v[k] != want {
			t.Errorf("%s=%q, want %q", k, v[k], want)
		}
	}
	v6 := Backend{}.Render(netconftest.Samples["ipv6"])[0]
	if !strings.Contains(string(v6.Content), "IPV6ADDR=2001:db8:1::11/64\n") || strings.Contains(string(v6.Content), "IPADDR=") {
		t.Errorf("IPv6 file:\n%s", v6.Content)
	}
}

func TestAdoptsPreviousAgentFiles(t *testing.T) {
	netconftest.AdoptsPrevious(t, Backend{}, netconftest.PreviousIfcfg, []netconftest.PreviousFile{
		{
			Path: "/etc/sysconfig/network-scripts/ifcfg-multinic1",
			Desc: netconftest.Previous{Name: "multinic1", MAC: "FA:16:3E:00:00:01", Addr: "10.20.0.11/24", MTU: 9000},
			Want: netconf.Iface{Name: "multinic1", MAC: "fa:16:3e:00:00:01", Addr: netip.MustParsePrefix("10.20.0.11/24"), MTU: 9000},
		},
		{
			Path: "/etc/sysconfig/network-scripts/ifcfg-multinic3",
			Desc: netconftest.Previous{Name: "multinic3", MAC: "fa:16:3e:00:00:03", MTU: 1500},
			Want: netconf.Iface{Name: "multinic3", MAC: "fa:16:3e:00:00:03", MTU: 1500},
		},
	}, map[string][2]string{
		"gateway":      {"PREFIX=24", "PREFIX=24\nGATEWAY=10.20.0.1"},
		"dns":          {"PREFIX=24", "PREFIX=24\nDNS1=10.0.0.53"},
		"a comment":    {"TYPE=Ethernet", "TYPE=Ethernet\n# by hand"},
		"dhcp":         {"BOOTPROTO=none", "BOOTPROTO=dhcp"},
		"onboot no":    {"ONBOOT=yes", "ONBOOT=no"},
		"other device": {"DEVICE=multinic1", "DEVICE=eth1"},
		"other name":   {"NAME=multinic1", "NAME=System eth1"},
		"prefix alone": {"IPADDR=10.20.0.11\n", ""},
		"bad mac":      {"fa:16:3e:00:00:01", "zz"},
		"bad mtu":      {"MTU=9000", "MTU=big"},
		"unparsable":   {"TYPE=Ethernet", "TYPE Ethernet"},
		"another type": {"TYPE=Ethernet", "TYPE=Bond"},
	})
}
