// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package ifupdown renders and reads the agent's ifupdown files
// (/etc/network/interfaces.d/multinicN, which stock Debian's
// /etc/network/interfaces sources), plus the .link file that names the NIC
// at boot, and activates them with ifup and ifdown of that interface only.
package ifupdown

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
)

// Dir holds the files /etc/network/interfaces sources.
const Dir = "/etc/network/interfaces.d"

// StateDir is ifupdown's runtime state, made at boot by networking.service.
const StateDir = "/run/network"

var pathRE = regexp.MustCompile(`^/etc/network/interfaces\.d/(multinic[0-9])$`)

// Path is the file of interface name.
func Path(name string) string { return Dir + "/" + name }

// Backend is the ifupdown backend (stock Debian).
type Backend struct{}

// Name implements netconf.Backend.
func (Backend) Name() string { return "ifupdown" }

// Dirs implements netconf.Backend.
func (Backend) Dirs() []string { return []string{Dir, networkd.Dir} }

// Owns implements netconf.Backend: the interfaces file and the .link file.
func (Backend) Owns(path string) (string, bool) {
	if name, ok := netconf.NameFrom(pathRE, path); ok {
		return name, true
	}
	return networkd.OwnsLink(path)
}

// macLine carries the MAC: ifupdown finds interfaces by name only, and
// the .link file gives the NIC with this MAC that name.
const macLine = "# mac "

// Render implements netconf.Backend. The NIC comes up when it appears
// (allow-hotplug: a NIC absent at boot does not fail networking.service);
// before it is up it stops learning from router advertisements.
func (Backend) Render(i netconf.Iface) []netconf.File {
	var b bytes.Buffer
	b.WriteString(netconf.Header(i.RowID))
	fmt.Fprintf(&b, "%s%s\n", macLine, i.MAC)
	fmt.Fprintf(&b, "allow-hotplug %s\n", i.Name)
	v4 := i.Addr.IsValid() && i.Addr.Addr().Is4()
	method := "manual"
	if v4 {
		method = "static"
	}
	fmt.Fprintf(&b, "iface %s inet %s\n", i.Name, method)
	if v4 {
		fmt.Fprintf(&b, "    address %s\n", i.Addr)
	}
	if i.MTU > 0 {
		fmt.Fprintf(&b, "    mtu %d\n", i.MTU)
	}
	fmt.Fprintf(&b, "    pre-up sysctl -q -w net.ipv6.conf.%[1]s.accept_ra=0 net.ipv6.conf.%[1]s.autoconf=0 || true\n", i.Name)
	if i.Addr.IsValid() && !v4 {
		fmt.Fprintf(&b, "iface %s inet6 static\n    address %s\n    accept_ra 0\n    autoconf 0\n", i.Name, i.Addr)
	}
	return []netconf.File{{Path: Path(i.Name), Mode: 0o644, Content: b.Bytes()}, networkd.RenderLink(i)}
}

// Parse implements netconf.Backend.
func (b Backend) Parse(path string, content []byte) (netconf.Iface, error) {
	if strings.HasSuffix(path, ".link") {
		return networkd.Backend{}.Parse(path, content)
	}
	name, ok := b.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent ifupdown file", path)
	}
	i := netconf.Iface{Name: name}
	var err error
	if i.RowID, err = netconf.HeaderRow(content); err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	family := ""
	stanzas := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if mac, ok := strings.CutPrefix(line, macLine); ok {
			if i.MAC, err = netconf.NormalMAC(mac); err != nil {
				return i, fmt.Errorf("%s line %d: %w", path, n, err)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(what string) error { return fmt.Errorf("%s line %d: %s: %q", path, n, what, line) }
		switch f[0] {
		case "allow-hotplug", "auto":
			if len(f) != 2 || f[1] != name {
				return i, bad("not " + name)
			}
		case "iface":
			if len(f) != 4 || f[1] != name || (f[2] != "inet" && f[2] != "inet6") || stanzas[f[2]] {
				return i, bad("expected one `iface " + name + " inet|inet6 METHOD` each")
			}
			family = f[2]
			stanzas[family] = true
		case "address":
			if family == "" || len(f) != 2 || i.Addr.IsValid() {
				return i, bad("one address, inside an iface stanza")
			}
			if i.Addr, err = netconf.ParsePrefix(f[1]); err != nil || i.Addr.Addr().Is4() != (family == "inet") {
				return i, bad("not an address/prefix of the stanza's family")
			}
		case "mtu":
			if family != "inet" || len(f) != 2 {
				return i, bad("mtu belongs to the inet stanza")
			}
			if i.MTU, err = netconf.ParseMTU(f[1]); err != nil {
				return i, fmt.Errorf("%s line %d: %w", path, n, err)
			}
		case "pre-up", "accept_ra", "autoconf":
		default:
			return i, bad("not an option the agent writes")
		}
	}
	if i.MAC == "" {
		return i, fmt.Errorf("%s: no %q line", path, strings.TrimSpace(macLine)+" MAC")
	}
	return i, nil
}
