// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package daemon is the long-running loop: a reconcile at start, then one
// every poll interval (with jitter and backoff), and one soon after the
// kernel reports a change to a NIC the rows name.
package daemon

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/metrics"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// Daemon runs the reconciler until its context ends.
type Daemon struct {
	Rec      *reconcile.Reconciler
	Links    *links.Handle
	Metrics  *metrics.Metrics
	Health   *health.State
	Schedule Schedule
	// Debounce is how long to wait after a kernel change for more before
	// reconciling.
	Debounce time.Duration
	// EventGap is the shortest time between two cycles that kernel changes
	// trigger: a flapping link cannot make the agent read the database
	// more often than that. While cycles fail, kernel changes trigger none:
	// the poll, with its backoff, retries.
	EventGap time.Duration
	// Notify sends a systemd notification (READY=1, WATCHDOG=1,
	// STOPPING=1); nil when not run by systemd.
	Notify func(state string)
	// Watchdog is the interval of WATCHDOG=1 notifications; 0 for none.
	Watchdog time.Duration
	Log      *slog.Logger

	level     int
	processed int64
	failed    int64
	lastSync  time.Time
	// watched are the link indexes and MACs whose changes trigger a cycle.
	watchIdx map[int]bool
	watchMAC map[string]bool
	// seen is what the agent sets on each link seen so far (a new link may
	// be a NIC whose row was written after the last read, so it triggers a
	// cycle too); a change of carrier alone changes none of it.
	seen         map[int]linkState
	lastEvent    time.Time
	requests     chan struct{}
	requestsOnce sync.Once
}

func (d *Daemon) requested() chan struct{} {
	d.requestsOnce.Do(func() { d.requests = make(chan struct{}, 1) })
	return d.requests
}

// Request asks for a cycle now; requests that come while one is pending,
// or sooner than EventGap after the last one, are served by that one.
func (d *Daemon) Request() {
	select {
	case d.requested() <- struct{}{}:
	default:
	}
}

type linkState struct {
	name, mac string
	mtu       int
	up        bool
}

func (d *Daemon) notify(state string) {
	if d.Notify != nil {
		d.Notify(state)
	}
}

// Run reconciles until ctx ends. A cycle in progress when ctx ends finishes
// the interfaces in hand (or rolls them back) before Run returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	changes, err := d.Links.Watch(ctx)
	if err != nil {
		d.Log.Warn("cannot subscribe to netlink events; hot-plugged NICs wait for the next poll", "error", err)
	} else {
		// Every kernel change now reaches Invalidate: an idle cycle need not
		// dump links and routes again.
		d.Rec.TrustKernelEvents()
	}
	d.seen = map[int]linkState{}
	if ls, err := d.Links.List(); err == nil {
		for _, l := range ls {
			d.seen[l.Index] = linkState{name: l.Name, mac: l.MAC, mtu: l.MTU, up: l.Up}
		}
	}
	d.cycle(ctx, "start")
	d.notify("READY=1")

	poll := time.NewTimer(d.Schedule.First(random(), random()))
	defer poll.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	pending, why := false, ""
	var tick <-chan time.Time
	if d.Watchdog > 0 {
		t := time.NewTicker(d.Watchdog)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			d.notify("STOPPING=1")
			return nil
		case <-tick:
			d.Health.Beat()
			d.notify("WATCHDOG=1")
		case <-poll.C:
			d.cycle(ctx, "poll")
			poll.Reset(d.Schedule.Next(d.level, random()))
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			d.Rec.Invalidate()
			if d.relevant(c) && !pending {
				pending, why = true, "netlink"
				debounce.Reset(d.Debounce)
			}
		case <-d.requested():
			if !pending {
				pending, why = true, "request"
				debounce.Reset(0)
			}
		case <-debounce.C:
			if wait := d.EventGap - time.Since(d.lastEvent); wait > 0 {
				debounce.Reset(wait)
				continue
			}
			pending = false
			if d.level > 0 && why == "netlink" {
				// The last cycle failed (the database, say): the poll's
				// backoff decides when to try again, not the kernel.
				continue
			}
			// Our own changes raise events too: they cost one more cycle,
			// which finds nothing to do. Dropping them could lose a change
			// made by hand during this cycle.
			d.lastEvent = time.Now()
			d.cycle(ctx, why)
		}
	}
}

