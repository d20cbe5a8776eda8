// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

var samples = netconftest.Samples

func TestRenderGolden(t *testing.T) { netconftest.Golden(t, Backend{}) }

func TestRoundTrip(t *testing.T) { netconftest.RoundTrip(t, Backend{}, nil) }

func TestModeAndPath(t *testing.T) {
	f := Backend{}.Render(samples["ipv4-mtu"])
	if len(f) != 1 || f[0].Mode != 0o600 || f[0].Path != "/etc/netplan/90-multinic0.yaml" {
		t.Fatalf("files %+v", f)
	}
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/netplan/90-multinic0.yaml":  "multinic0",
		"/etc/netplan/97-multinic7.yaml":  "multinic7",
		"/etc/netplan/93-multinic5.yaml":  "",
		"/etc/netplan/50-cloud-init.yaml": "",
		"/etc/netplan/90-multinic0.yml":   "",
		"/etc/netplan/90-multinic10.yaml": "",
	} {
		got, ok := Backend{}.Owns(path)
		if got != want || ok != (want != "") {
			t.Errorf("Owns(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestParseRejectsHandEdits(t *testing.T) {
	netconftest.RejectsDamage(t, Backend{}, map[string][2]string{
		"bad yaml":         {"network:", "network: : ["},
		"other key":        {"    multinic0:", "    eth0:"},
		"bad mac":          {"fa:16:3e:00:00:01", "zz"},
		"bad address":      {"10.20.0.11/24", "10.20.0.300/24"},
		"bad mtu":          {"mtu: 9000", "mtu: big"},
		"set-name differs": {"set-name: multinic0", "set-name: eth9"},
	})
}

// TestNetplanGenerateAccepts runs the real netplan on the rendered files:
// it must exit 0 without a warning and produce networkd config carrying
// the address, the MTU and the MAC match. It runs where the host's udevadm
// and systemctl are masked (see TestGeneratorNeverReachesTheHostsDaemons).
func TestNetplanGenerateAccepts(t *testing.T) {
	testenv.RequireTool(t, "netplan")
	rec := newRecorder(t)
	root := t.TempDir()
	for _, iface := range samples {
		for _, f := range (Backend{}).Render(iface) {
			if err := atomicfile.Write(filepath.Join(root, f.Path), f.Content, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := rec.run(nil, "netplan", "generate", "--root-dir", root)
	if err != nil {
		t.Fatalf("netplan generate: %v: %s", err, out)
	}
	if out != "" {
		t.Errorf("netplan generate warned: %s", out)
	}
	network, err := os.ReadFile(filepath.Join(root, "run/systemd/network/10-netplan-multinic0.network"))
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.ReadFile(filepath.Join(root, "run/systemd/network/10-netplan-multinic0.link"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Address=10.20.0.11/24", "MTUBytes=9000", "Name=multinic0"} {
		if !strings.Contains(string(network)+string(link), want) {
			t.Errorf("generated networkd config lacks %q:\n%s\n%s", want, network, link)
		}
	}
	if !strings.Contains(strings.ToLower(string(link)), "fa:16:3e:00:00:01") {
		t.Errorf("generated .link does not match the MAC:\n%s", link)
	}

	// A broken file is rejected by the same check, so the test can fail.
	bad := filepath.Join(root, Path("multinic3"))
	os.WriteFile(bad, []byte(strings.Replace(string(Backend{}.Render(samples["ipv4-mtu"])[0].Content), "10.20.0.11/24", "10.20.0.11", 1)), 0o600)
	if out, err := rec.run(nil, "netplan", "generate", "--root-dir", root); err == nil {
		t.Errorf("netplan accepted an address without prefix: %s", out)
	}
}

func TestAdoptsPreviousAgentFiles(t *testing.T) {
	netconftest.AdoptsPrevious(t, Backend{}, netconftest.PreviousNetplan, []netconftest.PreviousFile{
		{
			Path: "/etc/netplan/91-multinic1.yaml",
			Desc: netconftest.Previous{Name: "multinic1", MAC: "FA:16:3E:00:00:01", Addr: "10.20.0.11/24", MTU: 9000},
			Want: netconf.Iface{Name: "multinic1", MAC: "fa:16:3e:00:00:01", Addr: netip.MustParsePrefix("10.20.0.11/24"), MTU: 9000},
		},
		{
			Path: "/etc/netplan/93-multinic3.yaml",
			Desc: netconftest.Previous{Name: "multinic3", MAC: "fa:16:3e:00:00:03", MTU: 1500},
			Want: netconf.Iface{Name: "multinic3", MAC: "fa:16:3e:00:00:03"},
		},
	}, map[string][2]string{
		"routes":          {"            dhcp4: false\n", "            dhcp4: false\n            routes:\n                - to: default\n                  via: 10.20.0.1\n"},
		"nameservers":     {"            dhcp4: false\n", "            dhcp4: false\n            nameservers:\n                addresses: [10.0.0.53]\n"},
		"dhcp4 true":      {"dhcp4: false", "dhcp4: true"},
		"a comment":       {"    version: 2", "    version: 2 # pinned"},
		"version 1":       {"version: 2", "version: 1"},
		"renderer":        {"    version: 2", "    renderer: networkd\n    version: 2"},
		"two addresses":   {"- 10.20.0.11/24", "- 10.20.0.11/24\n                - 10.20.0.12/24"},
		"other set-name":  {"set-name: multinic1", "set-name: eth1"},
		"bad mac":         {"FA:16:3E:00:00:01", "not-a-mac"},
		"bad address":     {"10.20.0.11/24", "10.20.0.300/24"},
		"second ethernet": {"    version: 2", "        eth0:\n            dhcp4: true\n    version: 2"},
		"unparsable":      {"network:", "network: : ["},
		"second document": {"    version: 2\n", "    version: 2\n---\nnetwork: {}\n"},
	})
}
