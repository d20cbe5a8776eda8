// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/multinic-agent/multinic-agent/internal/links"
)

// namespace is a throwaway network namespace standing in for a node.
type namespace struct {
	Name string
}

func newNamespace(name string) (*namespace, error) {
	if _, err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	n := &namespace{Name: name}
	atExit(n.Delete)
	if _, err := run("ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		n.Delete()
		return nil, err
	}
	return n, nil
}

func (n *namespace) Delete() { run("ip", "netns", "del", n.Name) }

// AddNIC creates a veth called name with the given MAC; its peer stays in
// the namespace, up, so the NIC gets carrier once the agent brings it up.
func (n *namespace) AddNIC(name, mac string) error {
	peer := "p" + name
	if _, err := run("ip", "-n", n.Name, "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer); err != nil {
		return err
	}
	_, err := run("ip", "-n", n.Name, "link", "set", peer, "up")
	return err
}

// Links lists the namespace's links through netlink.
func (n *namespace) Links() ([]links.Link, error) {
	h, err := links.OpenNamespace("/run/netns/" + n.Name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.List()
}

// dial opens a TCP connection from inside the namespace: the socket is
// created on a thread switched into it, and belongs to it from then on.
func (n *namespace) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	var d net.Dialer
	conn, derr := d.DialContext(ctx, network, addr)
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine instead of
		// serving others from the wrong namespace.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("cannot return to the original namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return conn, derr
}

// get fetches http://127.0.0.1:port/path inside the namespace.
func (n *namespace) get(port int, path string) (string, error) {
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: n.dial, DisableKeepAlives: true, DisableCompression: true},
	}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metric returns the value of an unlabelled metric from /metrics.
func (n *namespace) metric(port int, name string) (float64, error) {
	body, err := n.get(port, "/metrics")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no metric %s", name)
}
