// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package daemon is the long-running loop: a reconcile at start, then one
// every poll interval (with jitter and backoff), and one soon after the
// kernel reports a change to a NIC the rows name.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/metrics"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netmon"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"golang.org/x/time/rate"
)

// Daemon runs the reconciler until its context ends.
type Daemon struct {
	Rec *reconcile.Reconciler
	// Kernel is the reconciler's kernel monitor: its changes trigger cycles.
	Kernel   *netmon.Monitor
	Metrics  *metrics.Metrics
	Health   *health.State
	Schedule Schedule
	// Debounce is how long to wait after a kernel change for more before
	// reconciling.
	Debounce time.Duration
	// EventGap is the average time between two cycles that kernel changes
	// trigger, at the least: a flapping link cannot make the agent read the
	// database more often than once per EventGap, after a burst of
	// eventBurst. The burst lets a NIC plugged in soon after another go at
	// once, although the other's cycle was followed by one for the events
	// of its own changes. While cycles fail, kernel changes trigger none:
	// the poll, with its backoff, retries.
	EventGap time.Duration
	// RequestGap is the shortest time from the start of any cycle to one
	// that requests (Request, Reconcile) trigger: however many callers ask,
	// and however often, they make the agent read the database at most
	// once per RequestGap. Requests that wait together share one cycle.
	RequestGap time.Duration
	// Reach, when set, probes whether the database server answers at all
	// (store.Reachable), and Unreachable tells the failures where it did
	// not (store.Unreachable): after such a failure the agent probes every
	// interval instead of waiting out the backoff.
	Reach       func(ctx context.Context) error
	Unreachable func(error) bool
	// Notify sends a systemd notification (READY=1, WATCHDOG=1,
	// STOPPING=1); nil when not run by systemd.
	Notify func(state string)
	// Watchdog is the interval of WATCHDOG=1 notifications; 0 for none.
	Watchdog time.Duration
	Log      *slog.Logger

	level int
	// unreachable is set when the last cycle failed because the database
	// server could not be reached at all.
	unreachable bool
	// settling is set when the last cycle left a row's NIC to udev.
	settling  bool
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
	events       *rate.Limiter
	requests     chan struct{}
	requestsOnce sync.Once

	// mu guards what callers of Request and Reconcile share with the loop.
	mu sync.Mutex
	// waiters are the callers of Reconcile whose cycle has not started.
	waiters []waiter
	// lastAsk is when the latest request came, lastStart when the latest
	// cycle began: a request is served once a cycle starts after it.
	lastAsk, lastStart time.Time
	stopped            bool
}

type waiter struct {
	at time.Time
	ch chan health.CycleResult
}

func (d *Daemon) requested() chan struct{} {
	d.requestsOnce.Do(func() { d.requests = make(chan struct{}, 1) })
	return d.requests
}

// Request asks for a cycle now, without waiting for it (SIGHUP). Any cycle
// that starts after the request serves it; one that the request triggers
// starts no sooner than RequestGap after the previous cycle's start.
func (d *Daemon) Request() {
	d.mu.Lock()
	d.lastAsk = time.Now()
	d.mu.Unlock()
	d.poke()
}

func (d *Daemon) poke() {
	select {
	case d.requested() <- struct{}{}:
	default:
	}
}

// ErrStopped is returned to callers of Reconcile when the daemon stops
// before their cycle starts.
var ErrStopped = errors.New("the agent is stopping")

// Reconcile asks for a cycle, as Request does, and returns the result of
// the first cycle that starts after the call (so it reads the rows as they
// are now). Callers that wait together share that cycle.
func (d *Daemon) Reconcile(ctx context.Context) (health.CycleResult, error) {
	w := waiter{at: time.Now(), ch: make(chan health.CycleResult, 1)}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return health.CycleResult{}, ErrStopped
	}
	d.waiters = append(d.waiters, w)
	d.lastAsk = w.at
	d.mu.Unlock()
	d.poke()
	select {
	case res, ok := <-w.ch:
		if !ok {
			return health.CycleResult{}, ErrStopped
		}
		return res, nil
	case <-ctx.Done():
		d.mu.Lock()
		d.waiters = slices.DeleteFunc(d.waiters, func(o waiter) bool { return o.ch == w.ch })
		d.mu.Unlock()
		return health.CycleResult{}, ctx.Err()
	}
}