// relevant reports whether a kernel change concerns a new link, a NIC the
// rows name, a link the agent manages, or a link called multinicN.
func (d *Daemon) relevant(c links.Change) bool {
	if c.Route {
		return false
	}
	if c.Lost {
		return true
	}
	if c.Addr {
		return d.watchIdx[c.Index]
	}
	now := linkState{name: c.Name, mac: c.MAC, mtu: c.MTU, up: c.Up}
	before, known := d.seen[c.Index]
	d.seen[c.Index] = now
	switch {
	case c.Gone:
		delete(d.seen, c.Index)
		return d.watchIdx[c.Index]
	case !known:
		return true
	case before == now:
		return false // the carrier, or something else the agent does not set
	}
	return d.watchIdx[c.Index] || (c.MAC != "" && d.watchMAC[c.MAC]) || strings.HasPrefix(c.Name, "multinic") || strings.HasPrefix(before.name, "multinic")
}

func (d *Daemon) cycle(ctx context.Context, why string) {
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	res, err := d.Rec.Cycle(ctx)
	took := time.Since(start)
	d.Metrics.ObserveCycle(res, err, took)
	if err != nil {
		d.level++
		d.Log.Error("reconcile failed", "trigger", why, "error", err, "backoff_level", d.level,
			"next_in", d.Schedule.Base(d.level).String())
	} else {
		d.level = 0
		d.lastSync = time.Now()
		if res.Changed || res.Failed() > 0 {
			d.Log.Info("reconcile finished", "trigger", why, "rows", len(res.Rows), "failed", res.Failed(),
				"changed", res.Changed, "removed", res.Removed, "duration_ms", took.Milliseconds())
		} else {
			d.Log.Debug("reconcile finished: in sync", "trigger", why, "rows", len(res.Rows), "duration_ms", took.Milliseconds())
		}
	}
	d.Metrics.SetBackoff(d.level)
	d.watch(res)
	d.Health.Set(d.snapshot(res, err))
	d.notify("WATCHDOG=1")
}

func (d *Daemon) watch(res reconcile.Result) {
	if res.Rows == nil && res.Plan.Ifaces == nil {
		return // a failed read: keep watching what we knew
	}
	d.watchIdx, d.watchMAC = map[int]bool{}, map[string]bool{}
	for _, it := range res.Plan.Ifaces {
		if it.Want.MAC != "" {
			d.watchMAC[it.Want.MAC] = true
		}
		if it.Link != nil {
			d.watchIdx[it.Link.Index] = true
		}
	}
}

func (d *Daemon) snapshot(res reconcile.Result, err error) health.Snapshot {
	prev := d.Health.Get()
	s := health.Snapshot{
		Cycled:      true,
		DBConnected: plan.KindOf(err) != plan.Database,
		LastSync:    d.lastSync,
		Backend:     d.Rec.Backend.Name(),
		Interfaces:  prev.Interfaces,
	}
	if p := d.Rec.Problem(); p != nil {
		s.Problem = p.Error()
	}
	if err != nil {
		if plan.KindOf(err) == plan.Database {
			s.DBError = err.Error()
		} else {
			s.NodeError = err.Error()
		}
		if res.Rows == nil {
			// Nothing was read: the interfaces are as last seen.
			s.ProcessedVMs, s.FailedConfigs = d.processed, d.failed
			return s
		}
	}
	s.Interfaces = make([]health.Interface, 0, len(res.Rows))
	for _, row := range res.Rows {
		i := health.Interface{ID: row.ID, Name: row.Name, MAC: row.MAC, Address: row.Address, MTU: row.MTU, State: row.State}
		if row.Err != nil {
			i.Error = row.Err.Error()
		}
		switch row.Outcome() {
		case "failure":
			d.failed++
		case "success":
			d.processed++
		}
		s.Interfaces = append(s.Interfaces, i)
	}
	slices.SortFunc(s.Interfaces, func(a, b health.Interface) int { return cmp.Compare(a.ID, b.ID) })
	s.ProcessedVMs, s.FailedConfigs = d.processed, d.failed
	return s
}
