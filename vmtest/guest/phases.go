// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multinic-agent/multinic-agent/internal/ifupdown"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/schema"
	"github.com/multinic-agent/multinic-agent/vmtest/proto"
)

// The VM's NICs (the host gives them these MACs) and this node's rows.
const (
	mgmtMAC  = "52:54:00:00:00:10"
	node     = "vmnode1" // the rows' attached_node_name; the hostname is vmnode1.novalocal
	password = "vm-test-secret"
	payload  = "/opt/multinic"
)

// row is one of this node's rows and what the agent must make of it.
type row struct {
	id   int64
	mac  string
	addr string // with the subnet's prefix length; "" for a NULL address
	mtu  int    // the MTU the NIC must have (1500 for a NULL mtu)
	name string // the name the agent gives it
}

var rows = []row{
	{1, "fa:16:3e:aa:00:01", "10.30.0.11/24", 9000, "multinic0"},
	{2, "fa:16:3e:aa:00:02", "2001:db8:30::12/64", 1400, "multinic1"},
	{3, "fa:16:3e:aa:00:03", "", 1500, "multinic2"},
}

// hotplugged is the row of the NIC plugged in during each phase.
var hotplugged = row{0, "fa:16:3e:aa:00:04", "10.30.0.14/24", 1500, "multinic3"}

// phase is one network backend driven for real.
type phase struct {
	name    string // as the output shows it
	backend string // NETWORK_BACKEND
	// deb installs the agent from the .deb (make packages) instead of
	// scripts/install-daemon.sh.
	deb bool
	// stack makes the node's network stack this phase's: which daemon
	// runs and how the management NIC is configured.
	stack func(g *G) error
	// files are the agent's files for interface name, with their modes.
	files func(name string) map[string]os.FileMode
	// consumed checks that the backend's daemon runs interface name from
	// the agent's file.
	consumed func(name string) (string, error)
	// linkFile is the .link file that names interface name at boot.
	linkFile func(name string) string
	// before, when set, lays the node out after the network stack and
	// before the install, with a reboot into it (see takeover.go).
	before *before
}

// before is what a phase does between its network stack and the install:
// lay the node out and reboot into it, check what that boot made of it;
// then, in the install step, what the agent would do before it starts
// (planned), and right after the install (same boot), what its first
// cycle made of it.
type before struct {
	name, bootedName, installedName string
	lay, booted, planned, installed func(*G, phase)
}

// phases run in this order, each on the node the previous one left (the
// kernel command line may name the ones to run: proto.PhasesArg). The
// netplan phase starts with the takeover of a node the previous agent
// configured (one more reboot); the ifupdown phase comes last, so that no
// stack after it has to take the management NIC back from ifupdown (the
// others turn networking.service off, so it may go anywhere).
var phases = []phase{
	{name: "networkd", backend: "networkd", stack: networkdStack, files: networkdFiles, consumed: networkdConsumed(networkdNetwork), linkFile: networkdLink},
	{name: "netplan", backend: "netplan", deb: true, stack: netplanStack, files: netplanFiles, consumed: networkdConsumed(netplanNetwork), linkFile: netplanLink,
		before: takeover},
	{name: "keyfile", backend: "keyfile", stack: keyfileStack, files: keyfileFiles, consumed: keyfileConsumed, linkFile: networkdLink},
	{name: "ifupdown", backend: "ifupdown", stack: ifupdownStack, files: ifupdownFiles, consumed: ifupdownConsumed, linkFile: networkdLink},
}

// selected returns the phases the kernel command line names
// (proto.PhasesArg, comma-separated), all of them when it names none, and
// the names it gives that are no phase.
func selected() (run map[string]bool, unknown []string) {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	run = map[string]bool{}
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, proto.PhasesArg); ok {
			for _, name := range strings.Split(v, ",") {
				if !slices.ContainsFunc(phases, func(p phase) bool { return p.name == name }) {
					unknown = append(unknown, name)
				}
				run[name] = true
			}
		}
	}
	if len(run) == 0 {
		for _, p := range phases {
			run[p.name] = true
		}
	}
	return run, unknown
}

func allSteps() []step {
	steps := []step{{phase: "setup", name: "the node: rows in MariaDB, NICs as the kernel named them", run: setup}}
	run, _ := selected()
	for k, p := range phases {
		if !run[p.name] {
			continue
		}
		// The hot-plug slot is the phase's place in the whole list, so
		// that a run of some phases plugs into the same slots.
		p, slot := p, k
		s := func(name string, run func(*G, phase), reboot bool) step {
			return step{phase: p.name, name: name, run: func(g *G) { run(g, p) }, reboot: reboot}
		}
		steps = append(steps, s("network stack", stackStep, false))
		if b := p.before; b != nil {
			steps = append(steps, s(b.name, b.lay, true), s(b.bootedName, b.booted, false))
		}
		steps = append(steps, s("install and start", install, false))
		if b := p.before; b != nil {
			steps = append(steps, s(b.installedName, b.installed, false))
		}
		steps = append(steps,
			s("the sandbox lets every action through", sandbox, false),
			s("health, readiness and metrics, inside and from the host", health, false),
			s("drift repaired", drift, false),
			step{phase: p.name, name: "a NIC hot-plugged and unplugged", run: func(g *G) { hotplug(g, p, slot) }},
			s("kill -9: systemd restarts the agent", killNine, false),
			s("database down: readiness 503, nothing removed, recovery", dbDown, false),
			s("reboot with the agent disabled", disableAndReboot, true),
			s("after the reboot: the files alone", afterDisabled, true),
			s("after the reboot: the agent starts after the database, in sync", afterEnabled, false),
			s("uninstall and purge", uninstall, false),
		)
	}
	return steps
}

// --- setup -------------------------------------------------------------------

