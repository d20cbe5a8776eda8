// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package harness builds throwaway nodes from real parts, for the tests,
// the benchmarks and the demo alike: a network namespace whose veth NICs
// stand in for a VM's, a database of the agent's schema, the agent binary
// built as `make build` builds it and run inside the namespace. Nothing
// here touches the host's own links or files. It returns errors; the
// tests' wrappers (internal/testenv) turn them into failures.
package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multinic-agent/multinic-agent/internal/links"
)

// Netns is a throwaway network namespace standing in for a node.
type Netns struct {
	Name string
	Path string
}

// NewNetns creates the namespace called name with lo up.
func NewNetns(name string) (*Netns, error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cannot create network namespace %s (run as root, with iproute2): %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	n := &Netns{Name: name, Path: "/run/netns/" + name}
	if _, err := n.IP("link", "set", "lo", "up"); err != nil {
		n.Delete()
		return nil, err
	}
	return n, nil
}

// Delete removes the namespace and every link in it.
func (n *Netns) Delete() error {
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// IP runs `ip -n NS args...` and returns its output, or an error quoting it.
func (n *Netns) IP(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Peer is the name of the other end of the NIC called name.
func Peer(name string) string { return "p" + name }

// AddNIC creates a veth called name with the given MAC, down, like a NIC
// the cloud just attached; its peer stays in the namespace, up, so the NIC
// gets carrier once it is up.
func (n *Netns) AddNIC(name, mac string) error {
	if _, err := n.IP("link", "add", name, "address", mac, "type", "veth", "peer", "name", Peer(name)); err != nil {
		return err
	}
	_, err := n.IP("link", "set", Peer(name), "up")
	return err
}

// Connect joins n and other with a veth pair: name in n with address addr,
// peer in other with peerAddr (both address/prefix), both up.
func (n *Netns) Connect(name, addr string, other *Netns, peer, peerAddr string) error {
	for _, step := range []struct {
		ns   *Netns
		args []string
	}{
		{n, []string{"link", "add", name, "type", "veth", "peer", "name", peer, "netns", other.Name}},
		{n, []string{"addr", "add", addr, "dev", name}},
		{n, []string{"link", "set", name, "up"}},
		{other, []string{"addr", "add", peerAddr, "dev", peer}},
		{other, []string{"link", "set", peer, "up"}},
	} {
		if _, err := step.ns.IP(step.args...); err != nil {
			return err
		}
	}
	return nil
}

// Handle opens a netlink handle inside the namespace; the caller closes it.
func (n *Netns) Handle() (*links.Handle, error) { return links.OpenNamespace(n.Path) }

// Links lists the namespace's links through netlink.
func (n *Netns) Links() ([]links.Link, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.List()
}

// Command runs name inside the namespace (`ip netns exec`, which execs it:
// the process is name's own) with only PATH and env in its environment.
func (n *Netns) Command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return cmd
}

// Do runs fn on an OS thread switched into the namespace: sockets fn
// creates belong to it for their whole life.
func (n *Netns) Do(fn func() error) error {
	target, err := netns.GetFromPath(n.Path)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := links.InNamespace(target, fn); err != nil {
		return fmt.Errorf("in namespace %s: %w", n.Name, err)
	}
	return nil
}

// Dial opens a connection from inside the namespace.
func (n *Netns) Dial(ctx context.Context, network, addr string) (c net.Conn, err error) {
	err = n.Do(func() error {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace.
func (n *Netns) Listen(network, addr string) (ln net.Listener, err error) {
	err = n.Do(func() error {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// HTTPClient returns a client whose connections are made from inside the
// namespace, where the agent's health port listens on its loopback.
func (n *Netns) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: n.Dial, DisableKeepAlives: true, DisableCompression: true},
	}
}