// due reports whether a request came after the latest cycle started.
func (d *Daemon) due() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastAsk.After(d.lastStart)
}

// sinceStart is the time since the latest cycle started.
func (d *Daemon) sinceStart() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Since(d.lastStart)
}

// stop releases the callers still waiting: no cycle will serve them.
func (d *Daemon) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	for _, w := range d.waiters {
		close(w.ch)
	}
	d.waiters = nil
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
	changes, err := d.Kernel.Watch(ctx)
	if err != nil {
		d.Log.Warn("cannot subscribe to netlink events; hot-plugged NICs wait for the next poll", "error", err)
	}
	d.seen = map[int]linkState{}
	if snap, err := d.Kernel.Snapshot(); err == nil {
		for _, l := range snap.Links {
			d.seen[l.Index] = linkState{name: l.Name, mac: l.MAC, mtu: l.MTU, up: l.Up}
		}
	}
	d.cycle(ctx, "start")
	d.notify("READY=1")

	defer d.stop()
	poll := newPollTimer(d.Schedule.First(random(), random()))
	defer poll.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	asked := time.NewTimer(time.Hour)
	asked.Stop()
	probe := time.NewTimer(time.Hour)
	probe.Stop()
	// reprobe arms the reachability probe while the database cannot be
	// reached and the backoff holds the next poll back.
	reprobe := func() {
		if d.Reach != nil && d.unreachable && d.Schedule.Probing(d.level) {
			probe.Reset(d.Schedule.Probe(random()))
		} else {
			probe.Stop()
		}
	}
	reprobe()
	pending, waiting := false, false
	// A cycle is a heartbeat (it notifies WATCHDOG=1 and beats health):
	// the watchdog timer only fills the gaps between cycles, so at a poll
	// interval shorter than Watchdog it never wakes the agent.
	var tick <-chan time.Time
	rewind := func() {}
	if d.Watchdog > 0 {
		t := time.NewTimer(d.Watchdog)
		defer t.Stop()
		tick = t.C
		rewind = func() { t.Reset(d.Watchdog) }
	}
	cycle := func(why string) {
		d.cycle(ctx, why)
		rewind()
		if d.settling && !pending {
			// A row's NIC is still being added by udev, which announces
			// the end of it only when it renames the NIC: look again.
			pending = true
			debounce.Reset(d.Debounce)
		}
	}
	// after runs a cycle that did not come from the poll timer: one that
	// ends a backoff (it reached the database) brings the next poll back
	// to the interval instead of the backoff's wait.
	after := func(why string) {
		level := d.level
		cycle(why)
		if level > 0 && d.level == 0 {
			poll.Reset(d.Schedule.Next(0, random()))
		}
		reprobe()
	}
	for {
		select {
		case <-ctx.Done():
			d.notify("STOPPING=1")
			return nil
		case <-tick:
			d.Health.Beat()
			d.notify("WATCHDOG=1")
			rewind()
		case <-poll.C():
			cycle("poll")
			poll.Reset(d.Schedule.Next(d.level, random()))
			reprobe()
		case <-probe.C:
			if !d.unreachable || d.level == 0 {
				continue
			}
			if err := d.Reach(ctx); err != nil {
				d.Log.Debug("the database is still unreachable", "error", err)
				reprobe()
				continue
			}
			d.Log.Info("the database server answers again; reconciling now", "backoff_level", d.level)
			after("database")
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if d.relevant(c) && !pending {
				pending = true
				debounce.Reset(d.Debounce)
			}
		case <-d.requested():
			if !waiting && d.due() {
				waiting = true
				asked.Reset(max(0, d.RequestGap-d.sinceStart()))
			}
		case <-asked.C:
			if wait := d.RequestGap - d.sinceStart(); wait > 0 {
				asked.Reset(wait)
				continue
			}
			waiting = false
			if d.due() {
				// The requested cycle also serves a pending kernel change:
				// it reads the kernel again.
				after("request")
			}
		case <-debounce.C:
			if wait := d.eventWait(time.Now()); wait > 0 {
				debounce.Reset(wait)
				continue
			}
			pending = false
			if d.level > 0 {
				// The last cycle failed (the database, say): the poll's
				// backoff decides when to try again, not the kernel.
				continue
			}
			// Our own changes raise events too: they cost one more cycle,
			// which finds nothing to do. Dropping them could lose a change
			// made by hand during this cycle.
			after("netlink")
		}
	}
}