func setup(g *G) {
	run, unknown := selected()
	if len(unknown) > 0 {
		g.abortAll(fmt.Sprintf("%s on the kernel command line names no phase: %s", proto.PhasesArg, strings.Join(unknown, ", ")))
		return
	}
	if len(run) < len(phases) {
		var names []string
		for _, p := range phases {
			if run[p.name] {
				names = append(names, p.name)
			}
		}
		g.note("only the phases %s (%s)", strings.Join(names, ", "), proto.PhasesArg)
	}
	g.check("the VM", func() (string, error) {
		k, _ := sh("uname", "-r")
		v, _ := sh("systemctl", "--version")
		h, _ := os.Hostname()
		return fmt.Sprintf("kernel %s, %s, hostname %s", k, strings.SplitN(v, "\n", 2)[0], h), nil
	})
	g.within("management NIC up with the default route", time.Minute, mgmtOK)
	g.check("secondary NICs as the kernel and udev named them, no address", func() (string, error) {
		ls, err := nics()
		if err != nil {
			return "", err
		}
		var names []string
		for _, r := range rows {
			l := byMAC(ls, r.mac)
			if l == nil {
				return "", fmt.Errorf("no NIC with MAC %s", r.mac)
			}
			if strings.HasPrefix(l.Name, "multinic") || len(l.Addrs) > 0 {
				return "", fmt.Errorf("%s is %s with %v before the agent ran", r.mac, l.Name, l.Addrs)
			}
			g.setVal("name:"+r.mac, l.Name)
			names = append(names, l.Name+" "+r.mac)
			if perm, _ := sh("ethtool", "-P", l.Name); !strings.Contains(perm, r.mac) {
				return "", fmt.Errorf("%s has no permanent MAC %s (ethtool -P: %s)", l.Name, r.mac, perm)
			}
		}
		return strings.Join(names, ", ") + " (permanent MACs)", nil
	})
	ok := g.within("MariaDB answers on its socket", 2*time.Minute, func() (string, error) {
		out, err := sh("mariadb", "-N", "-e", "SELECT VERSION()")
		return out, err
	})
	ok = ok && g.check("schema, the agent's user and this node's rows", func() (string, error) {
		if _, err := sh("mariadb", "-e", "CREATE DATABASE multinic"); err != nil {
			return "", err
		}
		grants := fmt.Sprintf(`CREATE USER 'multinic_agent'@'127.0.0.1' IDENTIFIED BY '%s';
GRANT SELECT ON multinic.multi_interface TO 'multinic_agent'@'127.0.0.1';
GRANT SELECT ON multinic.multi_subnet TO 'multinic_agent'@'127.0.0.1';
GRANT UPDATE (netplan_success) ON multinic.multi_interface TO 'multinic_agent'@'127.0.0.1';
INSERT INTO multi_subnet (subnet_id, cidr) VALUES ('s4', '10.30.0.0/24'), ('s6', '2001:db8:30::/64');`, password)
		if err := dbExec(strings.TrimSpace(schema.SQL) + "\n" + grants); err != nil {
			return "", err
		}
		for _, r := range rows {
			var addr, mtu any
			if r.addr != "" {
				addr = strings.Split(r.addr, "/")[0]
			}
			subnet := "s4"
			if strings.Contains(r.addr, ":") {
				subnet = "s6"
			}
			if r.mtu != 1500 {
				mtu = r.mtu
			}
			if err := dbExec(`INSERT INTO multi_interface (id, port_id, subnet_id, macaddress, attached_node_name, address, mtu)
VALUES (?, ?, ?, ?, ?, ?, ?)`, r.id, "port-"+r.mac, subnet, r.mac, node, addr, mtu); err != nil {
				return "", err
			}
		}
		// An MTU left NULL: the agent leaves the NIC's MTU as it is.
		return fmt.Sprintf("%d rows for %s", len(rows), node), dbExec("UPDATE multi_interface SET mtu = NULL WHERE id = 3")
	})
	if !ok {
		g.abortAll("the node could not be set up")
	}
}

// --- network stacks ----------------------------------------------------------

const mgmtNetwork = `[Match]
Name=mgmt0

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DHCP=no
IPv6AcceptRA=no
`

const mgmtNetplan = `network:
  version: 2
  renderer: networkd
  ethernets:
    mgmt0:
      match:
        macaddress: "52:54:00:00:00:10"
      set-name: mgmt0
      addresses: [10.0.2.15/24]
      routes:
        - to: default
          via: 10.0.2.2
      dhcp4: false
      dhcp6: false
      accept-ra: false
`

const mgmtKeyfile = `[connection]
id=mgmt
uuid=6f1e0c5a-8a77-4c1b-9a9e-000000000010
type=ethernet
interface-name=mgmt0

[ethernet]
mac-address=52:54:00:00:00:10

[ipv4]
method=manual
address1=10.0.2.15/24,10.0.2.2

[ipv6]
method=disabled
`

// stockInterfaces is Debian's /etc/network/interfaces as the image has it.
const stockInterfaces = `# interfaces(5) file used by ifup(8) and ifdown(8)
# Include files from /etc/network/interfaces.d:
source /etc/network/interfaces.d/*
`

// mgmtInterfaces is the ifupdown phase's: stock Debian's source line and
// the management NIC.
const mgmtInterfaces = stockInterfaces + `
auto lo
iface lo inet loopback

auto mgmt0
iface mgmt0 inet static
    address 10.0.2.15/24
    gateway 10.0.2.2
`

const nmConf = `[main]
plugins=keyfile
no-auto-default=*
dns=none
rc-manager=unmanaged
[connectivity]
enabled=false
`

