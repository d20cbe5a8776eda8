// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package reconcile runs one cycle: read the rows, read the live links and
// the owned files, build the plan, apply it, verify it, roll back what
// failed, and report each row's result.
package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/claims"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// StatePath is where the agent keeps what must survive a restart (the
// orphans seen in the last read), under ROOT_DIR.
const StatePath = "/var/lib/multinic-agent/state.json"

// BackupDir keeps, under ROOT_DIR and at their own paths below it, the
// files of the previous generation of multinic-agent that were adopted
// or removed.
const BackupDir = "/var/lib/multinic-agent/previous-agent"

// Reconciler holds what a cycle needs. Cycles never overlap.
type Reconciler struct {
	Store   *store.Store
	Links   *links.Handle
	Backend netconf.Backend
	// Others are the backends not in use whose files are still read, so
	// that a node moved from one backend to another keeps no stale file.
	Others []netconf.Backend
	Root   string
	// ProtectedNames are links never touched (PROTECTED_INTERFACES).
	ProtectedNames []string
	// DBHost is the database host when reached over TCP ("" for a socket):
	// the link that routes to it is protected.
	DBHost   string
	Activate bool
	// ClaimsRead are the families of configuration that take effect on
	// this node (claims.Read); nil means those of Backend.
	ClaimsRead  map[string]bool
	Concurrency int
	// Probe, when set, tells whether a default gateway answers (an ICMP
	// echo); a gateway that answered before a cycle's link changes must
	// answer after them. Tests that run in the host's namespace leave it
	// nil so no packet leaves the test.
	Probe func(ctx context.Context, gw netip.Addr) error
	// MinAbsence is how long a row must have been absent, besides from two
	// consecutive reads, before its interface is removed: reads that kernel
	// events trigger a moment apart must not remove every NIC while the
	// controller rewrites its rows (zero: two reads suffice, as for once).
	MinAbsence time.Duration
	// Backoff spaces the retries of a row whose apply keeps failing; the
	// zero value retries every cycle.
	Backoff Backoff
	Log     *slog.Logger

	mu       sync.Mutex
	state    *state
	dbAddrs  []netip.Addr
	retries  map[int64]*retry
	inFlight atomic.Int64
	cleaned  bool
	scanner  *netconf.Scanner
	claims   map[string]parsedClaims
	render   *renderCache
	view     *kernelView
	trusted  atomic.Bool
	dirty    atomic.Bool
}

// Backoff is the per-row retry schedule: after n consecutive failures a
// row waits Base * Multiplier^n, at most Max, unless the row changes.
type Backoff struct {
	Base, Max  time.Duration
	Multiplier float64
}

// Delay is the wait after the given number of consecutive failures.
func (b Backoff) Delay(failures int) time.Duration {
	if b.Base <= 0 || failures <= 0 {
		return 0
	}
	d := float64(b.Base) * math.Pow(b.Multiplier, float64(failures))
	if b.Max > 0 && d > float64(b.Max) {
		return b.Max
	}
	return time.Duration(d)
}

type retry struct {
	fingerprint string
	failures    int
	next        time.Time
	err         error
}

// fingerprint identifies a row's content: a change resets its backoff.
func fingerprint(r store.Row) string {
	return fmt.Sprintf("%s|%s|%s|%d|%v", r.MAC, r.Address, r.CIDR, r.MTU, r.HasMTU)
}

func (r *Reconciler) noteFailure(row store.Row, u *unit, now time.Time) {
	if r.retries == nil {
		r.retries = map[int64]*retry{}
	}
	fp := fingerprint(row)
	rt := r.retries[row.ID]
	if rt == nil || rt.fingerprint != fp {
		rt = &retry{fingerprint: fp}
		r.retries[row.ID] = rt
	}
	rt.failures++
	rt.err = u.Err
	rt.next = now.Add(r.Backoff.Delay(rt.failures))
}

// Problem says what keeps the agent from working as it should although
// its cycles run (its state file cannot be read or written); nil if none.
func (r *Reconciler) Problem() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		return nil
	}
	return r.state.problem
}

// InFlight is the number of interfaces being applied right now.
func (r *Reconciler) InFlight() int64 { return r.inFlight.Load() }

