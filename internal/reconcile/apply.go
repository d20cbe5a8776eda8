// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netmon"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/txn"
)

// unit is the transaction of one interface (a row's, an orphan's, or a
// leftover activation's) and what the reconciler keeps of it.
type unit struct {
	*txn.Unit
	row  int // index in plan.Ifaces; -1 for an orphan, -2 for a leftover activation
	name string
}

// txnUnits returns the transactions of units.
func txnUnits(units []*unit) []*txn.Unit {
	out := make([]*txn.Unit, len(units))
	for k, u := range units {
		out[k] = u.Unit
	}
	return out
}

// apply carries out p and returns each row's result. stop ends the cycle
// early: units not yet started are skipped, the ones in hand finish (or
// roll back) and are verified.
func (r *Reconciler) apply(ctx context.Context, stop <-chan struct{}, p plan.Plan, files []netconf.Owned) Result {
	res := Result{Rows: make([]RowResult, len(p.Ifaces))}
	now := time.Now()
	var units []*unit
	for k := range p.Ifaces {
		it := &p.Ifaces[k]
		row := &res.Rows[k]
		*row = RowResult{ID: it.Row.ID, Name: it.Want.Name, MAC: it.Want.MAC, MTU: it.Want.MTU, State: it.State(), Err: it.Err}
		if it.Want.Addr.IsValid() {
			row.Address = it.Want.Addr.String()
		}
		// Loggers carry id, name and MAC; built only when there is something to say.
		log := func() *slog.Logger { return r.ifaceLog(it) }
		switch {
		case it.Err != nil:
			log().Error("row not applied", "error", it.Err, "error_type", plan.KindOf(it.Err))
			continue
		case it.Link == nil:
			row.Err = plan.Classed(plan.NICMissing, fmt.Errorf("row %d: no NIC with MAC %s on this node", it.Row.ID, it.Want.MAC))
			log().Warn("NIC not present; the row is applied when it appears", "error", row.Err)
			continue
		case len(it.Actions) == 0:
			continue
		}
		if rt := r.retries[it.Row.ID]; rt != nil && rt.fingerprint == fingerprint(it.Row) && now.Before(rt.next) {
			row.Err = fmt.Errorf("%w (retry %d in %s)", rt.err, rt.failures+1, rt.next.Sub(now).Round(time.Second))
			row.Deferred = true
			log().Debug("row in backoff after failures", "failures", rt.failures, "next", rt.next)
			continue
		}
		for _, a := range it.Actions {
			if a.Drift != "" {
				row.Drifts = append(row.Drifts, a.Drift)
			}
		}
		units = append(units, &unit{row: k, name: it.Want.Name, Unit: &txn.Unit{Label: fmt.Sprintf("row %d (%s)", it.Row.ID, it.Want.Name), Actions: it.Actions, Before: it.Link, Log: log()}})
	}
	for k := range p.Orphans {
		o := &p.Orphans[k]
		log := r.Log.With("name", o.Name, "mac", o.MAC)
		switch {
		case o.Kept != "":
			log.Warn("orphaned interface kept", "reason", o.Kept)
			continue
		case !o.Confirmed:
			log.Info("row absent from this read; the interface is removed if it is still absent from the next read")
			continue
		}
		units = append(units, &unit{row: -1, name: o.Name, Unit: &txn.Unit{Label: "orphan " + o.Name, Actions: o.Actions, Before: o.Link, Log: log}})
	}
	if len(units) > 0 || len(r.state.Activate) > 0 {
		t := time.Now()
		lap := func(d *time.Duration) { now := time.Now(); *d, t = now.Sub(t), now }
		gws := r.answeringGateways(ctx, units)
		lap(&res.Phases.Gateways)
		leftover := r.unfinishedActivation(files)
		r.markActivation(units)
		c := &txn.Cycle{Ops: r.ops(), Units: txnUnits(units), Concurrency: r.Concurrency, InFlight: &r.inFlight, OnChange: r.monitor().Invalidate}
		c.Apply(stop)
		for _, u := range units {
			if u.Err != nil {
				u.Err = plan.Classed(plan.Apply, u.Err)
			}
		}
		lap(&res.Phases.Apply)
		r.activate(ctx, c, append(units, leftover...))
		lap(&res.Phases.Activate)
		r.verify(ctx, c, p, units)
		lap(&res.Phases.Verify)
		r.checkReach(ctx, c, units, gws)
		lap(&res.Phases.Check)
		r.state.Activate = nil
	}

	for _, u := range units {
		if u.row < 0 {
			if u.Err == nil && !u.Skipped {
				res.Removed = append(res.Removed, u.name)
				res.Changed = true
			}
			continue
		}
		row := &res.Rows[u.row]
		row.Duration = u.Took
		switch {
		case u.Skipped:
			row.Err, row.Skipped = plan.Classed(plan.Apply, fmt.Errorf("%s: not applied: the agent is stopping", u.Label)), true
		case u.Err != nil:
			row.Err = u.Err
			r.noteFailure(p.Ifaces[u.row].Row, u, now)
		default:
			row.Changed = true
			res.Changed = true
			for _, a := range u.Actions {
				if a.Kind == plan.Adopt {
					row.Adopted++
				}
			}
		}
	}
	for k := range res.Rows {
		row := &res.Rows[k]
		if row.Err == nil {
			delete(r.retries, row.ID)
		}
		switch {
		case row.Err == nil:
			row.State = plan.StateConfigured
		case row.State != plan.StateMissing:
			row.State = plan.StateFailed
		}
	}
	return res
}

