// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package networkd renders and reads the agent's systemd-networkd files
// (/etc/systemd/network/70-multinicN.link and .network) and reloads
// networkd. The .link file alone is also what keeps the name across a
// reboot for the NetworkManager keyfile backend.
package networkd

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Dir holds networkd's and udev's link configuration.
const Dir = "/etc/systemd/network"

var pathRE = regexp.MustCompile(`^/etc/systemd/network/70-(multinic[0-9])\.(link|network)$`)

// LinkPath is the .link file naming interface name.
func LinkPath(name string) string { return Dir + "/70-" + name + ".link" }

// NetworkPath is the .network file configuring interface name.
func NetworkPath(name string) string { return Dir + "/70-" + name + ".network" }

// Backend is the systemd-networkd backend (Debian and others).
type Backend struct{}

// Name implements netconf.Backend.
func (Backend) Name() string { return "networkd" }

// Dirs implements netconf.Backend.
func (Backend) Dirs() []string { return []string{Dir} }

// Owns implements netconf.Backend.
func (Backend) Owns(path string) (string, bool) { return netconf.NameFrom(pathRE, path) }

// OwnsLink reports whether path is the agent's .link file, which the
// keyfile and ifupdown backends write too, and for which interface.
func OwnsLink(path string) (string, bool) {
	if !strings.HasSuffix(path, ".link") {
		return "", false
	}
	return netconf.NameFrom(pathRE, path)
}

// Render implements netconf.Backend.
func (Backend) Render(i netconf.Iface) []netconf.File {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Match", "Name", i.Name),
		unit.NewUnitOption("Match", "MACAddress", i.MAC),
		unit.NewUnitOption("Match", "Type", "ether"),
	}
	if i.MTU > 0 {
		opts = append(opts, unit.NewUnitOption("Link", "MTUBytes", strconv.Itoa(i.MTU)))
	}
	opts = append(opts,
		// A secondary NIC must not hold up boot in systemd-networkd-wait-online.
		unit.NewUnitOption("Link", "RequiredForOnline", "no"),
		unit.NewUnitOption("Network", "DHCP", "no"),
		unit.NewUnitOption("Network", "IPv6AcceptRA", "no"),
		KeepStatic,
	)
	if i.Addr.IsValid() {
		opts = append(opts, unit.NewUnitOption("Network", "Address", i.Addr.String()))
	}
	return []netconf.File{RenderLink(i), {Path: NetworkPath(i.Name), Mode: 0o644, Content: serialize(i.RowID, opts)}}
}

// KeepStatic keeps `networkctl reload` from taking the address off a link
// whose .network changed. networkd (252 at least) reconfigures such a link
// by marking its addresses foreign and removing those the new file does
// not keep, and it removes the static address too unless the new file
// says KeepConfiguration=static, then adds it back about 100 ms later.
var KeepStatic = unit.NewUnitOption("Network", "KeepConfiguration", "static")

// RenderLink returns the .link file that gives the NIC with i.MAC the name
// i.Name when udev sees it (at boot or hot-plug).
func RenderLink(i netconf.Iface) netconf.File {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Match", "MACAddress", i.MAC),
		// Only the NIC itself: VLANs and bridges on it share its MAC.
		unit.NewUnitOption("Match", "Type", "ether"),
		unit.NewUnitOption("Link", "Name", i.Name),
	}
	return netconf.File{Path: LinkPath(i.Name), Mode: 0o644, Content: serialize(i.RowID, opts)}
}

func serialize(rowID int64, opts []*unit.UnitOption) []byte {
	var b bytes.Buffer
	b.WriteString(netconf.Header(rowID))
	io.Copy(&b, unit.Serialize(opts))
	return b.Bytes()
}

// values reads a unit-style file into section -> key -> values.
func values(path string, content []byte) (map[string]map[string][]string, error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]map[string][]string{}
	for _, o := range opts {
		if out[o.Section] == nil {
			out[o.Section] = map[string][]string{}
		}
		out[o.Section][o.Name] = append(out[o.Section][o.Name], o.Value)
	}
	return out, nil
}

func one(v map[string]map[string][]string, section, key string) (string, error) {
	vals := v[section][key]
	if len(vals) != 1 {
		return "", fmt.Errorf("[%s] %s= appears %d times, expected once", section, key, len(vals))
	}
	return vals[0], nil
}

// Parse implements netconf.Backend. A .link file yields the name and MAC
// only.
func (b Backend) Parse(path string, content []byte) (netconf.Iface, error) {
	name, ok := b.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent networkd file", path)
	}
	i := netconf.Iface{Name: name}
	var err error
	if i.RowID, err = netconf.HeaderRow(content); err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	v, err := values(path, content)
	if err != nil {
		return i, err
	}
	mac, err := one(v, "Match", "MACAddress")
	if err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	if i.MAC, err = netconf.NormalMAC(mac); err != nil {
		return i, fmt.Errorf("%s: [Match] MACAddress: %w", path, err)
	}
	if strings.HasSuffix(path, ".link") {
		if n, err := one(v, "Link", "Name"); err != nil || n != name {
			return i, fmt.Errorf("%s: [Link] Name= is not %s", path, name)
		}
		return i, nil
	}
	if n, err := one(v, "Match", "Name"); err != nil || n != name {
		return i, fmt.Errorf("%s: [Match] Name= is not %s", path, name)
	}
	if mtu := v["Link"]["MTUBytes"]; len(mtu) > 0 {
		if i.MTU, err = netconf.ParseMTU(mtu[len(mtu)-1]); err != nil {
			return i, fmt.Errorf("%s: [Link] MTUBytes: %w", path, err)
		}
	}
	switch addrs := v["Network"]["Address"]; len(addrs) {
	case 0:
	case 1:
		if i.Addr, err = netconf.ParsePrefix(addrs[0]); err != nil {
			return i, fmt.Errorf("%s: [Network] Address: %w", path, err)
		}
	default:
		return i, fmt.Errorf("%s: more than one Address=", path)
	}
	return i, nil
}
