// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package ifcfg renders and reads the agent's ifcfg files
// (/etc/sysconfig/network-scripts/ifcfg-multinicN, RHEL/CentOS 7 and 8) and
// activates them through nmcli. DEVICE and HWADDR keep the name across a
// reboot.
package ifcfg

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	"github.com/multinic-agent/multinic-agent/internal/envfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Dir holds the ifcfg files.
const Dir = "/etc/sysconfig/network-scripts"

var pathRE = regexp.MustCompile(`^/etc/sysconfig/network-scripts/ifcfg-(multinic[0-9])$`)

// Path is the ifcfg file of interface name.
func Path(name string) string { return Dir + "/ifcfg-" + name }

// Backend is the ifcfg backend.
type Backend struct{}

// Name implements netconf.Backend.
func (Backend) Name() string { return "ifcfg" }

// Dirs implements netconf.Backend.
func (Backend) Dirs() []string { return []string{Dir} }

// Owns implements netconf.Backend.
func (Backend) Owns(path string) (string, bool) { return netconf.NameFrom(pathRE, path) }

// Render implements netconf.Backend.
func (Backend) Render(i netconf.Iface) []netconf.File {
	var b bytes.Buffer
	b.WriteString(netconf.Header(i.RowID))
	kv := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	kv("DEVICE", i.Name)
	kv("NAME", i.Name)
	kv("TYPE", "Ethernet")
	kv("ONBOOT", "yes")
	kv("BOOTPROTO", "none")
	kv("HWADDR", i.MAC)
	if i.Addr.IsValid() && i.Addr.Addr().Is4() {
		kv("IPADDR", i.Addr.Addr().String())
		kv("PREFIX", strconv.Itoa(i.Addr.Bits()))
	}
	if i.MTU > 0 {
		kv("MTU", strconv.Itoa(i.MTU))
	}
	// No router advertisements or DHCPv6: the row's address is the only one.
	kv("IPV6INIT", "yes")
	kv("IPV6_AUTOCONF", "no")
	if i.Addr.IsValid() && i.Addr.Addr().Is6() {
		kv("IPV6ADDR", i.Addr.String())
	}
	return []netconf.File{{Path: Path(i.Name), Mode: 0o644, Content: b.Bytes()}}
}

// Parse implements netconf.Backend.
func (b Backend) Parse(path string, content []byte) (netconf.Iface, error) {
	name, ok := b.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent ifcfg file", path)
	}
	i := netconf.Iface{Name: name}
	var err error
	if i.RowID, err = netconf.HeaderRow(content); err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	v, err := envfile.Parse(path, content)
	if err != nil {
		return i, err
	}
	if v["DEVICE"] != name {
		return i, fmt.Errorf("%s: DEVICE is %q, expected %s", path, v["DEVICE"], name)
	}
	if i.MAC, err = netconf.NormalMAC(v["HWADDR"]); err != nil {
		return i, fmt.Errorf("%s: HWADDR: %w", path, err)
	}
	if m := v["MTU"]; m != "" {
		if i.MTU, err = netconf.ParseMTU(m); err != nil {
			return i, fmt.Errorf("%s: MTU: %w", path, err)
		}
	}
	switch ip4, ip6 := v["IPADDR"], v["IPV6ADDR"]; {
	case ip4 != "" && ip6 != "":
		return i, fmt.Errorf("%s: both IPADDR and IPV6ADDR are set", path)
	case ip4 != "":
		if i.Addr, err = netconf.ParsePrefix(ip4 + "/" + v["PREFIX"]); err != nil || !i.Addr.Addr().Is4() {
			return i, fmt.Errorf("%s: IPADDR/PREFIX %q/%q is not an IPv4 address and prefix", path, ip4, v["PREFIX"])
		}
	case ip6 != "":
		if i.Addr, err = netconf.ParsePrefix(ip6); err != nil || !i.Addr.Addr().Is6() {
			return i, fmt.Errorf("%s: IPV6ADDR %q is not an IPv6 address/prefix", path, ip6)
		}
	}
	return i, nil
}

// legacyKeys are the keys the previous generation of multinic-agent wrote.
var legacyKeys = map[string]bool{
	"DEVICE": true, "NAME": true, "TYPE": true, "ONBOOT": true, "BOOTPROTO": true,
	"IPADDR": true, "PREFIX": true, "MTU": true, "HWADDR": true,
}

// ParseLegacy implements netconf.LegacyParser: the previous agent's
// DEVICE, NAME, TYPE=Ethernet, ONBOOT=yes, BOOTPROTO=none, IPADDR+PREFIX,
// MTU and HWADDR, without comments, and nothing else. It wrote IPADDR for
// IPv6 addresses too.
func (b Backend) ParseLegacy(path string, content []byte) (netconf.Iface, error) {
	name, ok := b.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent ifcfg path", path)
	}
	i := netconf.Iface{Name: name}
	if bytes.Contains(content, []byte("#")) {
		return i, fmt.Errorf("%s has comments, which the previous multinic-agent never wrote", path)
	}
	v, err := envfile.Parse(path, content)
	if err != nil {
		return i, err
	}
	for k := range v {
		if !legacyKeys[k] {
			return i, fmt.Errorf("%s: %s is not a key the previous multinic-agent wrote", path, k)
		}
	}
	for k, want := range map[string]string{"DEVICE": name, "NAME": name, "TYPE": "Ethernet", "ONBOOT": "yes", "BOOTPROTO": "none"} {
		if v[k] != want {
			return i, fmt.Errorf("%s: %s is %q, not %q", path, k, v[k], want)
		}
	}
	if i.MAC, err = netconf.NormalMAC(v["HWADDR"]); err != nil {
		return i, fmt.Errorf("%s: HWADDR: %w", path, err)
	}
	if m, ok := v["MTU"]; ok {
		if i.MTU, err = netconf.ParseMTU(m); err != nil {
			return i, fmt.Errorf("%s: MTU: %w", path, err)
		}
	}
	ip, hasIP := v["IPADDR"]
	prefix, hasPrefix := v["PREFIX"]
	switch {
	case hasIP != hasPrefix:
		return i, fmt.Errorf("%s: IPADDR and PREFIX come together", path)
	case hasIP:
		if i.Addr, err = netconf.ParsePrefix(ip + "/" + prefix); err != nil {
			return i, fmt.Errorf("%s: IPADDR/PREFIX: %w", path, err)
		}
	}
	return i, nil
}