// backUp keeps old, the previous agent's content of path, under
// BackupDir before the agent replaces or deletes it. A copy already there
// is never overwritten: a different content gets a time-stamped name.
func (r *Reconciler) backUp(path string, old []byte) (string, error) {
	dst := r.Root.Path(filepath.Join(BackupDir, path))
	switch cur, err := os.ReadFile(dst); {
	case err == nil && bytes.Equal(cur, old):
		return dst, nil
	case err == nil:
		dst += "." + time.Now().UTC().Format("20060102T150405.000000000Z")
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	return dst, atomicfile.Write(dst, old, 0o600)
}

// ops are the transactions' changes on the node: the kernel through
// netlink, the files under ROOT_DIR.
func (r *Reconciler) ops() txn.Ops { return nodeOps{r} }

type nodeOps struct{ r *Reconciler }

func (o nodeOps) Link(index int) (links.Link, error) {
	ls, err := o.r.Links.List()
	if err != nil {
		return links.Link{}, err
	}
	for _, l := range ls {
		if l.Index == index {
			l.RA, err = o.r.Links.RA(index)
			return l, err
		}
	}
	return links.Link{}, fmt.Errorf("link %d is gone", index)
}

func (o nodeOps) Rename(index int, name string) error     { return o.r.Links.Rename(index, name) }
func (o nodeOps) SetMTU(index, mtu int) error             { return o.r.Links.SetMTU(index, mtu) }
func (o nodeOps) SetRA(index int, ra links.RA) error      { return o.r.Links.SetRA(index, ra) }
func (o nodeOps) AddAddr(index int, p netip.Prefix) error { return o.r.Links.AddAddr(index, p) }
func (o nodeOps) DelAddr(index int, p netip.Prefix) error { return o.r.Links.DelAddr(index, p) }
func (o nodeOps) SetUp(index int, up bool) error          { return o.r.Links.SetUp(index, up) }
func (o nodeOps) WriteFile(path string, data []byte, mode fs.FileMode) error {
	return o.r.Root.WriteFile(path, data, mode)
}
func (o nodeOps) RemoveFile(path string) error { return o.r.Root.Remove(path) }
func (o nodeOps) BackUp(path string, old []byte) (string, error) {
	return o.r.backUp(path, old)
}

// markActivation records, before any file is written, which interfaces'
// files are about to change, so that a restart after a crash runs their
// activation even though their files then look in sync.
func (r *Reconciler) markActivation(units []*unit) {
	if !r.Activate {
		return
	}
	names := slices.Clone(r.state.Activate)
	for _, u := range units {
		if slices.ContainsFunc(u.Actions, func(a plan.Action) bool { return !a.Touches() }) && !slices.Contains(names, u.name) {
			names = append(names, u.name)
		}
	}
	if len(names) == len(r.state.Activate) {
		return
	}
	r.state.Activate = names
	if err := r.state.save(); err != nil {
		r.Log.Warn("cannot record the pending activation; a crash before it ends would leave it to the next change", "error", err)
	}
}

// unfinishedActivation returns units that only re-run the activation of
// interfaces a previous run changed the files of but may not have
// activated (it died in between).
func (r *Reconciler) unfinishedActivation(files []netconf.Owned) []*unit {
	var out []*unit
	for _, name := range r.state.Activate {
		u := &unit{row: -2, name: name, Unit: &txn.Unit{Label: "unfinished activation of " + name, Log: r.Log.With("name", name)}}
		for _, f := range files {
			if f.Name == name && !f.Foreign {
				u.Paths = append(u.Paths, f.Path)
			}
		}
		if len(u.Paths) > 0 {
			r.Log.Info("running an activation a previous run did not finish", "name", name)
			out = append(out, u)
		}
	}
	return out
}

// activate runs the tools of every backend whose files changed, once each
// for the batch. If they fail, the units whose files changed are rolled
// back and the tools run again so that what they generated and loaded
// matches the restored files.
func (r *Reconciler) activate(ctx context.Context, c *txn.Cycle, units []*unit) {
	if !r.Activate {
		return
	}
	var touched []*unit
	for _, u := range units {
		if u.Err == nil && !u.Skipped && len(u.Paths) > 0 {
			touched = append(touched, u)
		}
	}
	err := r.runTools(ctx, touched)
	if err == nil {
		return
	}
	r.Log.Error("activation failed; rolling back the interfaces of this cycle", "error", err)
	r.rollBack(ctx, c, touched, plan.Activation, fmt.Errorf("activation failed: %w", err))
}

// rollBack undoes every unit, giving reason as its error, and runs the
// tools again for the restored files.
func (r *Reconciler) rollBack(ctx context.Context, c *txn.Cycle, units []*unit, kind plan.ErrorKind, reason error) {
	var real []*txn.Unit
	for _, u := range units {
		if u.row != -2 { // a leftover activation has nothing of its own to undo
			real = append(real, u.Unit)
		}
	}
	c.Rollback(real, reason)
	for _, u := range units {
		if u.row == -2 {
			u.Err = fmt.Errorf("%s: %w", u.Label, reason)
		}
		u.Err = plan.Classed(kind, u.Err)
	}
	r.reactivate(ctx, units)
}

// runTools activates, per backend, the interfaces whose files of that
// backend the units changed (the current backend's, or another's being
// cleaned up after a move between backends). Each changed file is
// activated by one backend only (see activator): a .link file that the
// networkd, keyfile and ifupdown backends all write must not run nmcli on
// a networkd node. A backend whose tool or daemon is absent is skipped:
// its files take effect at the next boot.
func (r *Reconciler) runTools(ctx context.Context, units []*unit) error {
	all := append([]netconf.Backend{r.Backend}, r.Others...)
	names := make([][]string, len(all))
	for _, u := range units {
		for _, p := range u.Paths {
			k := activator(all, p, u.Paths)
			if k >= 0 && !slices.Contains(names[k], u.name) {
				names[k] = append(names[k], u.name)
			}
		}
	}
	var errs []error
	for k, b := range all {
		if len(names[k]) == 0 {
			continue
		}
		err := b.Activate(ctx, r.Root, names[k])
		switch {
		case err == nil:
			r.Log.Info("activated", "backend", b.Name(), "interfaces", names[k])
		case errors.Is(err, netconf.ErrUnavailable):
			r.Log.Info("activation skipped; the files apply at the next boot and the live state was set through netlink", "backend", b.Name(), "reason", err.Error())
		default:
			errs = append(errs, fmt.Errorf("%s: %w", b.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// activator returns the index in backends (the one in use first) of the
// backend whose tool activates a change to path, or -1 when none owns it.
// The backend in use activates every file it owns. A file only other
// backends own (left by a previous backend) goes to the one among them
// that alone owns another file of the same interface's change (a .link
// removed with a keyfile belongs to the keyfile backend, with a .network
// file to networkd), else to the first of them.
func activator(backends []netconf.Backend, path string, siblings []string) int {
	var owners []int
	for k, b := range backends {
		if _, ok := b.Owns(path); ok {
			owners = append(owners, k)
		}
	}
	switch {
	case len(owners) == 0:
		return -1
	case owners[0] == 0 || len(owners) == 1:
		return owners[0]
	}
	for _, k := range owners {
		for _, s := range siblings {
			if s == path {
				continue
			}
			if _, ok := backends[k].Owns(s); ok && soleOwner(backends, s) == k {
				return k
			}
		}
	}
	return owners[0]
}

// soleOwner returns the index of the only backend owning path, or -1.
func soleOwner(backends []netconf.Backend, path string) int {
	only := -1
	for k, b := range backends {
		if _, ok := b.Owns(path); ok {
			if only >= 0 {
				return -1
			}
			only = k
		}
	}
	return only
}

func (r *Reconciler) reactivate(ctx context.Context, units []*unit) {
	if !r.Activate || len(units) == 0 {
		return
	}
	if err := r.runTools(ctx, units); err != nil {
		r.Log.Error("activation after rollback failed; the network service may not match the restored files until it reloads them", "error", err)
	}
}

// verifyWait bounds how long verify waits for the planned state: a
// network daemon that the activation reloaded may still be reapplying it.
const verifyWait = time.Second

// verifyRecheck is how often verify reads again while no kernel event
// comes: the files and the router-advertisement settings raise none.
const verifyRecheck = 100 * time.Millisecond

// verify reads the kernel and the files back and rolls back every unit
// that did not reach the planned state. When all did, it ends with that
// first read. A mismatch is read again at each kernel event about links
// or addresses (and every verifyRecheck), until every unit matches or
// verifyWait has passed.
func (r *Reconciler) verify(ctx context.Context, c *txn.Cycle, p plan.Plan, units []*unit) {
	check := func() map[*unit]error {
		failing := map[*unit]error{}
		snap, err := r.monitor().Fresh()
		for _, u := range units {
			if u.Err != nil || u.Skipped || u.row == -2 {
				continue
			}
			switch {
			case err != nil:
				failing[u] = fmt.Errorf("cannot read links back: %w", err)
			case u.row >= 0:
				if verr := r.verifyIface(&p.Ifaces[u.row], u, snap); verr != nil {
					failing[u] = verr
				}
			default:
				if verr := r.verifyOrphan(u, snap.Links); verr != nil {
					failing[u] = verr
				}
			}
		}
		return failing
	}
	failing := check()
	if len(failing) > 0 {
		wctx, cancel := context.WithTimeout(ctx, verifyWait)
		// Subscribed first, then read again: a change between the first
		// read and the subscription is not missed.
		changes, err := r.Links.Watch(wctx)
		if err != nil {
			changes = nil // the recheck alone, then
		}
		tick := time.NewTicker(verifyRecheck)
		for failing = check(); len(failing) > 0 && wctx.Err() == nil; failing = check() {
			select {
			case <-wctx.Done():
			case _, ok := <-changes:
				if !ok {
					changes = nil
				}
			case <-tick.C:
			}
		}
		tick.Stop()
		cancel()
	}
	var rolled []*unit
	var undo []*txn.Unit
	for _, u := range units {
		verr, ok := failing[u]
		if !ok {
			continue
		}
		u.Err = plan.Classed(plan.Verify, fmt.Errorf("%s: verification failed: %w", u.Label, verr))
		u.Log.Error("verification failed; rolling back", "error", verr)
		undo = append(undo, u.Unit)
		if len(u.Paths) > 0 {
			rolled = append(rolled, u)
		}
	}
	c.Rollback(undo, nil)
	r.reactivate(ctx, rolled)
}

func linkAt(ls []links.Link, index int) *links.Link {
	for k := range ls {
		if ls[k].Index == index {
			return &ls[k]
		}
	}
	return nil
}

func (r *Reconciler) verifyIface(it *plan.Iface, u *unit, snap *netmon.Snapshot) error {
	l := linkAt(snap.Links, it.Link.Index)
	if l == nil {
		return fmt.Errorf("link with MAC %s disappeared", it.Want.MAC)
	}
	var errs []error
	if l.Name != it.Want.Name {
		errs = append(errs, fmt.Errorf("name is %s, want %s", l.Name, it.Want.Name))
	}
	if it.Want.MTU > 0 && l.MTU != it.Want.MTU {
		errs = append(errs, fmt.Errorf("mtu is %d, want %d", l.MTU, it.Want.MTU))
	}
	want := []string{}
	if it.Want.Addr.IsValid() {
		want = append(want, it.Want.Addr.String())
	}
	got := []string{}
	for _, a := range l.Addrs {
		got = append(got, a.String())
	}
	if !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("addresses are %v, want %v", got, want))
	}
	if !l.Up {
		errs = append(errs, errors.New("link is down"))
	}
	if it.Link.RA.Known && !u.RAReadOnly {
		if ra, err := snap.RA(l.Index); err != nil {
			errs = append(errs, err)
		} else if !ra.Off() {
			errs = append(errs, fmt.Errorf("the link still learns from router advertisements (%s)", ra))
		}
	}
	errs = append(errs, r.verifyFiles(u))
	return errors.Join(errs...)
}

func (r *Reconciler) verifyOrphan(u *unit, ls []links.Link) error {
	var errs []error
	if u.Before != nil {
		if l := linkAt(ls, u.Before.Index); l != nil {
			if len(l.Addrs) > 0 {
				errs = append(errs, fmt.Errorf("link %s still has addresses %v", l.Name, l.Addrs))
			}
			if l.Up {
				errs = append(errs, fmt.Errorf("link %s is still up", l.Name))
			}
		}
	}
	errs = append(errs, r.verifyFiles(u))
	return errors.Join(errs...)
}

func (r *Reconciler) verifyFiles(u *unit) error {
	var errs []error
	for _, a := range u.Done {
		switch a.Kind {
		case plan.WriteFile, plan.Adopt:
			data, err := r.Root.ReadFile(a.Path)
			if err != nil {
				errs = append(errs, err)
			} else if !bytes.Equal(data, a.New) {
				errs = append(errs, fmt.Errorf("%s does not hold what was written", a.Path))
			}
		case plan.DeleteFile:
			if r.Root.Exists(a.Path) {
				errs = append(errs, fmt.Errorf("%s still exists", a.Path))
			}
		}
	}
	return errors.Join(errs...)
}

// gatewayWait is how long a default gateway has to answer an echo
// request before a cycle's link changes.
const gatewayWait = time.Second

// silentFor is how long a gateway that did not answer within gatewayWait
// is waited for only silentGrace: a gateway that never answers echo
// requests must not hold every change for a second, and one that does
// answer again replies well within the grace (on the local network, in a
// millisecond or two). After silentFor it is given gatewayWait once more.
const (
	silentFor   = 5 * time.Minute
	silentGrace = 100 * time.Millisecond
)

// answeringGateways returns the default gateways that answer before a
// cycle that changes links (none when it changes only files). Every
// gateway is probed at once, and the wait ends as soon as every answer is
// in, or when those still missing have had their time (gatewayWait, or
// silentGrace for a gateway that recently did not answer).
func (r *Reconciler) answeringGateways(ctx context.Context, units []*unit) []netip.Addr {
	if r.Probe == nil || !slices.ContainsFunc(units, func(u *unit) bool { return slices.ContainsFunc(u.Actions, plan.Action.Touches) }) {
		return nil
	}
	snap, err := r.monitor().Snapshot()
	if err != nil {
		r.Log.Warn("cannot list default gateways; they are not checked after this cycle", "error", err)
		return nil
	}
	var all []netip.Addr
	for _, gw := range snap.Gateways {
		if !slices.Contains(all, gw.Addr) {
			all = append(all, gw.Addr)
		}
	}
	if len(all) == 0 {
		return nil
	}
	now := time.Now()
	if r.silent == nil {
		r.silent = map[netip.Addr]time.Time{}
	}
	type answer struct {
		gw  netip.Addr
		err error
	}
	results := make(chan answer, len(all))
	for _, gw := range all {
		wait := gatewayWait
		if at, ok := r.silent[gw]; ok && now.Sub(at) < silentFor {
			wait = silentGrace
		}
		go func() {
			pctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			results <- answer{gw, r.Probe(pctx, gw)}
		}()
	}
	var answering []netip.Addr
	for range all {
		a := <-results
		switch at, known := r.silent[a.gw]; {
		case a.err == nil:
			r.Log.Debug("default gateway answers; it is checked again after this cycle's link changes", "gateway", a.gw)
			answering = append(answering, a.gw)
			delete(r.silent, a.gw)
		case !known || now.Sub(at) >= silentFor:
			r.silent[a.gw] = now
			r.Log.Info("a default gateway does not answer echo requests: it is not checked after this change, and waited for only briefly before the next ones for a while",
				"gateway", a.gw, "error", a.err, "for", silentFor.String())
		}
	}
	return answering
}

// checkReach makes sure a cycle that changed links did not cut the node
// off: the database must still answer, and so must every default gateway
// that answered before. All are asked at once and the check ends when
// every answer is in, or at the first that is missing. If one is, every
// change of the cycle is undone.
func (r *Reconciler) checkReach(ctx context.Context, c *txn.Cycle, units []*unit, gateways []netip.Addr) {
	var changed []*unit
	for _, u := range units {
		if u.Err == nil && u.ChangedKernel() {
			changed = append(changed, u)
		}
	}
	if len(changed) == 0 {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, 1+len(gateways))
	go func() {
		if err := r.Store.Ping(cctx); err != nil {
			results <- fmt.Errorf("the database stopped answering: %w", err)
			return
		}
		results <- nil
	}()
	for _, gw := range gateways {
		go func() {
			pctx, cancel := context.WithTimeout(cctx, 2*time.Second)
			defer cancel()
			if err := r.Probe(pctx, gw); err != nil {
				results <- fmt.Errorf("the default gateway %s stopped answering: %w", gw, err)
				return
			}
			results <- nil
		}()
	}
	var err error
	for range 1 + len(gateways) {
		if err = <-results; err != nil {
			break
		}
	}
	if err == nil {
		return
	}
	r.Log.Error("the node lost its network after this cycle's link changes; rolling them back", "error", err)
	r.rollBack(ctx, c, changed, plan.Connectivity, err)
}
