// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package netplan renders and reads the agent's netplan files
// (/etc/netplan/9N-multinicN.yaml) and activates them.
package netplan

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Dir holds netplan's configuration.
const Dir = "/etc/netplan"

var pathRE = regexp.MustCompile(`^/etc/netplan/9([0-9])-multinic([0-9])\.yaml$`)

// Backend is the netplan backend (Ubuntu 18.04 and later).
type Backend struct{}

// Name implements netconf.Backend.
func (Backend) Name() string { return "netplan" }

// Dirs implements netconf.Backend.
func (Backend) Dirs() []string { return []string{Dir} }

// ReadTogether implements netconf.ReadTogether: the generator reads every
// file of Dir, and fails on one it cannot read.
func (Backend) ReadTogether(path string) bool { return strings.HasPrefix(path, Dir+"/") }

// Owns implements netconf.Backend: 9N-multinicN.yaml, both digits equal.
func (Backend) Owns(path string) (string, bool) {
	m := pathRE.FindStringSubmatch(path)
	if m == nil || m[1] != m[2] {
		return "", false
	}
	return "multinic" + m[2], true
}

// Path returns the file of interface multinicN.
func Path(name string) string {
	n := strings.TrimPrefix(name, "multinic")
	return fmt.Sprintf("%s/9%s-%s.yaml", Dir, n, name)
}

// Render implements netconf.Backend.
func (Backend) Render(i netconf.Iface) []netconf.File {
	var b bytes.Buffer
	b.WriteString(netconf.Header(i.RowID))
	fmt.Fprintf(&b, "network:\n  version: 2\n  ethernets:\n    %s:\n", i.Name)
	fmt.Fprintf(&b, "      match:\n        macaddress: %q\n", i.MAC)
	fmt.Fprintf(&b, "      set-name: %s\n", i.Name)
	b.WriteString("      dhcp4: false\n      dhcp6: false\n      accept-ra: false\n")
	if i.Addr.IsValid() {
		fmt.Fprintf(&b, "      addresses:\n        - %q\n", i.Addr.String())
	}
	if i.MTU > 0 {
		fmt.Fprintf(&b, "      mtu: %d\n", i.MTU)
	}
	// A secondary NIC without carrier must not hold up boot in
	// systemd-networkd-wait-online.
	b.WriteString("      optional: true\n")
	return []netconf.File{{Path: Path(i.Name), Mode: 0o600, Content: b.Bytes()}}
}

type document struct {
	Network struct {
		Version   int                 `yaml:"version"`
		Ethernets map[string]ethernet `yaml:"ethernets"`
	} `yaml:"network"`
}

type ethernet struct {
	Match struct {
		MACAddress string `yaml:"macaddress"`
	} `yaml:"match"`
	SetName   string   `yaml:"set-name"`
	Addresses []string `yaml:"addresses"`
	MTU       string   `yaml:"mtu"`
}

// Parse implements netconf.Backend.
func (Backend) Parse(path string, content []byte) (netconf.Iface, error) {
	name, ok := Backend{}.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent netplan file", path)
	}
	i := netconf.Iface{Name: name}
	var err error
	if i.RowID, err = netconf.HeaderRow(content); err != nil {
		return i, err
	}
	var doc document
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return i, fmt.Errorf("%s: %w", path, err)
	}
	eth, ok := doc.Network.Ethernets[name]
	if !ok || len(doc.Network.Ethernets) != 1 {
		return i, fmt.Errorf("%s: expected exactly one ethernet, %s", path, name)
	}
	if eth.SetName != name {
		return i, fmt.Errorf("%s: set-name is %q, expected %s", path, eth.SetName, name)
	}
	if i.MAC, err = netconf.NormalMAC(eth.Match.MACAddress); err != nil {
		return i, fmt.Errorf("%s: match.macaddress: %w", path, err)
	}
	switch len(eth.Addresses) {
	case 0:
	case 1:
		if i.Addr, err = netconf.ParsePrefix(eth.Addresses[0]); err != nil {
			return i, fmt.Errorf("%s: addresses: %w", path, err)
		}
	default:
		return i, fmt.Errorf("%s: more than one address", path)
	}
	if eth.MTU != "" {
		if i.MTU, err = netconf.ParseMTU(eth.MTU); err != nil {
			return i, fmt.Errorf("%s: mtu: %w", path, err)
		}
	}
	return i, nil
}

