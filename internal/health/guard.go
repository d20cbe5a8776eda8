// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package health

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// MaxConns is how many connections the health port holds at once: far
// below the unit's file limit, so that no client can take the descriptors
// the agent needs.
const MaxConns = 64

// Server returns the HTTP server of the health port, with the timeouts
// that keep slow or silent clients from holding a connection for long.
func Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 3 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       15 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// Guard serves srv on ln with at most max connections at once: past that,
// an idle keep-alive connection is closed to make room, or, when none is
// idle, the new one is refused. Connections to an address deny reports
// (those of the NICs the agent manages: tenant networks) are closed at once.
func Guard(srv *http.Server, ln net.Listener, max int, deny func(netip.Addr) bool) error {
	g := &guard{Listener: ln, max: max, deny: deny, conns: map[net.Conn]http.ConnState{}}
	srv.ConnState = g.track
	return srv.Serve(g)
}

type guard struct {
	net.Listener
	max  int
	deny func(netip.Addr) bool

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func (g *guard) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.LocalAddr().(*net.TCPAddr); ok && g.deny != nil {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && g.deny(ip.Unmap()) {
				c.Close()
				continue
			}
		}
		g.mu.Lock()
		ok := len(g.conns) < g.max || g.evictIdle()
		if ok {
			g.conns[c] = http.StateNew
		}
		g.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return c, nil
	}
}

// evictIdle closes one idle keep-alive connection; the server reports it
// closed in turn. Called with g.mu held.
func (g *guard) evictIdle() bool {
	for c, s := range g.conns {
		if s == http.StateIdle {
			delete(g.conns, c)
			c.Close()
			return true
		}
	}
	return false
}

func (g *guard) track(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(g.conns, c)
	default:
		if _, ok := g.conns[c]; ok {
			g.conns[c] = s
		}
	}
}
