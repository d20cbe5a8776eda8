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
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/claims"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netmon"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
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
	Store *store.Store
	// Links changes the kernel; Kernel is the view of it that every read
	// goes through (nil: a monitor of Links that keeps no snapshot).
	Links   *links.Handle
	Kernel  *netmon.Monitor
	Backend netconf.Backend
	// Others are the backends not in use whose files are still read, so
	// that a node moved from one backend to another keeps no stale file.
	Others []netconf.Backend
	Root   rootfs.Root
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
	// readTogether is the backend's netconf.ReadTogether, if it has one.
	readTogether func(path string) bool
	// udevDone are the links udev has finished adding; settling is set
	// while a row's NIC is still being added (udevSettled).
	udevDone map[int]bool
	settling bool
	view     *kernelView
	// silent are the default gateways that did not answer an echo request
	// before a change, and when (see answeringGateways).
	silent map[netip.Addr]time.Time
	// quiet is the last plan that changed nothing and what it was built
	// from: an idle cycle with the same input reuses it.
	quiet *quietPlan
}

// quietPlan is a plan with nothing to do, and its input: the rows, the
// kernel view, the scan of the files and the orphans of the last read.
type quietPlan struct {
	plan   plan.Plan
	rows   []plan.Row
	view   *kernelView
	files  uint64
	absent map[string]bool
}

// watching reports whether the kernel monitor is subscribed to changes
// (the daemon): its snapshots, and so the file scanner's reuse of its
// last result and the reuse of a quiet plan, are then trusted.
func (r *Reconciler) watching() bool { return r.Kernel != nil && r.Kernel.Watching() }

// planFor builds the plan of in, or returns the last one when it changed
// nothing and was built from the same input (the daemon's idle cycle:
// the same rows, no kernel event, no file change reported). Planning is a
// pure function of its input, so the plan would be the same.
func (r *Reconciler) planFor(in plan.Input) plan.Plan {
	q := r.quiet
	if q != nil && r.watching() && q.view == r.view && q.files == r.scanner.Generation() &&
		slices.Equal(q.rows, in.Rows) && maps.Equal(q.absent, in.PrevAbsent) {
		return q.plan
	}
	p := plan.Build(in)
	r.quiet = nil
	if len(p.Orphans) == 0 && len(p.Absent) == 0 && !slices.ContainsFunc(p.Ifaces, func(it plan.Iface) bool { return len(it.Actions) > 0 }) {
		r.quiet = &quietPlan{plan: p, rows: slices.Clone(in.Rows), view: r.view, files: r.scanner.Generation(), absent: maps.Clone(in.PrevAbsent)}
	}
	return p
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

// RetryNow makes the next cycle apply every row, as once does, even one
// whose backoff would defer it: whoever asks for a cycle has usually just
// fixed what made it fail. Its count of failures is kept.
func (r *Reconciler) RetryNow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.retries {
		rt.next = time.Time{}
	}
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
	// Phases is where the cycle's time went.
	Phases Phases
	// Settling is set when a row's NIC was left alone because udev has not
	// finished adding it (it may still rename it): look again soon.
	Settling bool
}

