// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package harness

import (
	"io"
	"net"
	"sync"
)

// Proxy forwards connections to MariaDB's unix socket, so that a test or a
// benchmark can cut an agent off from the database and give it back. It
// listens on a unix socket of its own (reachable from every network
// namespace) or on TCP inside a namespace. Connections reach MariaDB as the
// proxy's user (root), so DB_USER=root works through it even over TCP.
type Proxy struct {
	Path   string // the unix socket, for a unix proxy
	target string
	listen func() (net.Listener, error)

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// NewProxy listens on the unix socket path and forwards to target.
func NewProxy(path, target string) (*Proxy, error) {
	p := &Proxy{Path: path, target: target, conns: map[net.Conn]bool{}}
	p.listen = func() (net.Listener, error) { return net.Listen("unix", path) }
	return p, p.Restore()
}

// NewTCPProxy listens on addr (host:port) inside ns and forwards to target.
func NewTCPProxy(ns *Netns, addr, target string) (*Proxy, error) {
	p := &Proxy{target: target, conns: map[net.Conn]bool{}}
	p.listen = func() (net.Listener, error) { return ns.Listen("tcp", addr) }
	return p, p.Restore()
}

// Cut closes the listener (a new connection is refused) and every
// forwarded connection: the database is gone for whoever used the proxy.
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
	clear(p.conns)
}

// Restore listens again at the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := p.listen()
	if err != nil {
		return err
	}
	p.ln = ln
	go p.accept(ln)
	return nil
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
