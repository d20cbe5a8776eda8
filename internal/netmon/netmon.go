// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package netmon is the agent's one view of the kernel's links and routes.
// A Monitor takes snapshots, keeps the last one only while its own netlink
// subscription is running and has reported no change since, and hands the
// changes it sees on to the daemon: nothing outside this package has to
// remember to invalidate it.
package netmon

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/links"
)

// MaxAge bounds how long a snapshot is used even when no event said the
// kernel changed: a lost netlink message is repaired within it.
const MaxAge = 5 * time.Minute

// Monitor watches one network namespace.
type Monitor struct {
	h *links.Handle
	// read takes a snapshot; a seam for the caching tests.
	read func() (*Snapshot, error)

	// gen counts the changes seen; a snapshot is current only while gen
	// is the one it was taken at.
	gen      atomic.Uint64
	watching atomic.Bool
	mu       sync.Mutex
	last     *Snapshot
}

// New returns a monitor of the handle's namespace. Until Watch runs, every
// Snapshot reads the kernel again.
func New(h *links.Handle) *Monitor {
	m := &Monitor{h: h}
	m.read = m.dump
	return m
}

// Snapshot is what the kernel showed at one moment.
type Snapshot struct {
	Links []links.Link
	// DefaultRoute holds the links carrying a default route in the main
	// table, Gateways its next hops.
	DefaultRoute map[int]bool
	Gateways     []links.Gateway
	At           time.Time

	gen uint64
	h   *links.Handle
	mu  sync.Mutex
	ra  map[int]links.RA
	rt  map[netip.Addr]int
}

func (m *Monitor) dump() (*Snapshot, error) {
	ls, err := m.h.List()
	if err != nil {
		return nil, err
	}
	def, gws, err := m.h.DefaultRoutes()
	if err != nil {
		return nil, err
	}
	return &Snapshot{Links: ls, DefaultRoute: def, Gateways: gws, h: m.h}, nil
}

// Snapshot returns the last snapshot while it is current, else a new one.
func (m *Monitor) Snapshot() (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.last; s != nil && m.watching.Load() && s.gen == m.gen.Load() && time.Since(s.At) < MaxAge {
		return s, nil
	}
	return m.take()
}

// Fresh reads the kernel now, as a read-back after changes must.
func (m *Monitor) Fresh() (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.take()
}

func (m *Monitor) take() (*Snapshot, error) {
	// A change seen while the dump runs makes it stale at once.
	gen := m.gen.Load()
	s, err := m.read()
	if err != nil {
		m.last = nil
		return nil, err
	}
	s.gen, s.At = gen, time.Now()
	m.last = s
	return s, nil
}

// Watching reports whether Watch's subscription is running: snapshots
// are then kept between changes.
func (m *Monitor) Watching() bool { return m.watching.Load() }

// Invalidate says the kernel changed: the agent changed it itself, and the
// event that reports it may not have arrived yet.
func (m *Monitor) Invalidate() { m.gen.Add(1) }

// Watch subscribes to link, address and route changes and passes them on
// until ctx ends. Each change invalidates the snapshot before it is passed
// on; snapshots are kept between changes only while the subscription runs.
func (m *Monitor) Watch(ctx context.Context) (<-chan links.Change, error) {
	in, err := m.h.Watch(ctx)
	if err != nil {
		return nil, err
	}
	return m.forward(in), nil
}

// forward invalidates on every change of in and passes it on, never
// waiting for the reader: one that falls behind gets a Lost change in
// place of what it missed.
func (m *Monitor) forward(in <-chan links.Change) <-chan links.Change {
	out := make(chan links.Change, 64)
	m.Invalidate()
	m.watching.Store(true)
	go func() {
		defer close(out)
		defer m.watching.Store(false)
		for c := range in {
			m.Invalidate()
			select {
			case out <- c:
				continue
			default:
			}
			select {
			case <-out:
			default:
			}
			out <- links.Change{Lost: true}
		}
	}()
	return out
}

// RA returns what link index learns from router advertisements, read once
// per snapshot: changing it raises no kernel event, so a change by hand is
// seen with the next snapshot (an event, or MaxAge).
func (s *Snapshot) RA(index int) (links.RA, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ra, ok := s.ra[index]; ok {
		return ra, nil
	}
	ra, err := s.h.RA(index)
	if err != nil {
		return ra, err
	}
	if s.ra == nil {
		s.ra = map[int]links.RA{}
	}
	s.ra[index] = ra
	return ra, nil
}

// RouteLink returns the index of the link the kernel would use to reach ip,
// looked up once per snapshot.
func (s *Snapshot) RouteLink(ip netip.Addr) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx, ok := s.rt[ip]; ok {
		return idx, nil
	}
	idx, err := s.h.RouteLink(ip)
	if err != nil {
		return 0, err
	}
	if s.rt == nil {
		s.rt = map[netip.Addr]int{}
	}
	s.rt[ip] = idx
	return idx, nil
}
