// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifupdown

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func TestRenderGolden(t *testing.T) { netconftest.Golden(t, Backend{}) }

func TestRoundTrip(t *testing.T) {
	netconftest.RoundTrip(t, Backend{}, func(p string) bool { return strings.HasSuffix(p, ".link") })
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/network/interfaces.d/multinic0":       "multinic0",
		"/etc/systemd/network/70-multinic4.link":    "multinic4",
		"/etc/systemd/network/70-multinic4.network": "",
		"/etc/network/interfaces.d/50-cloud-init":   "",
		"/etc/network/interfaces.d/multinic10":      "",
		"/etc/network/interfaces":                   "",
	} {
		if got, ok := (Backend{}).Owns(path); got != want || ok != (want != "") {
			t.Errorf("Owns(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestRejectsDamage(t *testing.T) {
	netconftest.RejectsDamage(t, Backend{}, map[string][2]string{
		"no mac":           {"# mac fa:16:3e:00:00:01\n", ""},
		"bad mac":          {"# mac fa:16:3e:00:00:01", "# mac zz"},
		"other interface":  {"iface multinic0 inet", "iface eth0 inet"},
		"bad address":      {"address 10.20.0.11/24", "address 10.20.0.300/24"},
		"bad mtu":          {"mtu 9000", "mtu large"},
		"an option added":  {"    mtu 9000\n", "    mtu 9000\n    gateway 10.20.0.1\n"},
		"two inet stanzas": {"iface multinic0 inet static", "iface multinic0 inet static\niface multinic0 inet manual"},
		"hotplug another":  {"allow-hotplug multinic0", "allow-hotplug eth0"},
	})
}

// ifupdownFiles writes the rendered files of every sample under a root
// whose interfaces file sources them, as stock Debian's does.
func ifupdownFiles(t *testing.T) (root, interfaces string) {
	t.Helper()
	root = t.TempDir()
	for _, iface := range netconftest.Samples {
		for _, f := range (Backend{}).Render(iface) {
			p := filepath.Join(root, f.Path)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	interfaces = filepath.Join(root, "etc/network/interfaces")
	main := "# interfaces(5) file used by ifup(8) and ifdown(8)\nsource " + filepath.Join(root, Dir) + "/*\n\nauto lo\niface lo inet loopback\n"
	if err := os.WriteFile(interfaces, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, interfaces
}

// TestIfupdownReadsTheFiles has Debian's ifupdown parse what the agent
// writes: ifquery prints each interface's options, and ifup --no-act
// plans the commands without complaint.
func TestIfupdownReadsTheFiles(t *testing.T) {
	testenv.RequireTool(t, "ifquery")
	root, interfaces := ifupdownFiles(t)
	out, err := exec.Command("ifquery", "-i", interfaces, "--list", "--allow", "hotplug").CombinedOutput()
	if err != nil || strings.Fields(string(out)) == nil || !strings.Contains(string(out), "multinic0") || !strings.Contains(string(out), "multinic9") {
		t.Fatalf("ifquery --list --allow hotplug: %v\n%s", err, out)
	}
	for name, want := range map[string][]string{
		"multinic0": {"address: 10.20.0.11", "netmask: 255.255.255.0", "mtu: 9000", "pre-up: sysctl -q -w net.ipv6.conf.multinic0.accept_ra=0"},
		"multinic1": {"address: 2001:db8:1::11", "netmask: 64", "accept_ra: 0", "autoconf: 0", "mtu: 1400"},
		"multinic9": {"pre-up: sysctl"},
	} {
		out, err := exec.Command("ifquery", "-i", interfaces, name).CombinedOutput()
		if err != nil {
			t.Errorf("ifquery %s: %v\n%s", name, err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("ifquery %s lacks %q:\n%s", name, w, out)
			}
		}
		state := t.TempDir()
		if out, err := exec.Command("ifup", "--no-act", "-i", interfaces, "--state-dir", state, name).CombinedOutput(); err != nil {
			t.Errorf("ifup --no-act %s: %v\n%s", name, err, out)
		}
	}
	_ = root
}
