// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package detect finds what manages the network of the node at ROOT_DIR,
// and so which backend's files take effect there: from what is installed,
// enabled (the unit symlinks) and running (the daemons' /run state), with
// os-release only to break ties. It runs no tool and asks no daemon.
package detect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/osrelease"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Result is the backend chosen and the evidence for it.
type Result struct {
	Backend string
	// Evidence says, in a few words, what chose the backend.
	Evidence string
}

// Node is what was found under ROOT_DIR.
type Node struct {
	root rootfs.Root
	OS   osrelease.Info
	// Netplan lists netplan's configuration files; NetplanRenderer is the
	// renderer they name (networkd when none does).
	Netplan         []string
	NetplanRenderer string
	NetplanTool     bool
	// Daemons: enabled (a unit symlink) or running (its /run state).
	NetworkManager, Networkd, Ifupdown Daemon
	// IfcfgRH is set when NetworkManager keeps new profiles as ifcfg files
	// (its plugins list starts with ifcfg-rh, or, unset, on RHEL 7 and 8).
	IfcfgRH bool
	// IfupdownIfaces are the interfaces /etc/network/interfaces (and what it
	// sources) configures, lo and the agent's own aside; IfupdownSources
	// says whether it sources /etc/network/interfaces.d.
	IfupdownIfaces  []string
	IfupdownSources bool
}

// Daemon is a network daemon's state on the node.
type Daemon struct {
	Installed, Enabled, Running bool
}

// Active reports whether the daemon runs now or at the next boot.
func (d Daemon) Active() bool { return d.Enabled || d.Running }

func (d Daemon) String() string {
	var s []string
	if d.Enabled {
		s = append(s, "enabled")
	}
	if d.Running {
		s = append(s, "running")
	}
	if len(s) == 0 {
		if d.Installed {
			return "installed, neither enabled nor running"
		}
		return "not installed"
	}
	return strings.Join(s, " and ")
}

// Inspect reads the node at root. info is its os-release.
func Inspect(root rootfs.Root, info osrelease.Info) Node {
	n := Node{root: root, OS: info}
	n.NetplanTool = n.exists("/usr/sbin/netplan") || n.exists("/sbin/netplan")
	if files, _ := filepath.Glob(n.root.Path("/etc/netplan/*.yaml")); len(files) > 0 {
		n.NetplanRenderer = "networkd"
		for _, f := range files {
			n.Netplan = append(n.Netplan, strings.TrimPrefix(f, filepath.Clean(string(root))))
			if r := netplanRenderer(f); r != "" {
				n.NetplanRenderer = r
			}
		}
	}
	n.NetworkManager = Daemon{
		Installed: n.exists("/usr/sbin/NetworkManager"),
		Enabled:   n.enabled("NetworkManager.service"),
		Running:   n.exists("/run/NetworkManager/devices") || n.exists("/run/NetworkManager/NetworkManager.pid"),
	}
	n.Networkd = Daemon{
		Installed: n.exists("/lib/systemd/systemd-networkd") || n.exists("/usr/lib/systemd/systemd-networkd"),
		Enabled:   n.enabled("systemd-networkd.service") || n.enabled("systemd-networkd.socket"),
		Running:   n.exists("/run/systemd/netif/links"),
	}
	n.Ifupdown = Daemon{
		Installed: n.exists("/sbin/ifup") || n.exists("/usr/sbin/ifup"),
		Enabled:   n.enabled("networking.service"),
		Running:   n.exists("/run/network/ifstate"),
	}
	n.IfcfgRH = n.ifcfgRH()
	n.IfupdownIfaces, n.IfupdownSources = n.ifupdown()
	return n
}

// Choose picks the backend whose files the node reads.
func (n Node) Choose() (Result, error) {
	if len(n.Netplan) > 0 && n.NetplanTool {
		return Result{"netplan", fmt.Sprintf("netplan configures this node (%s, renderer %s)", strings.Join(n.Netplan, ", "), n.NetplanRenderer)}, nil
	}
	type candidate struct{ backend, why string }
	var cands []candidate
	if n.NetworkManager.Active() {
		b, plugin := "keyfile", "keyfile"
		if n.IfcfgRH {
			b, plugin = "ifcfg", "ifcfg-rh"
		}
		cands = append(cands, candidate{b, fmt.Sprintf("NetworkManager %s, profiles in %s", n.NetworkManager, plugin)})
	}
	if n.Networkd.Active() {
		cands = append(cands, candidate{"networkd", "systemd-networkd " + n.Networkd.String()})
	}
	if n.Ifupdown.Active() && n.Ifupdown.Installed && len(n.IfupdownIfaces) > 0 {
		cands = append(cands, candidate{"ifupdown", fmt.Sprintf("ifupdown %s, /etc/network/interfaces configures %s", n.Ifupdown, strings.Join(n.IfupdownIfaces, ", "))})
	}
	switch len(cands) {
	case 1:
		return Result{cands[0].backend, cands[0].why}, nil
	case 0:
		b := n.OS.Backend()
		if b == "" {
			return Result{}, fmt.Errorf("no network manager the agent writes for is enabled or running under this root, and OS %q (ID=%s) is not one it knows", n.OS.PrettyName, n.OS.ID)
		}
		return Result{b, fmt.Sprintf("no network manager found enabled or running; %s (os-release) uses %s", orUnknown(n.OS.PrettyName), b)}, nil
	}
	var whys []string
	for _, c := range cands {
		whys = append(whys, c.why)
	}
	pref := n.OS.Backend()
	for _, c := range cands {
		if c.backend == pref {
			return Result{c.backend, fmt.Sprintf("%s; %s (os-release) breaks the tie", strings.Join(whys, "; "), orUnknown(n.OS.PrettyName))}, nil
		}
	}
	return Result{cands[0].backend, fmt.Sprintf("%s; the first one", strings.Join(whys, "; "))}, nil
}

