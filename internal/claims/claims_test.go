// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package claims

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, path, content string
		want                []Claim
	}{
		{"cloud-init's netplan file, by MAC", "/etc/netplan/50-cloud-init.yaml",
			"network:\n    version: 2\n    ethernets:\n        ens4:\n            dhcp4: true\n            match:\n                macaddress: FA:16:3E:00:00:01\n            set-name: ens4\n",
			[]Claim{{Path: "/etc/netplan/50-cloud-init.yaml", Family: Netplan, MAC: "fa:16:3e:00:00:01", Name: "ens4"}}},
		{"a netplan entry without match is its interface's name", "/etc/netplan/01-static.yaml",
			"network:\n  version: 2\n  ethernets:\n    multinic0:\n      addresses: [10.0.0.5/24]\n",
			[]Claim{{Path: "/etc/netplan/01-static.yaml", Family: Netplan, Name: "multinic0"}}},
		{"a .network matching names", "/etc/systemd/network/10-dhcp.network",
			"[Match]\nName=en* multinic*\n\n[Network]\nDHCP=yes\n",
			[]Claim{{Path: "/etc/systemd/network/10-dhcp.network", Family: Networkd, Name: "en*"}, {Path: "/etc/systemd/network/10-dhcp.network", Family: Networkd, Name: "multinic*"}}},
		{"a .link naming a MAC", "/etc/systemd/network/10-persistent-net.link",
			"[Match]\nMACAddress=fa:16:3e:00:00:01\n\n[Link]\nName=eth1\n",
			[]Claim{{Path: "/etc/systemd/network/10-persistent-net.link", Family: Link, MAC: "fa:16:3e:00:00:01"}, {Path: "/etc/systemd/network/10-persistent-net.link", Family: Link, Name: "eth1"}}},
		{"cloud-init's keyfile", "/etc/NetworkManager/system-connections/cloud-init-eth1.nmconnection",
			"[connection]\nid=cloud-init eth1\ntype=ethernet\n\n[ethernet]\nmac-address=FA:16:3E:00:00:01\n\n[ipv4]\nmethod=auto\n",
			[]Claim{{Path: "/etc/NetworkManager/system-connections/cloud-init-eth1.nmconnection", Family: Keyfile, MAC: "fa:16:3e:00:00:01"}}},
		{"the agent's keyfile that NetworkManager rewrote", "/etc/NetworkManager/system-connections/multinic0.nmconnection",
			"[connection]\nid=multinic0\ninterface-name=multinic0\n\n[ethernet]\nmac-address=FA:16:3E:00:00:01\n\n[user]\nmultinic-agent.managed=row 1\n", nil},
		{"an ifcfg file", "/etc/sysconfig/network-scripts/ifcfg-eth1",
			"DEVICE=eth1\nHWADDR=fa:16:3e:00:00:01\nBOOTPROTO=dhcp\nONBOOT=yes\n",
			[]Claim{{Path: "/etc/sysconfig/network-scripts/ifcfg-eth1", Family: Ifcfg, MAC: "fa:16:3e:00:00:01", Name: "eth1"}}},
		{"cloud-init's interfaces.d file", "/etc/network/interfaces.d/50-cloud-init",
			"auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
			[]Claim{{Path: "/etc/network/interfaces.d/50-cloud-init", Family: Ifupdown, Name: "eth0"}}},
		{"a file with the agent's header", "/etc/netplan/50-x.yaml", "# Managed by multinic-agent (row 3).\nnetwork: {ethernets: {multinic0: {}}}\n", nil},
		{"unparsable YAML", "/etc/netplan/50-x.yaml", "network: : [", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !Relevant(c.path) {
				t.Fatalf("%s is not read for claims", c.path)
			}
			if got := Parse(c.path, []byte(c.content)); !slices.Equal(got, c.want) {
				t.Errorf("claims %+v, want %+v", got, c.want)
			}
		})
	}
	for _, p := range []string{"/etc/sysconfig/network-scripts/network-functions", "/etc/netplan/x.yaml.bak", "/etc/systemd/network/README"} {
		if Relevant(p) {
			t.Errorf("%s is read for claims", p)
		}
	}
}

func TestWhenAClaimTakesEffect(t *testing.T) {
	cases := []struct {
		name  string
		claim Claim
		read  map[string]bool
		nic   [2]string // MAC, name the agent gives
		want  bool
	}{
		{"netplan file on a netplan node", Claim{Path: "/etc/netplan/50-cloud-init.yaml", Family: Netplan, MAC: "fa:16:3e:00:00:01"}, Read("netplan", "networkd"), [2]string{"fa:16:3e:00:00:01", "multinic0"}, true},
		{"netplan file where netplan is not installed", Claim{Path: "/etc/netplan/50-cloud-init.yaml", Family: Netplan, MAC: "fa:16:3e:00:00:01"}, Read("keyfile", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, false},
		{"stale keyfile on a netplan node, NetworkManager active", Claim{Path: "/etc/NetworkManager/system-connections/a.nmconnection", Family: Keyfile, MAC: "fa:16:3e:00:00:01"}, Read("netplan", "networkd", "keyfile"), [2]string{"fa:16:3e:00:00:01", "multinic0"}, true},
		{"a .network that sorts before the agent's", Claim{Path: "/etc/systemd/network/10-dhcp.network", Family: Networkd, Name: "multinic*"}, Read("networkd", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, true},
		{"a .network that sorts after the agent's", Claim{Path: "/etc/systemd/network/80-dhcp.network", Family: Networkd, Name: "*"}, Read("networkd", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, false},
		{"a .link naming the MAC otherwise, on any node", Claim{Path: "/etc/systemd/network/10-persistent-net.link", Family: Link, MAC: "fa:16:3e:00:00:01"}, Read("ifupdown", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, true},
		{"an ifupdown stanza for the NIC's old name", Claim{Path: "/etc/network/interfaces.d/50-cloud-init", Family: Ifupdown, Name: "eth1"}, Read("ifupdown", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, false},
		{"an ifupdown stanza for the name the agent gives", Claim{Path: "/etc/network/interfaces", Family: Ifupdown, Name: "multinic0"}, Read("ifupdown", ""), [2]string{"fa:16:3e:00:00:01", "multinic0"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.claim.Matches(c.nic[0], c.nic[1]) && c.read[c.claim.Family] && c.claim.Wins(c.nic[1])
			if got != c.want {
				t.Errorf("takes effect: %v, want %v", got, c.want)
			}
		})
	}
}