// Result is the outcome of one cycle.
type Result struct {
	Plan plan.Plan
	Rows []RowResult
	// Orphans lists the orphan interfaces removed in this cycle.
	Removed []string
	// Changed is set when a file or a link was changed (and kept).
	Changed  bool
	Duration time.Duration
}

// RowResult is one row after the cycle.
type RowResult struct {
	ID      int64
	Name    string
	MAC     string
	Address string
	MTU     int
	State   string
	// Err is why the row did not converge; plan.KindOf says its class.
	Err error
	// Deferred is set when the row was not retried because of its backoff;
	// Skipped when the agent stopped before applying it.
	Deferred, Skipped bool
	Changed           bool
	// Adopted counts the previous agent's files taken over for the row.
	Adopted  int
	Drifts   []string
	Duration time.Duration
}

// Outcome is what the cycle did with the row, as the counts of applied
// rows and row failures (health's processed_vms and failed_configs,
// multinic_interfaces_processed_total) count it: "success" for a row
// changed and verified, "failure" for a row that failed in this cycle
// (not one left in its backoff, nor one a stop skipped), "" otherwise.
func (r RowResult) Outcome() string {
	switch {
	case r.Deferred || r.Skipped:
		return ""
	case r.Err != nil:
		return "failure"
	case r.Changed:
		return "success"
	}
	return ""
}

// Failed counts rows that did not converge.
func (r Result) Failed() int {
	n := 0
	for _, row := range r.Rows {
		if row.Err != nil {
			n++
		}
	}
	return n
}

