// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// node is a throwaway network namespace standing in for a VM; its NICs are
// veths whose peers stay in the namespace, up, so the NICs get carrier.
type node struct {
	Name  string
	peers map[string]bool
}

// ip runs the ip command and returns its output, or an error quoting it.
func ip(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// newNode creates the namespace with lo up.
func newNode(name string) (*node, error) {
	if _, err := ip("netns", "add", name); err != nil {
		return nil, fmt.Errorf("cannot create the network namespace (run as root, with iproute2): %w", err)
	}
	n := &node{Name: name, peers: map[string]bool{}}
	if _, err := n.ip("link", "set", "lo", "up"); err != nil {
		n.Delete()
		return nil, err
	}
	return n, nil
}

// ip runs `ip -n NS args...`.
func (n *node) ip(args ...string) (string, error) {
	return ip(append([]string{"-n", n.Name}, args...)...)
}

// AddNIC creates a veth called name with the given MAC, down, like a NIC
// the cloud just attached.
func (n *node) AddNIC(name, mac string) error {
	peer := name + "-peer"
	if _, err := n.ip("link", "add", name, "address", mac, "type", "veth", "peer", "name", peer); err != nil {
		return err
	}
	n.peers[peer] = true
	_, err := n.ip("link", "set", peer, "up")
	return err
}

// Delete removes the namespace and every link in it.
func (n *node) Delete() error {
	_, err := ip("netns", "del", n.Name)
	return err
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

// Links lists the namespace's NICs (not lo, not the veth peers).
func (n *node) Links() ([]link, error) {
	out, err := n.ip("-j", "addr", "show")
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

// HTTPClient returns a client whose connections are made from inside the
// namespace, where the agent's health endpoint listens on 127.0.0.1.
func (n *node) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: n.dial, DisableKeepAlives: true},
	}
}

// dial switches one OS thread into the namespace for the socket's creation
// only. If the thread cannot be switched back it stays locked, so Go
// discards it instead of reusing it.
func (n *node) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("entering namespace %s: %w", n.Name, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
