// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package keyfile renders and reads the agent's NetworkManager keyfiles
// (/etc/NetworkManager/system-connections/multinicN.nmconnection, RHEL 9
// and later, Fedora) plus the .link file that keeps the name across a
// reboot, and activates them through nmcli.
package keyfile

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
)

// Dir holds NetworkManager's keyfiles.
const Dir = "/etc/NetworkManager/system-connections"

var pathRE = regexp.MustCompile(`^/etc/NetworkManager/system-connections/(multinic[0-9])\.nmconnection$`)

// Path is the keyfile of interface name.
func Path(name string) string { return Dir + "/" + name + ".nmconnection" }

// Backend is the NetworkManager keyfile backend.
type Backend struct{}

// Name implements netconf.Backend.
func (Backend) Name() string { return "keyfile" }

// Dirs implements netconf.Backend.
func (Backend) Dirs() []string { return []string{Dir, networkd.Dir} }

// Owns implements netconf.Backend: the keyfile and the .link file.
func (Backend) Owns(path string) (string, bool) {
	if name, ok := netconf.NameFrom(pathRE, path); ok {
		return name, true
	}
	return networkd.OwnsLink(path)
}

// UUID is the connection UUID of interface name: derived from the name
// (RFC 4122 version 5 layout) so that a rewritten profile stays the same
// connection for NetworkManager.
func UUID(name string) string {
	h := sha1.Sum([]byte("multinic-agent/" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Render implements netconf.Backend. The keyfile is 0600: NetworkManager
// ignores keyfiles that others can read.
func (Backend) Render(i netconf.Iface) []netconf.File {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("connection", "id", i.Name),
		unit.NewUnitOption("connection", "uuid", UUID(i.Name)),
		unit.NewUnitOption("connection", "type", "ethernet"),
		unit.NewUnitOption("connection", "interface-name", i.Name),
		unit.NewUnitOption("connection", "autoconnect", "true"),
		unit.NewUnitOption("ethernet", "mac-address", i.MAC),
	}
	if i.MTU > 0 {
		opts = append(opts, unit.NewUnitOption("ethernet", "mtu", strconv.Itoa(i.MTU)))
	}
	v4, v6 := []*unit.UnitOption{unit.NewUnitOption("ipv4", "method", "disabled")}, []*unit.UnitOption{unit.NewUnitOption("ipv6", "method", "link-local")}
	switch {
	case i.Addr.IsValid() && i.Addr.Addr().Is4():
		v4 = []*unit.UnitOption{unit.NewUnitOption("ipv4", "method", "manual"), unit.NewUnitOption("ipv4", "address1", i.Addr.String())}
	case i.Addr.IsValid():
		v6 = []*unit.UnitOption{unit.NewUnitOption("ipv6", "method", "manual"), unit.NewUnitOption("ipv6", "address1", i.Addr.String())}
	}
	opts = append(append(opts, v4...), v6...)
	// The mark NetworkManager keeps when it rewrites the file (it drops
	// comments): user data, namespaced as it asks.
	opts = append(opts, unit.NewUnitOption("user", markKey, fmt.Sprintf("row %d", i.RowID)))
	var b bytes.Buffer
	b.WriteString(netconf.Header(i.RowID))
	io.Copy(&b, unit.Serialize(opts))
	return []netconf.File{{Path: Path(i.Name), Mode: 0o600, Content: b.Bytes()}, networkd.RenderLink(i)}
}

// markKey is the agent's [user] setting in its keyfiles.
const markKey = "multinic-agent.managed"

var markRE = regexp.MustCompile(`(?m)^\[user\]\n(?:[^\[].*\n)*?` + regexp.QuoteMeta(markKey) + `=row ([0-9]+)\s*$`)

// HasMark implements netconf.Marked: the [user] setting, which
// NetworkManager keeps when it rewrites the file.
func (Backend) HasMark(content []byte) bool { return markRE.Match(content) }

// Canonical implements netconf.Canonical: a keyfile's settings, whatever
// their order and comments, without the defaults NetworkManager leaves out,
// the empty ones and the time it last activated the profile, with MAC
// addresses in one case. A .link file is its content.
func (Backend) Canonical(path string, content []byte) []byte {
	if strings.HasSuffix(path, ".link") {
		return content
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return content
	}
	var lines []string
	for _, o := range opts {
		v := o.Value
		switch k := o.Section + "." + o.Name; {
		case k == "connection.autoconnect" && v == "true", v == "":
			continue
		case k == "connection.timestamp":
			// NetworkManager records when it last activated the profile.
			continue
		case strings.HasSuffix(o.Name, "mac-address"):
			v = strings.ToLower(v)
		}
		lines = append(lines, o.Section+"."+o.Name+"="+v)
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n"))
}

// Parse implements netconf.Backend.
func (b Backend) Parse(path string, content []byte) (netconf.Iface, error) {
	if strings.HasSuffix(path, ".link") {
		return networkd.Backend{}.Parse(path, content)
	}
	name, ok := b.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent keyfile", path)
	}
	i := netconf.Iface{Name: name}
	var err error
	if i.RowID, err = netconf.HeaderRow(content); err != nil {
		// NetworkManager rewrote the file without comments; the [user]
		// setting says the row.
		m := markRE.FindSubmatch(content)
		if m == nil {
			return i, fmt.Errorf("%s: %w, and no [user] %s", path, err, markKey)
		}
		if i.RowID, err = strconv.ParseInt(string(m[1]), 10, 64); err != nil {
			return i, fmt.Errorf("%s: [user] %s: %w", path, markKey, err)
		}
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	v := map[string]string{}
	for _, o := range opts {
		v[o.Section+"."+o.Name] = o.Value
	}
	if v["connection.id"] != name || v["connection.interface-name"] != name {
		return i, fmt.Errorf("%s: connection id and interface-name must be %s", path, name)
	}
	if i.MAC, err = netconf.NormalMAC(v["ethernet.mac-address"]); err != nil {
		return i, fmt.Errorf("%s: ethernet.mac-address: %w", path, err)
	}
	if m := v["ethernet.mtu"]; m != "" {
		if i.MTU, err = netconf.ParseMTU(m); err != nil {
			return i, fmt.Errorf("%s: ethernet.mtu: %w", path, err)
		}
	}
	a4, a6 := v["ipv4.address1"], v["ipv6.address1"]
	switch {
	case a4 != "" && a6 != "":
		return i, fmt.Errorf("%s: more than one address", path)
	case a4 != "" || a6 != "":
		// NetworkManager may append ",gateway" to an address.
		addr, _, _ := strings.Cut(a4+a6, ",")
		if i.Addr, err = netconf.ParsePrefix(addr); err != nil {
			return i, fmt.Errorf("%s: address1: %w", path, err)
		}
	}
	return i, nil
}