func write(path, content string, mode os.FileMode) error {
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func networkdStack(g *G) error {
	return networkdManages("/etc/systemd/network/10-mgmt.network", mgmtNetwork, 0o644, "/etc/netplan/50-mgmt.yaml")
}

func netplanStack(g *G) error {
	return networkdManages("/etc/netplan/50-mgmt.yaml", mgmtNetplan, 0o600, "/etc/systemd/network/10-mgmt.network")
}

// networkdManages makes systemd-networkd the node's network daemon, with
// the management NIC's configuration in the file mgmt (networkd's own or
// netplan's) instead of the other one.
func networkdManages(mgmt, content string, mode os.FileMode, other string) error {
	if err := useNetworkd(); err != nil {
		return err
	}
	if err := write(mgmt, content, mode); err != nil {
		return err
	}
	os.Remove(other)
	if _, err := sh("netplan", "generate"); err != nil {
		return err
	}
	_, err := sh("networkctl", "reload")
	return err
}

// notIfupdown turns ifupdown's networking.service off (the ifupdown phase
// turns it on) and gives /etc/network/interfaces back its stock content.
func notIfupdown() error {
	if prop("networking.service", "UnitFileState") == "enabled" || prop("networking.service", "ActiveState") == "active" {
		if _, err := sh("systemctl", "disable", "--now", "networking.service"); err != nil {
			return err
		}
		return write("/etc/network/interfaces", stockInterfaces, 0o644)
	}
	return nil
}

func useNetworkd() error {
	if err := notIfupdown(); err != nil {
		return err
	}
	if prop("NetworkManager.service", "ActiveState") == "active" {
		if _, err := sh("systemctl", "disable", "--now", "NetworkManager.service"); err != nil {
			return err
		}
	}
	_, err := sh("systemctl", "enable", "--now", "systemd-networkd.service")
	return err
}

func keyfileStack(g *G) error {
	if err := notIfupdown(); err != nil {
		return err
	}
	if err := write("/etc/NetworkManager/conf.d/90-vmtest.conf", nmConf, 0o644); err != nil {
		return err
	}
	if err := write("/etc/NetworkManager/system-connections/mgmt.nmconnection", mgmtKeyfile, 0o600); err != nil {
		return err
	}
	os.Remove("/etc/netplan/50-mgmt.yaml")
	os.Remove("/etc/systemd/network/10-mgmt.network")
	if _, err := sh("netplan", "generate"); err != nil {
		return err
	}
	if _, err := sh("systemctl", "disable", "--now", "systemd-networkd.service", "systemd-networkd.socket", "systemd-networkd-wait-online.service"); err != nil {
		return err
	}
	if _, err := sh("systemctl", "enable", "--now", "NetworkManager.service"); err != nil {
		return err
	}
	// NetworkManager found mgmt0 configured by networkd and keeps it as an
	// external connection; a node that boots with NetworkManager has its
	// profile active instead.
	var err error
	for i := 0; i < 120; i++ {
		if _, err = sh("nmcli", "connection", "up", "mgmt"); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	for i := 0; i < 120; i++ {
		if out, _ := sh("nmcli", "-g", "GENERAL.CONNECTION", "device", "show", "mgmt0"); out == "mgmt" {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	out, _ := sh("nmcli", "device")
	return fmt.Errorf("NetworkManager did not take mgmt0 with its profile: %s", out)
}

// ifupdownStack makes ifupdown's networking.service the node's only
// network stack, as on a stock Debian server: NetworkManager and networkd
// stopped and disabled, the management NIC in /etc/network/interfaces.
func ifupdownStack(g *G) error {
	if _, err := sh("systemctl", "disable", "--now", "NetworkManager.service", "NetworkManager-wait-online.service",
		"systemd-networkd.service", "systemd-networkd.socket", "systemd-networkd-wait-online.service"); err != nil {
		return err
	}
	if err := write("/etc/network/interfaces", mgmtInterfaces, 0o644); err != nil {
		return err
	}
	os.Remove("/etc/netplan/50-mgmt.yaml")
	os.Remove("/etc/systemd/network/10-mgmt.network")
	if _, err := sh("netplan", "generate"); err != nil {
		return err
	}
	// The stopped daemon left mgmt0 configured; ifup adds the address and
	// the route itself (and fails on an address already there).
	if _, err := sh("ip", "addr", "flush", "dev", "mgmt0"); err != nil {
		return err
	}
	if _, err := sh("systemctl", "enable", "--now", "networking.service"); err != nil {
		return err
	}
	if out, err := sh("ifquery", "--state", "mgmt0"); err != nil || out != "mgmt0=mgmt0" {
		return fmt.Errorf("ifupdown does not hold mgmt0 up: %q %v", out, err)
	}
	return nil
}

func networkdFiles(name string) map[string]os.FileMode {
	return map[string]os.FileMode{networkdLink(name): 0o644, networkdNetwork(name): 0o644}
}

func netplanFiles(name string) map[string]os.FileMode {
	n := strings.TrimPrefix(name, "multinic")
	return map[string]os.FileMode{fmt.Sprintf("/etc/netplan/9%s-%s.yaml", n, name): 0o600}
}

func keyfileFiles(name string) map[string]os.FileMode {
	return map[string]os.FileMode{"/etc/NetworkManager/system-connections/" + name + ".nmconnection": 0o600, networkdLink(name): 0o644}
}

func ifupdownFiles(name string) map[string]os.FileMode {
	return map[string]os.FileMode{ifupdown.Path(name): 0o644, networkdLink(name): 0o644}
}

func networkdLink(name string) string    { return "/etc/systemd/network/70-" + name + ".link" }
func networkdNetwork(name string) string { return "/etc/systemd/network/70-" + name + ".network" }
func netplanLink(name string) string     { return "/run/systemd/network/10-netplan-" + name + ".link" }
func netplanNetwork(name string) string {
	return "/run/systemd/network/10-netplan-" + name + ".network"
}

// networkdConsumed checks that systemd-networkd configured the link from
// the file network(name).
func networkdConsumed(network func(string) string) func(string) (string, error) {
	return func(name string) (string, error) {
		out, err := sh("networkctl", "status", "--no-pager", "-n", "0", name)
		if err != nil {
			return "", err
		}
		file := regexp.MustCompile(`Network File: (\S+)`).FindStringSubmatch(out)
		state := regexp.MustCompile(`State: (.+)`).FindStringSubmatch(out)
		if file == nil || file[1] != network(name) || state == nil || !strings.Contains(state[1], "(configured)") {
			return "", fmt.Errorf("networkd: %s", lastLines(out, 12))
		}
		return fmt.Sprintf("networkd: %s %s", file[1], strings.TrimSpace(state[1])), nil
	}
}

func keyfileConsumed(name string) (string, error) {
	out, err := sh("nmcli", "-g", "GENERAL.CONNECTION,GENERAL.STATE", "device", "show", name)
	if err != nil {
		return "", err
	}
	l := strings.Split(out, "\n")
	if len(l) != 2 || l[0] != name || !strings.HasPrefix(l[1], "100") {
		return "", fmt.Errorf("NetworkManager: %q", out)
	}
	return "NetworkManager: connection " + l[0] + ", " + l[1], nil
}

// ifupdownConsumed checks that ifupdown holds interface name as up
// (ifquery --state: its state under /run, made this boot) and that the
// link has the address and MTU that ifquery reads from the agent's file.
func ifupdownConsumed(name string) (string, error) {
	if st, _ := sh("ifquery", "--state", name); st != name+"="+name {
		return "", fmt.Errorf("ifupdown does not hold %s as up (ifquery --state: %q)", name, st)
	}
	out, err := sh("ifquery", name)
	if err != nil {
		return "", err
	}
	opts := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			if _, seen := opts[k]; !seen {
				opts[k] = strings.TrimSpace(v)
			}
		}
	}
	ls, err := nics()
	if err != nil {
		return "", err
	}
	k := slices.IndexFunc(ls, func(l links.Link) bool { return l.Name == name })
	if k < 0 {
		return "", fmt.Errorf("no link %s", name)
	}
	l := ls[k]
	got := []string{"up"}
	if a := opts["address"]; a != "" {
		bits, err := maskBits(opts["netmask"])
		if err != nil {
			return "", fmt.Errorf("ifquery %s: netmask %q: %v", name, opts["netmask"], err)
		}
		p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a, bits))
		if err != nil {
			return "", fmt.Errorf("ifquery %s: %v", name, err)
		}
		if !slices.Contains(l.Addrs, p) {
			return "", fmt.Errorf("ifquery reads address %s for %s, the link has %v", p, name, l.Addrs)
		}
		got = append(got, "address "+p.String())
	}
	if m := opts["mtu"]; m != "" {
		if m != strconv.Itoa(l.MTU) {
			return "", fmt.Errorf("ifquery reads mtu %s for %s, the link has %d", m, name, l.MTU)
		}
		got = append(got, "mtu "+m)
	}
	return fmt.Sprintf("ifupdown: %s %s (ifquery)", name, strings.Join(got, ", ")), nil
}

// maskBits reads ifquery's netmask: a prefix length (IPv6) or a dotted
// mask (IPv4).
func maskBits(mask string) (int, error) {
	if n, err := strconv.Atoi(mask); err == nil {
		return n, nil
	}
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("not a netmask")
	}
	b := a.As4()
	ones, bits := net.IPMask(b[:]).Size()
	if bits == 0 {
		return 0, fmt.Errorf("not a contiguous netmask")
	}
	return ones, nil
}