// legacyDoc is the file the previous generation of multinic-agent wrote: a
// yaml.v3 Marshal of a map, so only these keys, sorted, and no comment.
type legacyDoc struct {
	Network struct {
		Ethernets map[string]legacyEthernet `yaml:"ethernets"`
		Version   int                       `yaml:"version"`
	} `yaml:"network"`
}

type legacyEthernet struct {
	Addresses []string `yaml:"addresses"`
	DHCP4     *bool    `yaml:"dhcp4"`
	Match     struct {
		MACAddress string `yaml:"macaddress"`
	} `yaml:"match"`
	MTU     int    `yaml:"mtu"`
	SetName string `yaml:"set-name"`
}

// ParseLegacy implements netconf.LegacyParser: the previous agent's
// `network: {ethernets: {multinicN: {addresses, dhcp4: false, match:
// {macaddress}, mtu, set-name}}, version: 2}` and nothing else.
func (Backend) ParseLegacy(path string, content []byte) (netconf.Iface, error) {
	name, ok := Backend{}.Owns(path)
	if !ok {
		return netconf.Iface{}, fmt.Errorf("%s is not a multinic-agent netplan path", path)
	}
	i := netconf.Iface{Name: name}
	if bytes.Contains(content, []byte("#")) {
		return i, fmt.Errorf("%s has comments, which the previous multinic-agent never wrote", path)
	}
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(true)
	var doc legacyDoc
	if err := dec.Decode(&doc); err != nil {
		return i, fmt.Errorf("%s is not the previous multinic-agent's netplan file: %s", path, yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return i, fmt.Errorf("%s has more than one YAML document", path)
	}
	eth, ok := doc.Network.Ethernets[name]
	switch {
	case doc.Network.Version != 2:
		return i, fmt.Errorf("%s: network.version is not 2", path)
	case !ok || len(doc.Network.Ethernets) != 1:
		return i, fmt.Errorf("%s: describes other interfaces than %s", path, name)
	case eth.SetName != name:
		return i, fmt.Errorf("%s: set-name is %q, not %s", path, eth.SetName, name)
	case eth.DHCP4 != nil && *eth.DHCP4:
		return i, fmt.Errorf("%s: dhcp4 is true", path)
	case len(eth.Addresses) > 1:
		return i, fmt.Errorf("%s: more than one address", path)
	}
	var err error
	if i.MAC, err = netconf.NormalMAC(eth.Match.MACAddress); err != nil {
		return i, fmt.Errorf("%s: match.macaddress: %w", path, err)
	}
	if len(eth.Addresses) == 1 {
		if i.Addr, err = netconf.ParsePrefix(eth.Addresses[0]); err != nil {
			return i, fmt.Errorf("%s: addresses: %w", path, err)
		}
	}
	if eth.MTU != 0 {
		if i.MTU, err = netconf.ParseMTU(strconv.Itoa(eth.MTU)); err != nil {
			return i, fmt.Errorf("%s: mtu: %w", path, err)
		}
	}
	return i, nil
}

var unknownField = regexp.MustCompile(`^(line \d+): field (\S+) not found in type \S+$`)

// yamlError says on one line what a strict decode refused.
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	msgs := make([]string, len(te.Errors))
	for k, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("%s: %s is not a key the previous multinic-agent wrote", m[1], m[2])
		}
		msgs[k] = e
	}
	return strings.Join(msgs, "; ")
}