// Plan reads the rows and the node and returns what a cycle would change,
// changing nothing.
func (r *Reconciler) Plan(ctx context.Context) (plan.Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, err := r.read(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	return plan.Build(in), nil
}

func (r *Reconciler) read(ctx context.Context) (plan.Input, error) {
	rows, err := r.Store.Rows(ctx)
	if err != nil {
		return plan.Input{}, plan.Classed(plan.Database, err)
	}
	in, err := r.observe(ctx, rows)
	if err != nil {
		return plan.Input{}, err
	}
	in.Rows = rows
	return in, nil
}

// renderCache remembers what the backend rendered for each interface: an
// idle cycle renders the same files as the last one.
type renderCache struct {
	netconf.Backend
	files map[netconf.Iface][]netconf.File
}

// same reports whether a file found on the node says what the backend
// rendered (the tool that owns the format may have rewritten it).
func (r *Reconciler) same(path string, content, want []byte) bool {
	return netconf.Same(r.Backend, path, content, want)
}

// Render implements netconf.Backend.
func (c *renderCache) Render(i netconf.Iface) []netconf.File {
	if f, ok := c.files[i]; ok {
		return f
	}
	if len(c.files) >= 4*netconf.MaxInterfaces || c.files == nil {
		c.files = map[netconf.Iface][]netconf.File{}
	}
	f := c.Backend.Render(i)
	c.files[i] = f
	return f
}

// kernelView is the links and protected links one dump saw.
type kernelView struct {
	links     []links.Link
	protected map[int]string
	// defaults are the links carrying a default route in the main table.
	defaults map[int]bool
	// reserved are the addresses no row's subnet may take in.
	reserved []plan.Reserved
	// raRead marks the links whose router advertisement settings were
	// read into links (those that rows name).
	raRead map[int]bool
	at     time.Time
}

// maxViewAge bounds how long a cached kernel view is trusted even when no
// event said it changed.
const maxViewAge = 5 * time.Minute

// TrustKernelEvents tells the reconciler that every later link, address
// and route change will be reported through Invalidate, so it may keep
// its last view of the kernel between cycles instead of dumping it again.
func (r *Reconciler) TrustKernelEvents() { r.trusted.Store(true) }

// Invalidate reports a kernel change (or possibly missed changes): the
// next cycle reads the kernel again.
func (r *Reconciler) Invalidate() { r.dirty.Store(true) }

// kernel returns the kernel's view, the cached one when nothing changed
// since it was taken.
func (r *Reconciler) kernel(ctx context.Context) (*kernelView, error) {
	dirty := r.dirty.Swap(false)
	if v := r.view; v != nil && r.trusted.Load() && !dirty && time.Since(v.at) < maxViewAge {
		return v, nil
	}
	r.view = nil
	ls, err := r.Links.List()
	if err != nil {
		return nil, err
	}
	prot, err := r.protected(ctx, ls)
	if err != nil {
		return nil, err
	}
	def, err := r.Links.DefaultRouteLinks()
	if err != nil {
		return nil, err
	}
	gws, err := r.Links.DefaultGateways()
	if err != nil {
		return nil, err
	}
	var reserved []plan.Reserved
	for _, ip := range r.databaseAddrs(ctx) {
		reserved = append(reserved, plan.Reserved{Prefix: netip.PrefixFrom(ip, ip.BitLen()), What: "the database address " + ip.String()})
	}
	for _, gw := range gws {
		if !gw.Addr.IsLinkLocalUnicast() {
			reserved = append(reserved, plan.Reserved{Prefix: netip.PrefixFrom(gw.Addr, gw.Addr.BitLen()), What: "the default gateway " + gw.Addr.String(), Via: gw.Link})
		}
	}
	r.view = &kernelView{links: ls, protected: prot, defaults: def, reserved: reserved, raRead: map[int]bool{}, at: time.Now()}
	return r.view, nil
}

// readRA reads what the links that rows name learn from the network, once
// per kernel view: changing it raises no kernel event, so a change by hand
// is seen with the next dump (an event, or the view's maximum age).
func (r *Reconciler) readRA(ls []links.Link, rows []store.Row) {
	macs := map[string]bool{}
	for _, row := range rows {
		if mac, err := netconf.NormalMAC(row.MAC); err == nil {
			macs[mac] = true
		}
	}
	for k := range ls {
		l := &ls[k]
		if !macs[l.MAC] || r.view.raRead[l.Index] {
			continue
		}
		ra, err := r.Links.RA(l.Index)
		if err != nil {
			r.Log.Warn("cannot read whether a NIC learns from router advertisements", "name", l.Name, "error", err)
			continue
		}
		l.RA = ra
		r.view.raRead[l.Index] = true
	}
}

func (r *Reconciler) observe(ctx context.Context, rows []store.Row) (plan.Input, error) {
	view, err := r.kernel(ctx)
	if err != nil {
		return plan.Input{}, err
	}
	r.readRA(view.links, rows)
	if r.scanner == nil {
		r.scanner = &netconf.Scanner{Root: r.Root, Backends: append([]netconf.Backend{r.Backend}, r.Others...), Other: claims.Relevant, Extra: claims.Files}
		r.render = &renderCache{Backend: r.Backend}
		if r.ClaimsRead == nil {
			r.ClaimsRead = claims.Read(r.Backend.Name(), "")
		}
	}
	files, err := r.scanner.Scan()
	if err != nil {
		return plan.Input{}, err
	}
	if r.state == nil {
		r.state = loadState(filepath.Join(r.Root, StatePath))
		if r.state.problem != nil {
			r.Log.Error("agent state unusable; going on with it in memory", "error", r.state.problem)
		}
	}
	return plan.Input{Links: view.links, Files: files, Protected: view.protected, DefaultRoute: view.defaults, Render: r.render.Render, Same: r.same,
		Claims: r.otherClaims(), ClaimsRead: r.ClaimsRead, Reserved: view.reserved, PrevAbsent: r.state.confirmedAbsent(time.Now(), r.MinAbsence)}, nil
}

// parsedClaims are the claims of one file that is not the agent's, for
// the content they were parsed from.
type parsedClaims struct {
	content []byte
	claims  []claims.Claim
}

// otherClaims parses what the last scan found of files that are not the
// agent's, again only for a file whose content changed.
func (r *Reconciler) otherClaims() []claims.Claim {
	next := map[string]parsedClaims{}
	var out []claims.Claim
	for _, f := range r.scanner.Others() {
		pc, ok := r.claims[f.Path]
		if !ok || !bytes.Equal(pc.content, f.Content) {
			pc = parsedClaims{content: f.Content, claims: claims.Parse(f.Path, f.Content)}
		}
		next[f.Path] = pc
		out = append(out, pc.claims...)
	}
	r.claims = next
	return out
}

// protected returns the links that must never be changed, with the reason.
func (r *Reconciler) protected(ctx context.Context, ls []links.Link) (map[int]string, error) {
	out := map[int]string{}
	for _, l := range ls {
		if l.Loopback || l.Name == "lo" {
			out[l.Index] = "is the loopback"
		}
		if slices.Contains(r.ProtectedNames, l.Name) {
			out[l.Index] = "is listed in PROTECTED_INTERFACES"
		}
	}
	for _, ip := range r.databaseAddrs(ctx) {
		if idx, err := r.Links.RouteLink(ip); err == nil {
			if _, ok := out[idx]; !ok {
				out[idx] = "carries the route to the database (" + ip.String() + ")"
			}
		}
	}
	return out, nil
}

func (r *Reconciler) databaseAddrs(ctx context.Context) []netip.Addr {
	if r.DBHost == "" || r.dbAddrs != nil {
		return r.dbAddrs
	}
	if ip, err := netip.ParseAddr(r.DBHost); err == nil {
		r.dbAddrs = []netip.Addr{ip.Unmap()}
		return r.dbAddrs
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", r.DBHost)
	if err != nil {
		r.Log.Warn("cannot resolve the database host to protect its route; will retry", "db_host", r.DBHost, "error", err)
		return nil
	}
	for _, ip := range ips {
		r.dbAddrs = append(r.dbAddrs, ip.Unmap())
	}
	return r.dbAddrs
}

// Cycle reads, plans, applies, verifies and reports. An error means the
// cycle could not run (the database or the node could not be read, or
// results could not be written); row failures are in the Result.
//
// Cancelling ctx during the read abandons the cycle; once changes have
// begun it only stops new interfaces from starting: the ones in hand are
// finished or rolled back, verified and reported.
func (r *Reconciler) Cycle(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	if !r.cleaned {
		// A crash in the middle of a write leaves a hidden temporary file,
		// which no network tool reads; clear them once per start. Only a
		// cycle does, which runs under the lock: `plan` next to a working
		// daemon must not take its files from under it.
		for _, b := range append([]netconf.Backend{r.Backend}, r.Others...) {
			for _, d := range b.Dirs() {
				atomicfile.CleanTemp(filepath.Join(r.Root, d))
			}
		}
		r.cleaned = true
	}
	in, err := r.read(ctx)
	if err != nil {
		return Result{}, err
	}
	p := plan.Build(in)
	finish := context.WithoutCancel(ctx)
	res := r.apply(finish, ctx.Done(), p, in.Files)
	res.Plan = p
	reportErr := r.report(finish, &res)
	r.state.setAbsent(p.Absent, start)
	before := r.state.problem
	if err := r.state.save(); err != nil && (before == nil || before.Error() != r.state.problem.Error()) {
		r.Log.Error("cannot save agent state; going on with it in memory", "error", r.state.problem)
	}
	res.Duration = time.Since(start)
	return res, reportErr
}

// report writes netplan_success where it changes. The whole report shares
// one statement's deadline and stops at the first failure: a database that
// hangs (a row locked by another transaction) or is gone holds the cycle
// once, not once per row.
func (r *Reconciler) report(ctx context.Context, res *Result) error {
	ctx, cancel := context.WithTimeout(ctx, r.Store.Timeout())
	defer cancel()
	for k, it := range res.Plan.Ifaces {
		ok := res.Rows[k].Err == nil
		if ok == it.Row.Success || res.Rows[k].Skipped {
			continue
		}
		if err := r.Store.SetSuccess(ctx, it.Row.ID, ok); err != nil {
			if errors.Is(err, store.ErrRowGone) {
				r.Log.Warn("row changed owner or was deleted during the cycle", "id", it.Row.ID, "error", err)
				continue
			}
			return plan.Classed(plan.Database, fmt.Errorf("reporting row %d (the next cycle reports it again): %w", it.Row.ID, err))
		}
	}
	return nil
}

func (r *Reconciler) ifaceLog(it *plan.Iface) *slog.Logger {
	return r.Log.With("id", it.Row.ID, "name", it.Want.Name, "mac", it.Want.MAC)
}

// Path returns a node path under ROOT_DIR.
func (r *Reconciler) path(p string) string { return filepath.Join(r.Root, p) }
