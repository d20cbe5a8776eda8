// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// Proxy forwards connections to MariaDB's unix socket, so a test can cut
// the agent off from the database and give it back. It listens on a unix
// socket of its own (reachable from every network namespace) or on TCP
// inside a namespace. Connections reach MariaDB as the proxy's user (root),
// so DB_USER=root works through it even over TCP.
type Proxy struct {
	Path   string // the unix socket, for a unix proxy
	target string
	t      testing.TB
	listen func() net.Listener

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// NewProxy listens on a fresh socket and forwards to target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{Path: filepath.Join(t.TempDir(), "db.sock"), target: target, t: t, conns: map[net.Conn]bool{}}
	p.listen = func() net.Listener {
		ln, err := net.Listen("unix", p.Path)
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// NewTCPProxy listens on addr (host:port) inside ns and forwards to target.
func NewTCPProxy(t testing.TB, ns *Netns, addr, target string) *Proxy {
	t.Helper()
	p := &Proxy{target: target, t: t, conns: map[net.Conn]bool{}}
	p.listen = func() net.Listener { return ns.Listen(t, "tcp", addr) }
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// Cut closes the listener and every forwarded connection: the database is
// gone for whoever used the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Restore listens again at the same path.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln := p.listen()
	p.ln = ln
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}
