// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package health serves the agent's HTTP surface: the JSON status on /,
// liveness on /healthz, readiness on /readyz and Prometheus metrics on
// /metrics. Handlers only read a snapshot, so a slow or dead database never
// blocks them.
package health

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Overall statuses.
const (
	Healthy   = "healthy"
	Degraded  = "degraded"
	Unhealthy = "unhealthy"
)

// Interface is one row as the status reports it.
type Interface struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	MAC     string `json:"mac"`
	Address string `json:"address"`
	MTU     int    `json:"mtu"`
	State   string `json:"state"`
	Error   string `json:"error"`
}

// Snapshot is the agent's state after its last cycle.
type Snapshot struct {
	// Cycled is set once a cycle has run (whatever its result).
	Cycled      bool
	DBConnected bool
	DBError     string
	// NodeError is why the last cycle could not read the node (its links
	// or files); Problem what keeps the agent from working as it should
	// although its cycles run (its state file, say).
	NodeError, Problem string
	LastSync           time.Time // end of the last cycle that reached the database
	Backend            string
	// ProcessedVMs and FailedConfigs count rows applied successfully and
	// row failures since start.
	ProcessedVMs  int64
	FailedConfigs int64
	Interfaces    []Interface
}

// Status is healthy when the last cycle reached the database and every row
// is configured, degraded when some row is not, unhealthy when the
// database was not reached (or no cycle has run yet).
func (s Snapshot) Status() string {
	switch {
	case !s.Cycled || !s.DBConnected || s.NodeError != "":
		return Unhealthy
	case s.Problem != "":
		return Degraded
	}
	for _, i := range s.Interfaces {
		if i.State != "configured" {
			return Degraded
		}
	}
	return Healthy
}

// State holds the latest snapshot and the loop's heartbeat.
type State struct {
	start time.Time
	// Liveness is how long the loop may go without a heartbeat before
	// /healthz fails.
	liveness time.Duration

	mu      sync.Mutex
	snap    Snapshot
	managed map[netip.Addr]bool
	beat    time.Time
	clock   func() time.Time
}

// NewState starts the uptime clock.
func NewState(liveness time.Duration) *State {
	now := time.Now()
	return &State{start: now, beat: now, liveness: liveness, clock: time.Now}
}

// Set replaces the snapshot and counts as a heartbeat.
func (s *State) Set(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The same list of interfaces (an idle cycle keeps the last slice)
	// manages the same addresses.
	if !sameSlice(snap.Interfaces, s.snap.Interfaces) || s.managed == nil {
		s.managed = map[netip.Addr]bool{}
		for _, i := range snap.Interfaces {
			if p, err := netip.ParsePrefix(i.Address); err == nil {
				s.managed[p.Addr()] = true
			}
		}
	}
	s.snap = snap
	s.beat = s.clock()
}

func sameSlice(a, b []Interface) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Managed reports whether a is the address of a row's NIC: the health port
// does not answer there (tenant networks).
func (s *State) Managed(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.managed[a]
}

// Get returns the current snapshot.
func (s *State) Get() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// Beat records that the loop is alive.
func (s *State) Beat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beat = s.clock()
}

func (s *State) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock().Sub(s.beat) <= s.liveness
}

type component struct {
	Healthy bool   `json:"healthy"`
	Error   string `json:"error"`
}

type report struct {
	Status            string      `json:"status"`
	Uptime            string      `json:"uptime"`
	ProcessedVMs      int64       `json:"processed_vms"`
	FailedConfigs     int64       `json:"failed_configs"`
	DatabaseConnected bool        `json:"database_connected"`
	LastSync          *time.Time  `json:"last_sync"`
	Components        components  `json:"components"`
	Statistics        statistics  `json:"statistics"`
	Interfaces        []Interface `json:"interfaces"`
}

type components struct {
	Database component `json:"database"`
	// Node is the agent's hold on the node: its links, files and state.
	Node           component `json:"node"`
	NetworkManager struct {
		Type string `json:"type"`
	} `json:"network_manager"`
}

type statistics struct {
	ProcessedVMs  int64  `json:"processed_vms"`
	FailedConfigs int64  `json:"failed_configs"`
	Uptime        string `json:"uptime"`
}

func (s *State) report() report {
	snap := s.Get()
	uptime := s.clock().Sub(s.start).Round(time.Second).String()
	r := report{
		Status:            snap.Status(),
		Uptime:            uptime,
		ProcessedVMs:      snap.ProcessedVMs,
		FailedConfigs:     snap.FailedConfigs,
		DatabaseConnected: snap.DBConnected,
		Statistics:        statistics{snap.ProcessedVMs, snap.FailedConfigs, uptime},
		Interfaces:        snap.Interfaces,
	}
	if !snap.LastSync.IsZero() {
		t := snap.LastSync.UTC()
		r.LastSync = &t
	}
	r.Components.Database = component{Healthy: snap.DBConnected, Error: snap.DBError}
	if !snap.Cycled {
		r.Components.Database.Error = "no reconcile has run yet"
	}
	r.Components.NetworkManager.Type = snap.Backend
	r.Components.Node = component{Healthy: snap.NodeError == "" && snap.Problem == "", Error: snap.NodeError}
	if r.Components.Node.Error == "" {
		r.Components.Node.Error = snap.Problem
	}
	if r.Interfaces == nil {
		r.Interfaces = []Interface{}
	}
	return r
}

// Handler serves /, /healthz, /readyz and /metrics (from g).
func Handler(s *State, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		rep := s.report()
		code := http.StatusOK
		if rep.Status == Unhealthy {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !s.alive() {
			http.Error(w, "the reconcile loop has stalled", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		snap := s.Get()
		switch {
		case !snap.Cycled || !snap.DBConnected:
			http.Error(w, "the last reconcile did not reach the database", http.StatusServiceUnavailable)
			return
		case snap.NodeError != "":
			http.Error(w, "the last reconcile could not read the node: "+snap.NodeError, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	// Uncompressed: gzipping every scrape costs more CPU than an idle cycle.
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{DisableCompression: true}))
	return mux
}