// Phases are the durations of a cycle's steps: reading the rows and the
// node, asking the default gateways before a link change, applying,
// running the backend's tools, reading the result back, checking that the
// database and the gateways still answer, and writing netplan_success.
type Phases struct {
	Read, Gateways, Apply, Activate, Verify, Check, Report time.Duration
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

// kernelView is what the plan needs of one kernel snapshot: the links
// (with the router advertisement settings of those rows name), the links
// never changed, and the addresses no subnet may take in.
type kernelView struct {
	snap      *netmon.Snapshot
	links     []links.Link
	protected map[int]string
	reserved  []plan.Reserved
	// raFor are the rows whose links' router advertisement settings the
	// links hold: an idle cycle reads the same rows and has nothing to add.
	raFor []store.Row
}

// monitor returns the kernel monitor, one of the handle's own when the
// caller gave none (once, plan: each snapshot then reads the kernel).
func (r *Reconciler) monitor() *netmon.Monitor {
	if r.Kernel == nil {
		r.Kernel = netmon.New(r.Links)
	}
	return r.Kernel
}

// kernel returns the view of the monitor's snapshot, computed again only
// when the snapshot is a new one.
func (r *Reconciler) kernel(ctx context.Context, rows []store.Row) (*kernelView, error) {
	snap, err := r.monitor().Snapshot()
	if err != nil {
		return nil, err
	}
	if r.view == nil || r.view.snap != snap {
		ls := slices.Clone(snap.Links)
		var reserved []plan.Reserved
		for _, ip := range r.databaseAddrs(ctx) {
			reserved = append(reserved, plan.Reserved{Prefix: netip.PrefixFrom(ip, ip.BitLen()), What: "the database address " + ip.String()})
		}
		for _, gw := range snap.Gateways {
			if !gw.Addr.IsLinkLocalUnicast() {
				reserved = append(reserved, plan.Reserved{Prefix: netip.PrefixFrom(gw.Addr, gw.Addr.BitLen()), What: "the default gateway " + gw.Addr.String(), Via: gw.Link})
			}
		}
		r.view = &kernelView{snap: snap, links: ls, protected: r.protected(ctx, snap), reserved: reserved}
	}
	r.readRA(r.view, rows)
	return r.view, nil
}

// rowMACs are the rows' valid MACs, normalised as links report them.
func rowMACs(rows []store.Row) map[string]bool {
	macs := map[string]bool{}
	for _, row := range rows {
		if mac, err := netconf.NormalMAC(row.MAC); err == nil {
			macs[mac] = true
		}
	}
	return macs
}

// readRA reads what the links that rows name learn from the network.
func (r *Reconciler) readRA(v *kernelView, rows []store.Row) {
	if v.raFor != nil && slices.Equal(v.raFor, rows) {
		return
	}
	macs := rowMACs(rows)
	failed := false
	for k := range v.links {
		l := &v.links[k]
		if !macs[l.MAC] || l.RA.Known {
			continue
		}
		ra, err := v.snap.RA(l.Index)
		if err != nil {
			r.Log.Warn("cannot read whether a NIC learns from router advertisements", "name", l.Name, "error", err)
			failed = true
			continue
		}
		l.RA = ra
	}
	if !failed {
		// The next cycle tries again after a failure.
		v.raFor = slices.Clone(rows)
	}
}

func (r *Reconciler) observe(ctx context.Context, rows []store.Row) (plan.Input, error) {
	view, err := r.kernel(ctx, rows)
	if err != nil {
		return plan.Input{}, err
	}
	if r.scanner == nil {
		// The daemon's scanner hears of file changes from the kernel, as its
		// view of the links does: an idle cycle then stats no file.
		r.scanner = &netconf.Scanner{Root: r.Root, Backends: append([]netconf.Backend{r.Backend}, r.Others...), Other: claims.Relevant, Extra: claims.Files, Watch: r.watching()}
		r.render = &renderCache{Backend: r.Backend}
		if t, ok := r.Backend.(netconf.ReadTogether); ok {
			r.readTogether = t.ReadTogether
		}
		if r.ClaimsRead == nil {
			r.ClaimsRead = claims.Read(r.Backend.Name(), "")
		}
	}
	files, err := r.scanner.Scan()
	if err != nil {
		return plan.Input{}, err
	}
	if r.state == nil {
		r.state = loadState(r.Root.Path(StatePath))
		if r.state.problem != nil {
			r.Log.Error("agent state unusable; going on with it in memory", "error", r.state.problem)
		}
	}
	return plan.Input{Links: r.udevSettled(view.links, rows), Files: files, Protected: view.protected, DefaultRoute: view.snap.DefaultRoute, Render: r.render.Render, Same: r.same,
		Claims: r.otherClaims(), ClaimsRead: r.ClaimsRead, Reserved: view.reserved, PrevAbsent: r.state.confirmedAbsent(time.Now(), r.MinAbsence),
		ReadTogether: r.readTogether}, nil
}

// udevSettled returns ls without the links of rows that udev has not
// finished adding (links.UdevPending): their rows wait, as for a NIC not
// yet there, and the cycle's result says Settling so that the daemon looks
// again soon. A link found settled is not looked at again.
func (r *Reconciler) udevSettled(ls []links.Link, rows []store.Row) []links.Link {
	var macs map[string]bool // the rows' MACs, once a link is not known settled
	pending := func(l links.Link) bool {
		if r.udevDone[l.Index] {
			return false
		}
		if !links.UdevPending(r.Root, l.Index) {
			if r.udevDone == nil {
				r.udevDone = map[int]bool{}
			}
			r.udevDone[l.Index] = true
			return false
		}
		if macs == nil {
			macs = rowMACs(rows)
		}
		if !macs[l.MAC] {
			return false
		}
		r.Log.Debug("udev has not finished adding the NIC; its row waits", "name", l.Name, "mac", l.MAC, "index", l.Index)
		return true
	}
	k := slices.IndexFunc(ls, pending)
	r.settling = k >= 0
	if k < 0 {
		return ls
	}
	out := slices.Clone(ls[:k])
	for _, l := range ls[k+1:] {
		if !pending(l) {
			out = append(out, l)
		}
	}
	return out
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
func (r *Reconciler) protected(ctx context.Context, snap *netmon.Snapshot) map[int]string {
	out := map[int]string{}
	for _, l := range snap.Links {
		if l.Loopback || l.Name == "lo" {
			out[l.Index] = "is the loopback"
		}
		if slices.Contains(r.ProtectedNames, l.Name) {
			out[l.Index] = "is listed in PROTECTED_INTERFACES"
		}
	}
	for _, ip := range r.databaseAddrs(ctx) {
		if idx, err := snap.RouteLink(ip); err == nil {
			if _, ok := out[idx]; !ok {
				out[idx] = "carries the route to the database (" + ip.String() + ")"
			}
		}
	}
	return out
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
				atomicfile.CleanTemp(r.Root.Path(d))
			}
		}
		r.cleaned = true
	}
	in, err := r.read(ctx)
	if err != nil {
		return Result{}, err
	}
	p := r.planFor(in)
	read := time.Since(start)
	finish := context.WithoutCancel(ctx)
	res := r.apply(finish, ctx.Done(), p, in.Files)
	res.Plan, res.Settling = p, r.settling
	res.Phases.Read = read
	reported := time.Now()
	reportErr := r.report(finish, &res)
	res.Phases.Report = time.Since(reported)
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
	var cancel context.CancelFunc
	for k, it := range res.Plan.Ifaces {
		ok := res.Rows[k].Err == nil
		if ok == it.Row.Success || res.Rows[k].Skipped {
			continue
		}
		if cancel == nil {
			// Made for the first write: an idle cycle writes nothing.
			ctx, cancel = context.WithTimeout(ctx, r.Store.Timeout())
			defer cancel()
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