// eventBurst is how many cycles kernel changes may trigger at once before
// EventGap spaces them: a NIC's own cycle and the one its changes' events
// trigger, then the next NIC's.
const eventBurst = 3

// eventWait takes a turn for a cycle that kernel changes trigger at now
// and returns zero, or returns how long until there is one.
func (d *Daemon) eventWait(now time.Time) time.Duration {
	if d.events == nil {
		d.events = rate.NewLimiter(rate.Every(d.EventGap), eventBurst)
	}
	r := d.events.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait
	}
	return 0
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
	d.mu.Lock()
	d.lastStart = start
	serving := d.waiters
	d.waiters = nil
	d.mu.Unlock()
	if why == "request" {
		d.Rec.RetryNow()
	}
	res, err := d.Rec.Cycle(ctx)
	took := time.Since(start)
	defer func() {
		if len(serving) == 0 {
			return
		}
		out := d.result(why, start, took, res, err)
		for _, w := range serving {
			out.Requested = w.at
			w.ch <- out
		}
	}()
	d.record(why, res, err, took)
}

// record keeps what a cycle's result says: the metrics, the backoff, the
// log, the links to watch and the health snapshot.
func (d *Daemon) record(why string, res reconcile.Result, err error, took time.Duration) {
	d.Metrics.ObserveCycle(res, err, took)
	d.unreachable = err != nil && d.Unreachable != nil && d.Unreachable(err)
	d.settling = err == nil && res.Settling
	if err != nil {
		d.level++
		args := []any{"trigger", why, "error", err, "backoff_level", d.level, "next_in", d.Schedule.Base(d.level).String()}
		if d.unreachable && d.Reach != nil && d.Schedule.Probing(d.level) {
			args = append(args, "probe_every", d.Schedule.Interval.String())
		}
		d.Log.Error("reconcile failed", args...)
	} else {
		d.level = 0
		d.lastSync = time.Now()
		if res.Changed || res.Failed() > 0 {
			ph := res.Phases
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			d.Log.Info("reconcile finished", "trigger", why, "rows", len(res.Rows), "failed", res.Failed(),
				"changed", res.Changed, "removed", res.Removed, "duration_ms", took.Milliseconds(),
				slog.Group("phases_ms", "read", ms(ph.Read), "gateways", ms(ph.Gateways), "apply", ms(ph.Apply),
					"activate", ms(ph.Activate), "verify", ms(ph.Verify), "check", ms(ph.Check), "report", ms(ph.Report)))
		} else if d.Log.Enabled(context.Background(), slog.LevelDebug) {
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
	// Cleared, not made again: an idle cycle allocates nothing here.
	if d.watchIdx == nil {
		d.watchIdx, d.watchMAC = map[int]bool{}, map[string]bool{}
	}
	clear(d.watchIdx)
	clear(d.watchMAC)
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
	// Built on the stack, copied only when it differs from the last list:
	// an idle cycle's is the same, and health then knows it unchanged.
	var buf [netconf.MaxInterfaces]health.Interface
	list := buf[:0]
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
		list = append(list, i)
	}
	slices.SortFunc(list, func(a, b health.Interface) int { return cmp.Compare(a.ID, b.ID) })
	if prev.Interfaces == nil || !slices.Equal(list, prev.Interfaces) {
		s.Interfaces = append(make([]health.Interface, 0, len(list)), list...)
	}
	s.ProcessedVMs, s.FailedConfigs = d.processed, d.failed
	return s
}

// result is what callers of Reconcile get from a cycle.
func (d *Daemon) result(why string, start time.Time, took time.Duration, res reconcile.Result, err error) health.CycleResult {
	snap := d.Health.Get()
	out := health.CycleResult{Trigger: why, Started: start, DurationMs: took.Milliseconds(),
		Rows: len(res.Rows), Failed: res.Failed(), Changed: res.Changed, Removed: res.Removed,
		DBConnected: snap.DBConnected, Interfaces: snap.Interfaces}
	switch {
	case err != nil:
		out.Error, out.Exit = err.Error(), 2
	case res.Failed() > 0:
		out.Exit = 1
	}
	if out.Interfaces == nil {
		out.Interfaces = []health.Interface{}
	}
	return out
}
