// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package claims finds, in the network configuration that is not the
// agent's (cloud-init's, an operator's, the distribution's), the entries
// that claim a NIC by its MAC address or a name: two configurations of one
// NIC fight at every boot and reload.
package claims

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"go.yaml.in/yaml/v3"

	"github.com/multinic-agent/multinic-agent/internal/envfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Families of configuration, by who reads them.
const (
	Netplan  = "netplan"  // /etc/netplan/*.yaml
	Networkd = "networkd" // /etc/systemd/network/*.network
	Link     = "link"     // /etc/systemd/network/*.link, read by udev on every node
	Keyfile  = "keyfile"  // NetworkManager's keyfiles
	Ifcfg    = "ifcfg"    // /etc/sysconfig/network-scripts/ifcfg-*
	Ifupdown = "ifupdown" // /etc/network/interfaces and what it sources
)

// Claim is one entry of a file that configures a NIC by MAC or by name.
type Claim struct {
	Path   string // on the node
	Family string
	// MAC is the address matched (lower case), Name the name matched or
	// given; a pattern such as multinic* is kept as written.
	MAC, Name string
}

// Matches reports whether the claim takes in the NIC with mac that the
// agent names name.
func (c Claim) Matches(mac, name string) bool {
	if c.MAC != "" && c.MAC == mac {
		return true
	}
	if c.Name == "" || name == "" {
		return false
	}
	ok, err := filepath.Match(c.Name, name)
	return err == nil && ok
}

func (c Claim) String() string {
	var by []string
	if c.MAC != "" {
		by = append(by, "MAC "+c.MAC)
	}
	if c.Name != "" {
		by = append(by, "name "+c.Name)
	}
	return c.Path + " (" + strings.Join(by, ", ") + ")"
}

// Files are the paths, besides the backends' own directories, whose claims
// are read: the main ifupdown file.
var Files = []string{"/etc/network/interfaces"}

// Relevant reports whether a file that is not the agent's may claim a NIC.
func Relevant(path string) bool {
	base := filepath.Base(path)
	switch dir := filepath.Dir(path); {
	case dir == "/etc/netplan":
		return strings.HasSuffix(base, ".yaml")
	case dir == "/etc/systemd/network":
		return strings.HasSuffix(base, ".network") || strings.HasSuffix(base, ".link")
	case dir == "/etc/NetworkManager/system-connections":
		return strings.HasSuffix(base, ".nmconnection")
	case dir == "/etc/sysconfig/network-scripts":
		return strings.HasPrefix(base, "ifcfg-")
	case dir == "/etc/network/interfaces.d", path == "/etc/network/interfaces":
		return true
	}
	return false
}

// Parse returns the claims of one file that is not the agent's.
func Parse(path string, content []byte) []Claim {
	if netconf.HasMarker(content) {
		return nil
	}
	switch dir := filepath.Dir(path); {
	case dir == "/etc/netplan":
		return netplan(path, content)
	case dir == "/etc/systemd/network":
		return networkd(path, content)
	case dir == "/etc/NetworkManager/system-connections":
		return keyfile(path, content)
	case dir == "/etc/sysconfig/network-scripts":
		return ifcfg(path, content)
	default:
		return ifupdown(path, content)
	}
}

func mac(s string) string {
	if m, err := netconf.NormalMAC(s); err == nil {
		return m
	}
	return ""
}

func netplan(path string, content []byte) []Claim {
	var doc struct {
		Network struct {
			Ethernets map[string]struct {
				Match struct {
					MACAddress string `yaml:"macaddress"`
					Name       string `yaml:"name"`
				} `yaml:"match"`
				SetName string `yaml:"set-name"`
			} `yaml:"ethernets"`
		} `yaml:"network"`
	}
	if yaml.Unmarshal(content, &doc) != nil {
		return nil
	}
	var out []Claim
	for id, e := range doc.Network.Ethernets {
		c := Claim{Path: path, Family: Netplan, MAC: mac(e.Match.MACAddress), Name: e.SetName}
		switch {
		case c.Name == "" && e.Match.Name != "":
			c.Name = e.Match.Name
		case c.Name == "" && c.MAC == "":
			c.Name = id // without match, the id is the interface's name
		}
		out = append(out, c)
	}
	return out
}

func networkd(path string, content []byte) []Claim {
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return nil
	}
	family := Networkd
	if strings.HasSuffix(path, ".link") {
		family = Link
	}
	var macs, names []string
	for _, o := range opts {
		switch {
		case o.Section == "Match" && (o.Name == "MACAddress" || o.Name == "PermanentMACAddress"):
			for _, f := range strings.Fields(o.Value) {
				if m := mac(f); m != "" {
					macs = append(macs, m)
				}
			}
		case o.Section == "Match" && o.Name == "OriginalName" && family == Link,
			o.Section == "Match" && o.Name == "Name" && family == Networkd,
			o.Section == "Link" && o.Name == "Name" && family == Link:
			names = append(names, strings.Fields(o.Value)...)
		}
	}
	var out []Claim
	for _, m := range macs {
		out = append(out, Claim{Path: path, Family: family, MAC: m})
	}
	for _, n := range names {
		out = append(out, Claim{Path: path, Family: family, Name: n})
	}
	return out
}

func keyfile(path string, content []byte) []Claim {
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return nil
	}
	c := Claim{Path: path, Family: Keyfile}
	for _, o := range opts {
		switch {
		case o.Section == "user" && o.Name == "multinic-agent.managed":
			return nil // the agent's, rewritten by NetworkManager
		case o.Section == "ethernet" && o.Name == "mac-address":
			c.MAC = mac(o.Value)
		case o.Section == "connection" && o.Name == "interface-name":
			c.Name = o.Value
		}
	}
	if c.MAC == "" && c.Name == "" {
		return nil
	}
	return []Claim{c}
}

func ifcfg(path string, content []byte) []Claim {
	v, err := envfile.Parse(path, content)
	if err != nil {
		return nil
	}
	c := Claim{Path: path, Family: Ifcfg, MAC: mac(v["HWADDR"]), Name: v["DEVICE"]}
	if c.MAC == "" && c.Name == "" {
		return nil
	}
	return []Claim{c}
}

func ifupdown(path string, content []byte) []Claim {
	var out []Claim
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "iface" && f[1] != "lo" {
			out = append(out, Claim{Path: path, Family: Ifupdown, Name: f[1]})
		}
	}
	return out
}

// Wins reports whether the claim takes effect before the agent's own file
// for interface name: systemd-networkd and udev use the first .network and
// .link file, in the order of their names, that matches a NIC, and the
// agent's are 70-multinicN; every other family reads all its claims.
func (c Claim) Wins(name string) bool {
	base := filepath.Base(c.Path)
	switch c.Family {
	case Networkd:
		return base < "70-"+name+".network"
	case Link:
		return base < "70-"+name+".link"
	}
	return true
}

// Read lists the families of configuration that take effect on a node
// whose agent writes backend, given which others are active there: the
// .link files always (udev reads them), the backend's own family (and, for
// netplan, its renderer's), and those of every active network manager.
func Read(backend, netplanRenderer string, active ...string) map[string]bool {
	read := map[string]bool{Link: true}
	switch backend {
	case "netplan":
		read[Netplan] = true
		if netplanRenderer == "NetworkManager" {
			read[Keyfile] = true
		} else {
			read[Networkd] = true
		}
	case "ifcfg", "keyfile":
		read[Keyfile], read[Ifcfg] = true, true
	default:
		read[backend] = true
	}
	for _, f := range active {
		read[f] = true
	}
	return read
}
