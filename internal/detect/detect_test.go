// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/osrelease"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// A layout maps a path under ROOT_DIR to its content; "-> TARGET" makes a
// symlink (what systemctl enable writes).
type layout map[string]string

const (
	wants     = "/etc/systemd/system/multi-user.target.wants/"
	enabledTo = "-> /lib/systemd/system/"
)

var (
	debianOS   = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	ubuntuOS   = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n"
	rhel8OS    = "PRETTY_NAME=\"Red Hat Enterprise Linux 8.9 (Ootpa)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.9\"\n"
	rhel9OS    = "PRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n"
	suseOS     = "PRETTY_NAME=\"openSUSE Leap 15.6\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.6\"\n"
	networkd   = layout{"/lib/systemd/systemd-networkd": "bin"}
	debianBase = layout{
		"/etc/os-release":                 debianOS,
		"/sbin/ifup":                      "bin",
		"/lib/systemd/systemd-networkd":   "bin",
		wants + "networking.service":      enabledTo + "networking.service",
		"/run/network/ifstate":            "",
		"/etc/network/interfaces":         "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\nallow-hotplug ens3\niface ens3 inet dhcp\n",
		"/etc/network/interfaces.d/.keep": "",
	}
)

func with(base layout, more layout) layout {
	out := layout{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		if v == "<none>" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func (l layout) write(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range l {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func inspect(t *testing.T, l layout) Node {
	t.Helper()
	root := l.write(t)
	info, _ := osrelease.Read(filepath.Join(root, osrelease.Path))
	return Inspect(rootfs.Root(root), info)
}

func TestStockImages(t *testing.T) {
	cases := []struct {
		name     string
		layout   layout
		backend  string
		evidence string
		atBoot   string // "" when the files are read at boot
	}{
		{"Debian 12 server: ifupdown, networkd installed but disabled", debianBase, "ifupdown", "ifupdown enabled and running, /etc/network/interfaces configures ens3", ""},
		{"Debian 12 cloud image: cloud-init's file in interfaces.d", with(debianBase, layout{
			"/etc/network/interfaces":                 "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n",
			"/etc/network/interfaces.d/50-cloud-init": "auto eth0\niface eth0 inet dhcp\n",
		}), "ifupdown", "configures eth0", ""},
		{"Debian 12 whose interfaces file does not source interfaces.d", with(debianBase, layout{
			"/etc/network/interfaces": "auto lo\niface lo inet loopback\nallow-hotplug ens3\niface ens3 inet dhcp\n",
		}), "ifupdown", "ifupdown", "does not source /etc/network/interfaces.d"},
		{"Debian desktop: NetworkManager, ifupdown only for lo", with(debianBase, layout{
			"/etc/network/interfaces":        "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n",
			"/usr/sbin/NetworkManager":       "bin",
			wants + "NetworkManager.service": enabledTo + "NetworkManager.service",
		}), "keyfile", "NetworkManager enabled, profiles in keyfile", ""},
		{"Ubuntu server: netplan with networkd", with(networkd, layout{
			"/etc/os-release":                  ubuntuOS,
			"/usr/sbin/netplan":                "bin",
			"/etc/netplan/50-cloud-init.yaml":  "network:\n    version: 2\n    ethernets:\n        ens3:\n            dhcp4: true\n",
			wants + "systemd-networkd.service": enabledTo + "systemd-networkd.service",
			"/etc/systemd/system/sockets.target.wants/systemd-networkd.socket": enabledTo + "systemd-networkd.socket",
			"/run/systemd/netif/links/2":                                       "",
		}), "netplan", "netplan configures this node (/etc/netplan/50-cloud-init.yaml, renderer networkd)", ""},
		{"Ubuntu desktop: netplan with NetworkManager", with(networkd, layout{
			"/etc/os-release":                          ubuntuOS,
			"/usr/sbin/netplan":                        "bin",
			"/usr/sbin/NetworkManager":                 "bin",
			"/etc/netplan/01-network-manager-all.yaml": "network:\n  version: 2\n  renderer: NetworkManager\n",
			wants + "NetworkManager.service":           enabledTo + "NetworkManager.service",
		}), "netplan", "renderer NetworkManager", ""},
		{"RHEL 8: NetworkManager with ifcfg-rh, its default there", layout{
			"/etc/os-release":                         rhel8OS,
			"/usr/sbin/NetworkManager":                "bin",
			"/etc/NetworkManager/NetworkManager.conf": "[main]\n#plugins=ifcfg-rh\n",
			wants + "NetworkManager.service":          enabledTo + "NetworkManager.service",
		}, "ifcfg", "profiles in ifcfg-rh", ""},
		{"RHEL 8 configured for keyfiles", layout{
			"/etc/os-release":                            rhel8OS,
			"/usr/sbin/NetworkManager":                   "bin",
			"/etc/NetworkManager/conf.d/99-keyfile.conf": "[main]\nplugins=keyfile,ifcfg-rh\n",
			wants + "NetworkManager.service":             enabledTo + "NetworkManager.service",
		}, "keyfile", "profiles in keyfile", ""},
		{"RHEL 9: NetworkManager with keyfiles", layout{
			"/etc/os-release":                         rhel9OS,
			"/usr/sbin/NetworkManager":                "bin",
			"/etc/NetworkManager/NetworkManager.conf": "[main]\n",
			"/run/NetworkManager/devices/2":           "",
		}, "keyfile", "NetworkManager running, profiles in keyfile", "NetworkManager.service is not enabled (running)"},
		{"openSUSE with wicked: nothing the agent writes for", layout{
			"/etc/os-release":                   suseOS,
			"/usr/lib/systemd/systemd-networkd": "bin",
			wants + "wicked.service":            enabledTo + "wicked.service",
		}, "networkd", "no network manager found enabled or running; openSUSE Leap 15.6 (os-release) uses networkd", "systemctl enable systemd-networkd.service"},
		{"a masked NetworkManager does not count", with(debianBase, layout{
			"/usr/sbin/NetworkManager":                   "bin",
			wants + "NetworkManager.service":             enabledTo + "NetworkManager.service",
			"/etc/systemd/system/NetworkManager.service": "-> /dev/null",
		}), "ifupdown", "ifupdown", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := inspect(t, c.layout)
			res, err := n.Choose()
			if err != nil {
				t.Fatal(err)
			}
			if res.Backend != c.backend || !strings.Contains(res.Evidence, c.evidence) {
				t.Errorf("chose %s (%s), want %s with %q", res.Backend, res.Evidence, c.backend, c.evidence)
			}
			switch err := n.AtBoot(res.Backend); {
			case c.atBoot == "" && err != nil:
				t.Errorf("at boot: %v", err)
			case c.atBoot != "" && (err == nil || !strings.Contains(err.Error(), c.atBoot)):
				t.Errorf("at boot: %v, want %q", err, c.atBoot)
			}
		})
	}
}

func TestBootCheckOfAChosenBackend(t *testing.T) {
	// What stock Debian 12 did with networkd chosen from os-release: the
	// files were written, and nothing read them at boot.
	n := inspect(t, debianBase)
	err := n.AtBoot("networkd")
	if err == nil || !strings.Contains(err.Error(), "systemd-networkd.service is not enabled") || !strings.Contains(err.Error(), "systemctl enable systemd-networkd.service") {
		t.Errorf("networkd on stock Debian: %v", err)
	}
	if err := n.AtBoot("keyfile"); err == nil || !strings.Contains(err.Error(), "NetworkManager.service is not installed") {
		t.Errorf("keyfile on stock Debian: %v", err)
	}
}

func TestNothingToGoBy(t *testing.T) {
	n := inspect(t, layout{"/etc/.keep": ""})
	if res, err := n.Choose(); err == nil {
		t.Errorf("chose %+v on an empty root", res)
	}
}