// resetNode removes every file the agent wrote (by their header), lets the
// running daemons forget them and puts the NICs back as the kernel named
// them, with MTU 1500 and no address: the next phase starts on a node the
// agent never saw.
func resetNode(g *G) error {
	files := managedFiles()
	for p := range files {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	// The takeover's files too, should the agent have left them (they
	// have no header).
	for _, r := range rows {
		if path, data := previousFile(r); bytes.Equal(readOrNil(path), data) {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	if prop("NetworkManager.service", "ActiveState") == "active" {
		if _, err := sh("nmcli", "connection", "reload"); err != nil {
			return err
		}
	}
	if _, err := sh("netplan", "generate"); err != nil {
		return err
	}
	if prop("systemd-networkd.service", "ActiveState") == "active" {
		if _, err := sh("networkctl", "reload"); err != nil {
			return err
		}
	}
	h, err := links.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	ls, err := h.List()
	if err != nil {
		return err
	}
	for _, r := range rows {
		l := byMAC(ls, r.mac)
		if l == nil {
			return fmt.Errorf("no NIC with MAC %s", r.mac)
		}
		if first := g.val("name:" + r.mac); l.Name != first {
			if err := h.Rename(l.Index, first); err != nil {
				return err
			}
		}
		if err := h.SetMTU(l.Index, 1500); err != nil {
			return err
		}
		for _, a := range l.Addrs {
			if err := h.DelAddr(l.Index, a); err != nil {
				return err
			}
		}
		if err := h.SetUp(l.Index, false); err != nil {
			return err
		}
	}
	return nil
}

func stackStep(g *G, p phase) {
	ok := g.check("the node reset: no file of the agent, NICs as the kernel named them", func() (string, error) {
		n := len(managedFiles())
		return fmt.Sprintf("%d files removed", n), resetNode(g)
	})
	ok = ok && g.check("network stack for "+p.backend, func() (string, error) {
		return "", p.stack(g)
	})
	if !ok {
		g.abort("the network stack could not be set up")
		return
	}
	g.within("management NIC up with the default route", time.Minute, mgmtOK)
	g.within("secondary NICs as the kernel named them, MTU 1500, no address", 30*time.Second, func() (string, error) {
		ls, err := nics()
		if err != nil {
			return "", err
		}
		var out []string
		for _, r := range rows {
			l := byMAC(ls, r.mac)
			if l == nil || l.Name != g.val("name:"+r.mac) || l.MTU != 1500 || len(l.Addrs) != 0 {
				return "", fmt.Errorf("%s: %+v", r.mac, l)
			}
			out = append(out, l.Name)
		}
		return strings.Join(out, ", "), nil
	})
}

// --- install ----------------------------------------------------------------

func config(p phase) string {
	return fmt.Sprintf(`
# Set by the VM test (as an operator edits the file):
DB_HOST=127.0.0.1
DB_USER=multinic_agent
DB_PASSWORD=%s
DB_NAME=multinic
NETWORK_BACKEND=%s
POLL_INTERVAL=2s
POLL_JITTER=0
BACKOFF_MAX_INTERVAL=8s
LOG_LEVEL=debug
`, password, p.backend)
}

func install(g *G, p phase) {
	var ok bool
	if p.deb {
		ok = g.check("apt-get install ./multinic-agent.deb: installed, not enabled", func() (string, error) {
			out, err := sh("apt-get", "install", "-y", payload+"/multinic-agent.deb")
			if err != nil {
				return "", err
			}
			if !strings.Contains(out, "created /etc/multinic-agent/config.env (0600)") || !strings.Contains(out, "systemctl enable --now") {
				return "", fmt.Errorf("the package did not say what to do next: %s", lastLines(out, 10))
			}
			if e := prop("multinic-agent.service", "UnitFileState"); e != "disabled" {
				return "", fmt.Errorf("unit file state %q after install, want disabled", e)
			}
			return "unit " + prop("multinic-agent.service", "FragmentPath"), nil
		})
	} else {
		ok = g.check("scripts/install-daemon.sh --binary: installed and enabled", func() (string, error) {
			out, err := sh(payload+"/scripts/install-daemon.sh", "--binary", payload+"/multinic-agent")
			if err != nil {
				return "", err
			}
			if !strings.Contains(out, "created /etc/multinic-agent/config.env (0600)") || !strings.Contains(out, "systemctl enable") {
				return "", fmt.Errorf("install output: %s", lastLines(out, 12))
			}
			if e := prop("multinic-agent.service", "UnitFileState"); e != "enabled" {
				return "", fmt.Errorf("unit file state %q", e)
			}
			return "unit " + prop("multinic-agent.service", "FragmentPath") + ", enabled", nil
		})
	}
	ok = ok && g.check("config.env set (mode 0600 kept)", func() (string, error) {
		const path = "/etc/multinic-agent/config.env"
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return "", err
		}
		_, err = f.WriteString(config(p))
		f.Close()
		st, serr := os.Stat(path)
		if err == nil && serr == nil && st.Mode().Perm() != 0o600 {
			err = fmt.Errorf("mode %o", st.Mode().Perm())
		}
		return "NETWORK_BACKEND=" + p.backend + ", DB over TCP to 127.0.0.1", errors.Join(err, serr)
	})
	if !ok {
		g.abort("the agent could not be installed")
		return
	}
	g.check("multinic-agent doctor passes", func() (string, error) {
		out, err := sh("multinic-agent", "doctor")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d checks", strings.Count(out, "PASS")), nil
	})
	if p.before != nil && p.before.planned != nil {
		p.before.planned(g, p)
	}
	g.setVal("cursor:"+p.name, cursor())
	g.setVal("mgmt file before start:"+p.name, fileID(mgmtGenerated))
	verb := []string{"start", "multinic-agent"}
	if p.deb {
		verb = []string{"enable", "--now", "multinic-agent"}
	}
	start := time.Now()
	ok = g.check("systemctl "+strings.Join(verb, " ")+" returns once READY=1 is sent (Type=notify)", func() (string, error) {
		if _, err := sh("systemctl", verb...); err != nil {
			return "", err
		}
		took := time.Since(start)
		if s := prop("multinic-agent", "ActiveState") + "/" + prop("multinic-agent", "SubState"); s != "active/running" {
			return "", fmt.Errorf("unit is %s", s)
		}
		return fmt.Sprintf("returned after %.1fs, active/running, Type=%s", took.Seconds(), prop("multinic-agent", "Type")), nil
	})
	g.setVal("mgmt file after start:"+p.name, fileID(mgmtGenerated))
	if !ok {
		g.abort("the agent did not start")
		return
	}
	// READY=1 comes after the first cycle: when start returned, the NICs
	// were done already.
	g.check("when start returned, the first cycle had configured every row", func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := linkIs(r.mac, r.name, r.mtu, r.addr)
			if err != nil {
				return "", err
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
}

// --- sandbox ----------------------------------------------------------------

func sandbox(g *G, p phase) {
	log := agentLog(g.val("cursor:" + p.name))
	g.check("every row's NIC renamed, MTU and address set, up (netlink under the sandbox)", func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := linkIs(r.mac, r.name, r.mtu, r.addr)
			if err != nil {
				return "", err
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
	g.check("the backend's files written, with the header and their modes", func() (string, error) {
		var n int
		for _, r := range rows {
			for path, mode := range p.files(r.name) {
				if err := isOurs(path, mode); err != nil {
					return "", err
				}
				n++
			}
		}
		return fmt.Sprintf("%d files", n), nil
	})
	g.check("the log: backend detected, activation ran, only for "+p.backend, func() (string, error) {
		det := find(log, "Operating system detected")
		if len(det) == 0 || det[0].s("backend") != p.backend {
			return "", fmt.Errorf("no 'Operating system detected' with backend %s: %v", p.backend, det)
		}
		act := find(log, "activated")
		if len(act) == 0 {
			return "", errors.New("no 'activated' line")
		}
		for _, e := range append(act, find(log, "activation skipped")...) {
			if e.s("backend") != p.backend {
				return "", fmt.Errorf("activation of another backend: %s", e.s("backend"))
			}
		}
		if f := find(log, "activation failed"); len(f) > 0 {
			return "", fmt.Errorf("activation failed: %s", f[0].s("error"))
		}
		return fmt.Sprintf("%s on %s; activated %s %s", det[0].s("os"), det[0].s("backend"), act[0].s("backend"), act[0].s("interfaces")), nil
	})
	g.within("the backend's daemon runs each NIC from the agent's file", 30*time.Second, func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := p.consumed(r.name)
			if err != nil {
				return "", fmt.Errorf("%s: %w", r.name, err)
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
	g.check("the gateway probe answered (ICMP with CAP_NET_RAW)", func() (string, error) {
		if bad := find(log, "default gateway does not answer"); len(bad) > 0 {
			return "", fmt.Errorf("%s: %s", bad[0].s("gateway"), bad[0].s("error"))
		}
		ok := find(log, "default gateway answers")
		if len(ok) == 0 {
			// The gateways are probed only before a change to a link: a
			// takeover that changes nothing live probes none (yet).
			for _, a := range find(log, "applied") {
				for _, live := range []string{"rename ", "set mtu", "add address", "remove address", "set link", "stop learning"} {
					if strings.HasPrefix(a.s("action"), live) {
						return "", fmt.Errorf("no gateway probe in the log, although it applied %s", a.s("action"))
					}
				}
			}
			return "no link changed yet, so no gateway probed", nil
		}
		return "gateway " + ok[0].s("gateway"), nil
	})
	g.check("no error, no warning and no line that is not JSON in the agent's log", func() (string, error) {
		for _, e := range log {
			if e.M == nil {
				return "", fmt.Errorf("not JSON: %q", e.Raw)
			}
			if l := e.s("level"); l == "ERROR" || l == "WARN" {
				return "", fmt.Errorf("%s: %s: %s", l, e.s("msg"), e.s("error"))
			}
		}
		return fmt.Sprintf("%d lines", len(log)), nil
	})
	// accept_ra 0 alone keeps the kernel from learning; autoconf may stay
	// as the network daemon left it.
	g.check("router advertisements off on every row's NIC (accept_ra 0)", func() (string, error) {
		for _, r := range rows {
			for _, k := range []string{"accept_ra"} {
				b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + r.name + "/" + k)
				if err != nil {
					return "", err
				}
				if v := strings.TrimSpace(string(b)); v != "0" {
					return "", fmt.Errorf("%s %s = %s", r.name, k, v)
				}
			}
		}
		return "", nil
	})
	g.check("netplan_success = 1 in every row", allSuccess)
	g.check("the unit runs with the shipped sandbox", func() (string, error) {
		caps := prop("multinic-agent", "CapabilityBoundingSet")
		want := []string{"cap_chown", "cap_net_admin", "cap_net_raw"}
		got := strings.Fields(caps)
		slices.Sort(got)
		if !slices.Equal(got, want) || prop("multinic-agent", "ProtectSystem") != "strict" || prop("multinic-agent", "NoNewPrivileges") != "yes" {
			return "", fmt.Errorf("CapabilityBoundingSet=%s ProtectSystem=%s NoNewPrivileges=%s", caps, prop("multinic-agent", "ProtectSystem"), prop("multinic-agent", "NoNewPrivileges"))
		}
		out, _ := sh("systemd-analyze", "security", "--no-pager", "multinic-agent.service")
		m := regexp.MustCompile(`Overall exposure level for multinic-agent.service: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			return "", fmt.Errorf("systemd-analyze security: %s", lastLines(out, 3))
		}
		if v, _ := strconv.ParseFloat(m[1], 64); v > 2.5 {
			return "", fmt.Errorf("exposure %s, above 2.5", m[1])
		}
		return "capabilities " + strings.Join(got, " ") + ", ProtectSystem=strict, exposure " + m[1], nil
	})
	g.check("the management NIC untouched", mgmtOK)
}

func isOurs(path string, mode os.FileMode) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm() != mode {
		return fmt.Errorf("%s has mode %o, want %o", path, st.Mode().Perm(), mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(b), "# Managed by multinic-agent") {
		return fmt.Errorf("%s has no header", path)
	}
	return nil
}

func allSuccess() (string, error) {
	s, err := success()
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if s[r.id] != 1 {
			return "", fmt.Errorf("row %d: netplan_success=%d", r.id, s[r.id])
		}
	}
	return fmt.Sprintf("rows %d-%d", rows[0].id, rows[len(rows)-1].id), nil
}

// --- health -----------------------------------------------------------------

func healthy(p phase, code int, body string, n int) (string, error) {
	h, err := parseHealth(body)
	if err != nil {
		return "", fmt.Errorf("HTTP %d: %v: %.200s", code, err, body)
	}
	if code != 200 || h.Status != "healthy" || !h.DBOK || h.Components.NetworkManager.Type != p.backend || len(h.Interfaces) != n {
		return "", fmt.Errorf("HTTP %d, status %s, database_connected %v, backend %s, interfaces: %s", code, h.Status, h.DBOK, h.Components.NetworkManager.Type, h.states())
	}
	for _, i := range h.Interfaces {
		if i.State != "configured" {
			return "", fmt.Errorf("row %d is %s: %s", i.ID, i.State, i.Error)
		}
	}
	return fmt.Sprintf("HTTP 200 healthy, %s", h.states()), nil
}

func health(g *G, p phase) {
	g.check("inside: GET / healthy, every row configured", func() (string, error) {
		code, body, err := get("/")
		if err != nil {
			return "", err
		}
		return healthy(p, code, body, len(rows))
	})
	g.check("inside: /healthz and /readyz 200", func() (string, error) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body, err := get(path); err != nil || code != 200 {
				return "", fmt.Errorf("%s: %d %v %s", path, code, err, body)
			}
		}
		return "", nil
	})
	g.check("inside: /metrics", func() (string, error) {
		code, m, err := get("/metrics")
		if err != nil || code != 200 {
			return "", fmt.Errorf("%d %v", code, err)
		}
		want := map[string]string{`multinic_interfaces{state="configured"}`: "3", "multinic_db_connection_status": "1", "multinic_polling_backoff_level": "0"}
		for k, v := range want {
			if got := metric(m, k); got != v {
				return "", fmt.Errorf("%s = %q, want %s", k, got, v)
			}
		}
		info := regexp.MustCompile(`multinic_agent_info\{[^}]*node_name="([^"]+)"`).FindStringSubmatch(m)
		if info == nil {
			return "", errors.New("no multinic_agent_info")
		}
		return "3 configured, database connected, node_name " + info[1] + ", cycles " + metric(m, "multinic_polling_cycles_total"), nil
	})
	g.check("from the host (hostfwd to 10.0.2.15:8080): GET / healthy", func() (string, error) {
		res, err := g.host(proto.HTTPGet, "/")
		if err != nil {
			return "", err
		}
		return healthy(p, res.Code, res.Body, len(rows))
	})
	g.check("from the host: /readyz 200 and /metrics", func() (string, error) {
		res, err := g.host(proto.HTTPGet, "/readyz")
		if err != nil || res.Code != 200 {
			return "", fmt.Errorf("/readyz: %d %v", res.Code, err)
		}
		res, err = g.host(proto.HTTPGet, "/metrics")
		if err != nil || res.Code != 200 || metric(res.Body, "multinic_db_connection_status") != "1" {
			return "", fmt.Errorf("/metrics: %d %v", res.Code, err)
		}
		return fmt.Sprintf("%d bytes of metrics", len(res.Body)), nil
	})
}

// --- drift ------------------------------------------------------------------

func withLink(mac string, f func(h *links.Handle, l links.Link) error) error {
	h, err := links.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	ls, err := h.List()
	if err != nil {
		return err
	}
	l := byMAC(ls, mac)
	if l == nil {
		return fmt.Errorf("no link with MAC %s", mac)
	}
	return f(h, *l)
}

func drift(g *G, p phase) {
	a := rows[0]
	addr := netip.MustParsePrefix(a.addr)
	ok := g.check("ip addr del "+a.addr+" dev "+a.name+" (by hand)", func() (string, error) {
		return "", withLink(a.mac, func(h *links.Handle, l links.Link) error { return h.DelAddr(l.Index, addr) })
	})
	if ok {
		g.within("the address is back (netlink event)", 20*time.Second, func() (string, error) {
			return linkIs(a.mac, a.name, a.mtu, a.addr)
		})
	}
	ok = g.check("ip link set "+a.name+" mtu 1500 (by hand)", func() (string, error) {
		return "", withLink(a.mac, func(h *links.Handle, l links.Link) error { return h.SetMTU(l.Index, 1500) })
	})
	if ok {
		g.within("the MTU is back", 20*time.Second, func() (string, error) {
			return linkIs(a.mac, a.name, a.mtu, a.addr)
		})
	}
	// A hand edit of a setting: the MTU in the file that holds it (a
	// comment alone is no drift: keyfiles are compared by their settings).
	var path string
	var before []byte
	for f := range p.files(a.name) {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "9000") {
			path, before = f, b
		}
	}
	ok = g.check("a hand edit of the MTU in "+path, func() (string, error) {
		if path == "" {
			return "", fmt.Errorf("no file of %s holds its MTU 9000", a.name)
		}
		return "9000 -> 1280", os.WriteFile(path, []byte(strings.Replace(string(before), "9000", "1280", 1)), 0o600)
	})
	if ok {
		g.within("the file is rewritten (next poll)", 30*time.Second, func() (string, error) {
			now, err := os.ReadFile(path)
			if err != nil || string(now) != string(before) {
				return "", fmt.Errorf("%s not restored (%v)", path, err)
			}
			return "", isOurs(path, p.files(a.name)[path])
		})
	}
	ok = g.check("UPDATE multi_interface SET mtu = 1450 (the row changed)", func() (string, error) {
		return "", dbExec("UPDATE multi_interface SET mtu = 1450 WHERE id = ?", a.id)
	})
	if ok {
		g.within("the new MTU applied, and by the backend's daemon", 30*time.Second, func() (string, error) {
			s, err := linkIs(a.mac, a.name, 1450, a.addr)
			if err != nil {
				return "", err
			}
			c, err := p.consumed(a.name)
			return s + "; " + c, err
		})
		g.check("UPDATE back to 9000", func() (string, error) {
			return "", dbExec("UPDATE multi_interface SET mtu = ? WHERE id = ?", a.mtu, a.id)
		})
		g.within("MTU 9000 again", 30*time.Second, func() (string, error) { return linkIs(a.mac, a.name, a.mtu, a.addr) })
	}
	g.check("drift counted in the metrics", func() (string, error) {
		_, m, err := get("/metrics")
		if err != nil {
			return "", err
		}
		var out []string
		for _, k := range []string{"address", "mtu", "file"} {
			v := metric(m, `multinic_configuration_drifts_total{drift_type="`+k+`"}`)
			if v == "" || v == "0" {
				return "", fmt.Errorf("drift %s: %q", k, v)
			}
			out = append(out, k+" "+v)
		}
		return strings.Join(out, ", "), nil
	})
}

// --- hot-plug ---------------------------------------------------------------

func hotplug(g *G, p phase, slot int) {
	d := hotplugged
	dev := fmt.Sprintf("hp-%s", p.name)
	var id int64
	ok := g.check("a row for a NIC not plugged in yet", func() (string, error) {
		dbh, err := db()
		if err != nil {
			return "", err
		}
		defer dbh.Close()
		res, err := dbh.Exec(`INSERT INTO multi_interface (port_id, subnet_id, macaddress, attached_node_name, address, mtu) VALUES (?, 's4', ?, ?, ?, 1500)`,
			"port-hotplug-"+p.name, d.mac, node, strings.Split(d.addr, "/")[0])
		if err != nil {
			return "", err
		}
		id, err = res.LastInsertId()
		return fmt.Sprintf("row %d, %s", id, d.mac), err
	})
	if !ok {
		return
	}
	g.within("health says nic-missing for it", 20*time.Second, func() (string, error) {
		_, body, err := get("/")
		h, _ := parseHealth(body)
		for _, i := range h.Interfaces {
			if i.ID == id && i.State == "nic-missing" {
				return i.Error, nil
			}
		}
		return "", fmt.Errorf("%v: %s", err, h.states())
	})
	cur := cursor()
	ok = g.check("device_add virtio-net-pci through the qemu monitor", func() (string, error) {
		_, err := g.host(proto.HotplugAdd, dev, strconv.Itoa(slot), d.mac)
		return dev, err
	})
	if !ok {
		return
	}
	g.within("the new NIC named, addressed and up; netplan_success = 1", time.Minute, func() (string, error) {
		s, err := linkIs(d.mac, d.name, d.mtu, d.addr)
		if err != nil {
			return "", err
		}
		st, err := success()
		if err != nil || st[id] != 1 {
			return "", fmt.Errorf("netplan_success %d %v", st[id], err)
		}
		return s, nil
	})
	g.check("the rename is logged under the name the NIC had (the kernel's log agrees)", func() (string, error) {
		var from string
		for _, e := range find(agentLog(cur), "applied") {
			if a := e.s("action"); strings.HasPrefix(a, "rename ") && strings.HasSuffix(a, " -> "+d.name) {
				from = strings.TrimSuffix(strings.TrimPrefix(a, "rename "), " -> "+d.name)
			}
		}
		kernel := kernelRenames(d.name)
		if from == "" || len(kernel) == 0 {
			return "", fmt.Errorf("agent: rename from %q, kernel: %v", from, kernel)
		}
		if last := kernel[len(kernel)-1]; from != last {
			return "", fmt.Errorf("the agent logged rename %s -> %s, the kernel renamed it from %s", from, d.name, last)
		}
		return fmt.Sprintf("rename %s -> %s (kernel: renamed from %s)", from, d.name, strings.Join(kernel, ", ")), nil
	})
	g.check("its files written", func() (string, error) {
		for path, mode := range p.files(d.name) {
			if err := isOurs(path, mode); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	ok = g.check("device_del through the qemu monitor", func() (string, error) {
		_, err := g.host(proto.HotplugDel, dev)
		return "", err
	})
	if ok {
		g.within("the NIC is gone: nic-missing, its files kept while the row exists", 30*time.Second, func() (string, error) {
			ls, err := nics()
			if err != nil {
				return "", err
			}
			if byMAC(ls, d.mac) != nil {
				return "", errors.New("the link is still there")
			}
			_, body, _ := get("/")
			h, _ := parseHealth(body)
			missing := false
			for _, i := range h.Interfaces {
				missing = missing || (i.ID == id && i.State == "nic-missing")
			}
			if !missing {
				return "", fmt.Errorf("health: %s", h.states())
			}
			for path := range p.files(d.name) {
				if !exists(path) {
					return "", fmt.Errorf("%s removed while its row exists", path)
				}
			}
			return h.states(), nil
		})
	}
	g.check("DELETE its row", func() (string, error) { return "", dbExec("DELETE FROM multi_interface WHERE id = ?", id) })
	g.within("its files removed after two reads without the row, and counted", 30*time.Second, func() (string, error) {
		for path := range p.files(d.name) {
			if exists(path) {
				return "", fmt.Errorf("%s still there", path)
			}
		}
		_, m, _ := get("/metrics")
		if n := metric(m, "multinic_orphaned_interfaces_deleted_total"); n == "" || n == "0" {
			return "", fmt.Errorf("multinic_orphaned_interfaces_deleted_total %q", n)
		}
		return "multinic_orphaned_interfaces_deleted_total " + metric(m, "multinic_orphaned_interfaces_deleted_total"), nil
	})
	g.within("healthy again with the three rows", 20*time.Second, func() (string, error) {
		code, body, err := get("/")
		if err != nil {
			return "", err
		}
		return healthy(p, code, body, len(rows))
	})
}

// --- kill -9 ----------------------------------------------------------------

func killNine(g *G, p phase) {
	pid := prop("multinic-agent", "MainPID")
	restarts := prop("multinic-agent", "NRestarts")
	before, _ := snapshot()
	ok := g.check("kill -9 the agent (pid "+pid+")", func() (string, error) {
		_, err := sh("kill", "-9", pid)
		return "", err
	})
	if !ok {
		return
	}
	cur := cursor()
	g.within("systemd restarted it (Restart=always) and it is ready", time.Minute, func() (string, error) {
		now := prop("multinic-agent", "MainPID")
		if now == pid || now == "0" || prop("multinic-agent", "ActiveState") != "active" || prop("multinic-agent", "SubState") != "running" {
			return "", fmt.Errorf("MainPID %s, %s/%s", now, prop("multinic-agent", "ActiveState"), prop("multinic-agent", "SubState"))
		}
		if code, _, err := get("/readyz"); err != nil || code != 200 {
			return "", fmt.Errorf("/readyz %d %v", code, err)
		}
		n0, _ := strconv.Atoi(restarts)
		if n, _ := strconv.Atoi(prop("multinic-agent", "NRestarts")); n != n0+1 {
			return "", fmt.Errorf("NRestarts %d, want %d", n, n0+1)
		}
		return "new pid " + now + ", NRestarts " + prop("multinic-agent", "NRestarts"), nil
	})
	g.check("the restarted agent found the node in sync and changed nothing", func() (string, error) {
		if applied := find(agentLog(cur), "applied"); len(applied) > 0 {
			return "", fmt.Errorf("it applied %s", applied[0].s("action"))
		}
		after, err := snapshot()
		if err != nil || after != before {
			return "", fmt.Errorf("the node changed:\n%s\n->\n%s", before, after)
		}
		return "same links, addresses and files", nil
	})
}

// --- database down ------------------------------------------------------------

func dbDown(g *G, p phase) {
	before, _ := snapshot()
	cur := cursor()
	ok := g.check("systemctl stop mariadb.socket mariadb.service", func() (string, error) {
		if _, err := sh("systemctl", "stop", "mariadb.socket", "mariadb.service"); err != nil {
			return "", err
		}
		return prop("mariadb.service", "ActiveState") + ", socket " + prop("mariadb.socket", "ActiveState"), nil
	})
	if !ok {
		return
	}
	g.within("/readyz 503, / 503 unhealthy, /healthz 200", 30*time.Second, func() (string, error) {
		code, _, err := get("/readyz")
		if err != nil || code != 503 {
			return "", fmt.Errorf("/readyz %d %v", code, err)
		}
		code, body, _ := get("/")
		h, _ := parseHealth(body)
		if code != 503 || h.Status != "unhealthy" || h.DBOK {
			return "", fmt.Errorf("/ %d %s database_connected=%v", code, h.Status, h.DBOK)
		}
		if code, _, _ := get("/healthz"); code != 200 {
			return "", fmt.Errorf("/healthz %d", code)
		}
		return "", nil
	})
	time.Sleep(8 * time.Second) // several failed cycles (2 s, then backing off)
	g.check("after 8 s of failed cycles nothing was removed or changed", func() (string, error) {
		after, err := snapshot()
		if err != nil || after != before {
			return "", fmt.Errorf("the node changed:\n%s\n->\n%s", before, after)
		}
		_, m, _ := get("/metrics")
		return "backoff level " + metric(m, "multinic_polling_backoff_level"), nil
	})
	g.check("every line the agent logged meanwhile is JSON (the database driver's too)", func() (string, error) {
		log := agentLog(cur)
		for _, e := range log {
			if e.M == nil {
				return "", fmt.Errorf("not JSON: %q", e.Raw)
			}
		}
		return fmt.Sprintf("%d lines, %d from the database driver, %d failed cycles", len(log), len(find(log, "database driver")), len(find(log, "reconcile failed"))), nil
	})
	ok = g.check("systemctl start mariadb.socket mariadb.service", func() (string, error) {
		_, err := sh("systemctl", "start", "mariadb.socket", "mariadb.service")
		return "", err
	})
	if ok {
		g.within("ready and healthy again", time.Minute, func() (string, error) {
			if code, _, err := get("/readyz"); err != nil || code != 200 {
				return "", fmt.Errorf("/readyz %d %v", code, err)
			}
			code, body, err := get("/")
			if err != nil {
				return "", err
			}
			return healthy(p, code, body, len(rows))
		})
	}
}

// --- reboots ----------------------------------------------------------------

// mgmtReconfigurations counts what the network daemon logged about
// reconfiguring the management NIC since the phase's install.
func mgmtReconfigurations(after string) []string {
	var out []string
	for _, m := range journal(after, "systemd-networkd") {
		if strings.HasPrefix(m, "mgmt0: Reconfiguring") || strings.HasPrefix(m, "mgmt0: Lost carrier") {
			out = append(out, m)
		}
	}
	for _, m := range journal(after, "NetworkManager") {
		if strings.Contains(m, "device (mgmt0): state change") || strings.Contains(m, "device (mgmt0): Activation") {
			out = append(out, m)
		}
	}
	return out
}

// mgmtGenerated is the management NIC's .network on netplan nodes, from
// netplan's generator.
const mgmtGenerated = "/run/systemd/network/10-netplan-mgmt0.network"

// fileID is a file's inode and mtime: what networkd compares to take a
// file for changed.
func fileID(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "none"
	}
	return fmt.Sprintf("inode %d mtime %d.%09d", st.Ino, st.Mtim.Sec, st.Mtim.Nsec)
}

func disableAndReboot(g *G, p phase) {
	// On netplan nodes too: the generator rewrites every file it
	// generates, and the agent puts back the ones that came out unchanged,
	// and after the install's daemon-reloads (which run netplan's systemd
	// generator) the ones networkd read, from the install's snapshot.
	r := mgmtReconfigurations(g.val("cursor:" + p.name))
	g.check("the agent's activations never made the network daemon touch the management NIC", func() (string, error) {
		if len(r) > 0 {
			return "", fmt.Errorf("%d times, first: %s (%s: %s before the start, %s after)", len(r), r[0], mgmtGenerated,
				g.val("mgmt file before start:"+p.name), g.val("mgmt file after start:"+p.name))
		}
		return "no reconfiguration of mgmt0 since the install", nil
	})
	g.check("systemctl disable --now: the agent stops with status 0", func() (string, error) {
		if _, err := sh("systemctl", "disable", "--now", "multinic-agent"); err != nil {
			return "", err
		}
		if st := prop("multinic-agent", "ExecMainStatus"); st != "0" || prop("multinic-agent", "ActiveState") != "inactive" {
			return "", fmt.Errorf("exit status %s, %s", st, prop("multinic-agent", "ActiveState"))
		}
		return "inactive, disabled, exit 0", nil
	})
}

// fromFiles checks a boot's work from whose files: "the agent's", or "the
// previous agent's" on the takeover's node.
func fromFiles(g *G, p phase, whose string) {
	g.within("names, MTUs and addresses as the rows say", 2*time.Minute, func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := linkIs(r.mac, r.name, r.mtu, r.addr)
			if err != nil {
				return "", err
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
	g.check("each NIC named at boot by the .link from "+whose+" files", func() (string, error) {
		var out []string
		for _, r := range rows {
			o, err := sh("udevadm", "info", "-q", "property", "-p", "/sys/class/net/"+r.name)
			if err != nil {
				return "", err
			}
			m := regexp.MustCompile(`(?m)^ID_NET_LINK_FILE=(\S+)`).FindStringSubmatch(o)
			if m == nil || m[1] != p.linkFile(r.name) {
				return "", fmt.Errorf("%s: ID_NET_LINK_FILE %v, want %s", r.name, m, p.linkFile(r.name))
			}
			out = append(out, m[1])
		}
		return strings.Join(out, ", "), nil
	})
	g.within("the backend's daemon runs each NIC from "+whose+" file", time.Minute, func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := p.consumed(r.name)
			if err != nil {
				return "", fmt.Errorf("%s: %w", r.name, err)
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
	g.within("the management NIC up with the default route", time.Minute, mgmtOK)
}

// raAtBoot says what the network daemon left in each NIC's accept_ra and
// autoconf.
func raAtBoot() string {
	var out []string
	for _, r := range rows {
		v := r.name
		for _, k := range []string{"accept_ra", "autoconf"} {
			b, _ := os.ReadFile("/proc/sys/net/ipv6/conf/" + r.name + "/" + k)
			v += " " + k + " " + strings.TrimSpace(string(b))
		}
		out = append(out, v)
	}
	return strings.Join(out, "; ")
}

func afterDisabled(g *G, p phase) {
	g.check("the agent did not run this boot", func() (string, error) {
		if s := prop("multinic-agent", "ActiveState"); s != "inactive" {
			return "", fmt.Errorf("it is %s", s)
		}
		if l := agentLog(""); len(l) > 0 {
			return "", fmt.Errorf("it logged %d lines this boot", len(l))
		}
		return "inactive, nothing in the journal this boot", nil
	})
	fromFiles(g, p, "the agent's")
	g.note("IPv6 settings from the files alone: %s", raAtBoot())
	g.check("systemctl enable multinic-agent", func() (string, error) {
		_, err := sh("systemctl", "enable", "multinic-agent")
		return "", err
	})
}

func afterEnabled(g *G, p phase) {
	g.within("the agent is running", 2*time.Minute, func() (string, error) {
		if s := prop("multinic-agent", "ActiveState") + "/" + prop("multinic-agent", "SubState"); s != "active/running" {
			return "", errors.New(s)
		}
		return "", nil
	})
	g.check("it started after the database (After=mariadb.service)", func() (string, error) {
		db, _ := strconv.ParseInt(prop("mariadb.service", "ActiveEnterTimestampMonotonic"), 10, 64)
		agent, _ := strconv.ParseInt(prop("multinic-agent", "ExecMainStartTimestampMonotonic"), 10, 64)
		if db == 0 || agent < db {
			return "", fmt.Errorf("mariadb active at %d µs, agent started at %d µs", db, agent)
		}
		return fmt.Sprintf("mariadb active at %.1fs, agent started at %.1fs after boot", float64(db)/1e6, float64(agent)/1e6), nil
	})
	fromFiles(g, p, "the agent's")
	// A NIC that networkd or NetworkManager brought up has accept_ra 0
	// and autoconf 1: not learning, and no drift.
	g.check("its first cycle found everything in sync: nothing applied", func() (string, error) {
		log := agentLog("")
		if applied := find(log, "applied"); len(applied) > 0 {
			a := applied[0]
			return "", fmt.Errorf("it applied %d changes, first %s (drift %q) on %s", len(applied), a.s("action"), a.s("drift"), a.s("name"))
		}
		for _, e := range find(log, "reconcile finished") {
			if e.s("trigger") == "start" {
				if !strings.HasSuffix(e.s("msg"), "in sync") {
					return "", fmt.Errorf("first cycle: %s changed=%s failed=%s", e.s("msg"), e.s("changed"), e.s("failed"))
				}
				return "first cycle " + e.s("duration_ms") + " ms", nil
			}
		}
		return "", errors.New("no first cycle in the log")
	})
	g.check("multinic-agent plan: exit 0, nothing to change", func() (string, error) {
		out, err := sh("multinic-agent", "plan")
		return lastLines(out, 1), err
	})
	g.check("netplan_success = 1 in every row", allSuccess)
	g.check("from the host: GET / healthy", func() (string, error) {
		res, err := g.host(proto.HTTPGet, "/")
		if err != nil {
			return "", err
		}
		return healthy(p, res.Code, res.Body, len(rows))
	})
}

// --- uninstall ----------------------------------------------------------------

func uninstall(g *G, p phase) {
	const conf = "/etc/multinic-agent/config.env"
	removed := func(paths ...string) error {
		for _, path := range paths {
			if exists(path) {
				return fmt.Errorf("%s is still there", path)
			}
		}
		return nil
	}
	kept := func() (string, error) {
		var out []string
		for _, r := range rows {
			if _, err := linkIs(r.mac, r.name, r.mtu, r.addr); err != nil {
				return "", err
			}
			for path := range p.files(r.name) {
				if !exists(path) {
					return "", fmt.Errorf("%s removed", path)
				}
			}
			out = append(out, r.name)
		}
		if _, err := mgmtOK(); err != nil {
			return "", err
		}
		if _, _, err := get("/healthz"); err == nil {
			return "", errors.New("the health port still answers")
		}
		return "NICs and their files stay: " + strings.Join(out, ", "), nil
	}
	if p.deb {
		g.check("apt-get remove: unit and binary gone, config.env kept", func() (string, error) {
			if _, err := sh("apt-get", "remove", "-y", "multinic-agent"); err != nil {
				return "", err
			}
			if err := removed("/usr/bin/multinic-agent", "/usr/lib/systemd/system/multinic-agent.service"); err != nil {
				return "", err
			}
			if !exists(conf) {
				return "", errors.New("config.env removed by remove")
			}
			return prop("multinic-agent", "LoadState"), nil
		})
		g.check("the NICs and their files stay after the removal", kept)
		g.check("apt-get purge: config.env and the state gone", func() (string, error) {
			if _, err := sh("apt-get", "purge", "-y", "multinic-agent"); err != nil {
				return "", err
			}
			return "", removed("/etc/multinic-agent", "/var/lib/multinic-agent")
		})
		return
	}
	g.check("scripts/uninstall-daemon.sh: unit, binary and template gone, config.env and state kept", func() (string, error) {
		if _, err := sh(payload + "/scripts/uninstall-daemon.sh"); err != nil {
			return "", err
		}
		if err := removed("/usr/local/bin/multinic-agent", "/etc/systemd/system/multinic-agent.service", "/usr/local/share/multinic-agent"); err != nil {
			return "", err
		}
		if !exists(conf) || !exists("/var/lib/multinic-agent") {
			return "", errors.New("config.env or the state removed without --purge")
		}
		if ls := prop("multinic-agent", "LoadState"); ls != "not-found" {
			return "", fmt.Errorf("unit LoadState %s", ls)
		}
		return "unit not-found", nil
	})
	g.check("the NICs and their files stay after the uninstall", kept)
	g.check("scripts/uninstall-daemon.sh --purge: config.env and the state gone", func() (string, error) {
		if _, err := sh(payload+"/scripts/uninstall-daemon.sh", "--purge"); err != nil {
			return "", err
		}
		return "", removed("/etc/multinic-agent", "/var/lib/multinic-agent")
	})
}
