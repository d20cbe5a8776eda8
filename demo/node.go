// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// node is a throwaway network namespace standing in for a VM
// (harness.Netns); its NICs are veths whose peers stay in the namespace.
type node struct {
	*harness.Netns
	peers map[string]bool
}

// newNode creates the namespace with lo up.
func newNode(name string) (*node, error) {
	n, err := harness.NewNetns(name)
	if err != nil {
		return nil, err
	}
	return &node{Netns: n, peers: map[string]bool{}}, nil
}

// AddNIC creates a veth called name with the given MAC, down, like a NIC
// the cloud just attached.
func (n *node) AddNIC(name, mac string) error {
	n.peers[harness.Peer(name)] = true
	return n.Netns.AddNIC(name, mac)
}

// link is a NIC as `ip -j addr` reports it.
type link struct {
	Name  string   `json:"ifname"`
	MAC   string   `json:"address"`
	MTU   int      `json:"mtu"`
	Oper  string   `json:"operstate"`
	Flags []string `json:"flags"`
	Addrs []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
		Tentative bool   `json:"tentative"`
	} `json:"addr_info"`
}

// Tentative reports an IPv6 address still in duplicate address detection,
// whose end the kernel announces with an event.
func (l link) Tentative() bool {
	for _, a := range l.Addrs {
		if a.Tentative {
			return true
		}
	}
	return false
}

// Up reports the administrative state.
func (l link) Up() bool { return slices.Contains(l.Flags, "UP") }

// Global returns the addresses other than link-local ones, as prefixes.
func (l link) Global() []string {
	var out []string
	for _, a := range l.Addrs {
		if a.Scope == "global" {
			out = append(out, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	return out
}

// NICs lists the namespace's NICs (not lo, not the veth peers) as
// `ip -j addr` shows them, the tentative state of IPv6 addresses included.
func (n *node) NICs() ([]link, error) {
	out, err := n.IP("-j", "addr", "show")
	if err != nil {
		return nil, err
	}
	var all []link
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		return nil, fmt.Errorf("reading `ip -j addr show`: %w", err)
	}
	var nics []link
	for _, l := range all {
		if l.Name != "lo" && !n.peers[l.Name] {
			nics = append(nics, l)
		}
	}
	return nics, nil
}

// ByMAC returns the NIC with the given MAC.
func byMAC(links []link, mac string) (link, bool) {
	for _, l := range links {
		if strings.EqualFold(l.MAC, mac) {
			return l, true
		}
	}
	return link{}, false
}

func printLinks(w io.Writer, links []link) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tmac\tmtu\tstate\taddresses (link-local not shown)")
	for _, l := range links {
		addrs := strings.Join(l.Global(), " ")
		if addrs == "" {
			addrs = "-"
		}
		state := "DOWN"
		if l.Up() {
			state = "UP"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", l.Name, l.MAC, l.MTU, state, addrs)
	}
	tw.Flush()
}