// AtBoot says why the files of backend would not take effect at the next
// boot, with the command that fixes it; nil when they would.
func (n Node) AtBoot(backend string) error {
	enable := func(d Daemon, unit string) error {
		if d.Enabled {
			return nil
		}
		if !d.Installed {
			return fmt.Errorf("%s is not installed, so nothing reads the %s files at boot: install it, or set NETWORK_BACKEND to the one this node uses", unit, backend)
		}
		return fmt.Errorf("%s is not enabled (%s), so the %s files are not read at the next boot: systemctl enable %s", unit, d, backend, unit)
	}
	switch backend {
	case "netplan":
		if !n.NetplanTool {
			return fmt.Errorf("netplan is not installed, so the netplan files are not read at boot: apt-get install netplan.io, or set NETWORK_BACKEND")
		}
		if n.NetplanRenderer == "NetworkManager" {
			return enable(n.NetworkManager, "NetworkManager.service")
		}
		return enable(n.Networkd, "systemd-networkd.service")
	case "keyfile", "ifcfg":
		return enable(n.NetworkManager, "NetworkManager.service")
	case "networkd":
		return enable(n.Networkd, "systemd-networkd.service")
	case "ifupdown":
		if err := enable(n.Ifupdown, "networking.service"); err != nil {
			return err
		}
		if !n.IfupdownSources {
			return fmt.Errorf("/etc/network/interfaces does not source /etc/network/interfaces.d, where the agent writes: add the line `source /etc/network/interfaces.d/*` to it")
		}
	}
	return nil
}

func (n Node) exists(p string) bool {
	_, err := os.Stat(n.root.Path(p))
	return err == nil
}

// enabled reports whether unit has a symlink in a .wants directory of
// /etc/systemd/system (what systemctl enable makes) and is not masked.
func (n Node) enabled(unit string) bool {
	if dst, err := os.Readlink(n.root.Path("/etc/systemd/system/" + unit)); err == nil && dst == "/dev/null" {
		return false
	}
	wants, _ := filepath.Glob(n.root.Path("/etc/systemd/system/*.wants/" + unit))
	return len(wants) > 0
}

// netplanRenderer returns the network.renderer a netplan file sets.
func netplanRenderer(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "renderer:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// ifcfgRH reads NetworkManager's plugins setting (its main file, then
// conf.d in order, the last one wins).
func (n Node) ifcfgRH() bool {
	files := []string{n.root.Path("/etc/NetworkManager/NetworkManager.conf")}
	more, _ := filepath.Glob(n.root.Path("/etc/NetworkManager/conf.d/*.conf"))
	files = append(files, more...)
	plugins := ""
	for _, f := range files {
		data, _ := os.ReadFile(f)
		section := ""
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "["):
				section = strings.Trim(line, "[] ")
			case section == "main" && strings.HasPrefix(line, "plugins"):
				if _, v, ok := strings.Cut(line, "="); ok {
					plugins = strings.TrimSpace(v)
				}
			}
		}
	}
	if plugins == "" {
		// NetworkManager's built-in default on RHEL 7 and 8 is ifcfg-rh.
		return n.OS.Backend() == "ifcfg"
	}
	first, _, _ := strings.Cut(plugins, ",")
	return strings.TrimSpace(first) == "ifcfg-rh"
}

// ifupdown returns the interfaces ifupdown configures (lo and the agent's
// own aside) and whether the main file sources /etc/network/interfaces.d.
func (n Node) ifupdown() ([]string, bool) {
	main := n.root.Path("/etc/network/interfaces")
	var ifaces []string
	sources := false
	seen := map[string]bool{}
	var read func(path string, depth int)
	read = func(path string, depth int) {
		data, err := os.ReadFile(path)
		if err != nil || depth > 5 || seen[path] {
			return
		}
		seen[path] = true
		for _, line := range bytes.Split(data, []byte("\n")) {
			f := strings.Fields(string(line))
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "iface":
				if f[1] != "lo" && !strings.HasPrefix(f[1], "multinic") && !slices.Contains(ifaces, f[1]) {
					ifaces = append(ifaces, f[1])
				}
			case "source", "source-directory":
				pattern := f[1]
				if !filepath.IsAbs(pattern) {
					pattern = filepath.Join("/etc/network", pattern)
				}
				if f[0] == "source-directory" {
					pattern = strings.TrimSuffix(pattern, "/") + "/*"
				}
				if depth == 0 && covers(pattern, "/etc/network/interfaces.d/multinic0") {
					sources = true
				}
				matches, _ := filepath.Glob(n.root.Path(pattern))
				for _, m := range matches {
					read(m, depth+1)
				}
			}
		}
	}
	read(main, 0)
	return ifaces, sources
}

// covers reports whether a source pattern of the interfaces file takes in
// path.
func covers(pattern, path string) bool {
	ok, err := filepath.Match(pattern, path)
	return err == nil && ok
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown OS"
	}
	return s
}

// ActiveFamilies lists the configuration families whose manager runs or
// is enabled on the node, in the terms of package claims.
func (n Node) ActiveFamilies() []string {
	var out []string
	if len(n.Netplan) > 0 && n.NetplanTool {
		out = append(out, "netplan")
	}
	if n.NetworkManager.Active() {
		out = append(out, "keyfile")
		if n.IfcfgRH {
			out = append(out, "ifcfg")
		}
	}
	if n.Networkd.Active() {
		out = append(out, "networkd")
	}
	if n.Ifupdown.Active() {
		out = append(out, "ifupdown")
	}
	return out
}
