// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package txn applies a cycle's changes as one transaction per interface:
// every change is journaled with what it replaced, and one Rollback, which
// every trigger calls (a failed change, activation, read-back or lost
// network, a stop), restores that interface. Across interfaces the changes
// are ordered so that an address can pass from one NIC to another in one
// cycle (two rows that swap addresses or MACs), and a rollback never takes
// back what another interface now holds.
package txn

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/plan"
)

// Ops are the changes a transaction makes, to links and to files: the
// kernel through netlink and the node's files for the agent, a model of
// them for tests.
type Ops interface {
	// Link returns the link as it is now, with what it learns from router
	// advertisements read.
	Link(index int) (links.Link, error)
	Rename(index int, name string) error
	SetMTU(index, mtu int) error
	// SetRA returns an error wrapping links.ErrReadOnly when the settings
	// cannot be written here.
	SetRA(index int, ra links.RA) error
	AddAddr(index int, p netip.Prefix) error
	DelAddr(index int, p netip.Prefix) error
	SetUp(index int, up bool) error
	WriteFile(path string, data []byte, mode fs.FileMode) error
	RemoveFile(path string) error
	// BackUp keeps a copy of the previous agent's content of path and
	// returns where.
	BackUp(path string, old []byte) (string, error)
}

// Unit is the transaction of one interface: a row's or an orphan's.
type Unit struct {
	Label   string // "row 12 (multinic0)", "orphan multinic3", for errors
	Actions []plan.Action
	// Before is the link as the cycle found it; nil when the unit has no
	// link (files only).
	Before *links.Link
	Log    *slog.Logger

	// Done are the actions applied and not rolled back.
	Done []plan.Action
	// Paths are the files the unit wrote or deleted, kept through a
	// rollback so that the tools are told about the restored files too.
	Paths []string
	// Err is why the unit failed; Skipped is set when the agent stopped
	// before it started.
	Err     error
	Skipped bool
	// RAReadOnly is set when the link's IPv6 settings could not be written.
	RAReadOnly bool
	Took       time.Duration
}

// ChangedKernel reports whether the unit changed a link.
func (u *Unit) ChangedKernel() bool {
	return slices.ContainsFunc(u.Done, plan.Action.Touches)
}

// Cycle is the transactions of one cycle.
type Cycle struct {
	Ops   Ops
	Units []*Unit
	// Concurrency is how many units apply at once in the second phase.
	Concurrency int
	// InFlight counts the units applying now (multinic_concurrent_tasks).
	InFlight *atomic.Int64
	// OnChange is called before the first change of each unit (the kernel
	// view of the cycle is stale from then on).
	OnChange func()

	kept []kept
}

// kept is an address a unit failed to give up.
type kept struct {
	addr netip.Addr
	by   *Unit
}

// releases reports whether an action gives something up that another
// unit may take in the same cycle: it runs in the first phase.
func releases(a plan.Action) bool { return a.Kind == plan.DelAddr }

// Apply runs every unit: first, for all of them, the changes that give
// something up (addresses removed), then the rest of each, at most
// Concurrency at a time. A unit that fails is rolled back once every unit
// has run, so that its rollback knows what the others now hold. Once stop
// is closed, units not yet started are skipped; those started finish.
func (c *Cycle) Apply(stop <-chan struct{}) {
	var started []*Unit
	for _, u := range c.Units {
		select {
		case <-stop:
			u.Skipped = true
			continue
		default:
		}
		started = append(started, u)
		u.Err = c.run(u, releases)
	}
	// An address that a unit did not give up (it failed, or was skipped)
	// is not added elsewhere: the two NICs would answer for it.
	for _, u := range c.Units {
		if u.Err == nil && !u.Skipped {
			continue
		}
		for _, a := range u.Actions {
			if a.Kind == plan.DelAddr && !slices.ContainsFunc(u.Done, func(d plan.Action) bool { return d.Kind == plan.DelAddr && d.Addr == a.Addr }) {
				c.kept = append(c.kept, kept{a.Addr.Addr(), u})
			}
		}
	}
	sem := make(chan struct{}, max(1, c.Concurrency))
	var wg sync.WaitGroup
	for _, u := range started {
		if u.Err != nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		if c.InFlight != nil {
			c.InFlight.Add(1)
		}
		go func() {
			defer func() {
				if c.InFlight != nil {
					c.InFlight.Add(-1)
				}
				<-sem
				wg.Done()
			}()
			u.Err = c.run(u, func(a plan.Action) bool { return !releases(a) })
		}()
	}
	wg.Wait()
	var failed []*Unit
	for _, u := range started {
		if u.Err != nil {
			u.Log.Error("apply failed; rolling back", "error", u.Err)
			failed = append(failed, u)
		}
	}
	c.Rollback(failed, nil)
}

// run applies the actions of u that phase selects, in the plan's order.
func (c *Cycle) run(u *Unit, phase func(plan.Action) bool) error {
	start := time.Now()
	defer func() { u.Took += time.Since(start) }()
	for _, a := range u.Actions {
		if !phase(a) {
			continue
		}
		if len(u.Done) == 0 && c.OnChange != nil {
			c.OnChange()
		}
		if err := c.act(u, &a); err != nil {
			return fmt.Errorf("%s: %s: %w", u.Label, a, err)
		}
		u.Done = append(u.Done, a)
		if !a.Touches() {
			u.Paths = append(u.Paths, a.Path)
		}
		if a.Kind == plan.Adopt {
			u.Log.Info("adopted a file of the previous multinic-agent; it is managed as the agent's own from now on", "path", a.Path)
			continue
		}
		u.Log.Info("applied", "action", a.String(), "drift", a.Drift)
	}
	return nil
}

// act carries out one action. A rename records in a.From the name the
// link has when it is renamed, which is what the log shows: udev may have
// renamed a new NIC since the plan saw it.
func (c *Cycle) act(u *Unit, a *plan.Action) error {
	idx := 0
	if u.Before != nil {
		idx = u.Before.Index
	}
	if a.Backup {
		kept, err := c.Ops.BackUp(a.Path, a.Old)
		if err != nil {
			return fmt.Errorf("keeping a copy of the previous multinic-agent's %s: %w", a.Path, err)
		}
		u.Log.Info("kept a copy of the previous multinic-agent's file", "path", a.Path, "backup", kept)
	}
	switch a.Kind {
	case plan.WriteFile, plan.Adopt:
		return c.Ops.WriteFile(a.Path, a.New, a.Mode)
	case plan.DeleteFile:
		return c.Ops.RemoveFile(a.Path)
	case plan.Rename:
		if cur, _ := c.Ops.Link(idx); cur.Name != "" {
			a.From = cur.Name
		}
		return c.Ops.Rename(idx, a.To)
	case plan.SetMTU:
		return c.Ops.SetMTU(idx, a.MTU)
	case plan.DisableRA:
		err := c.Ops.SetRA(idx, links.RA{Known: true})
		if errors.Is(err, links.ErrReadOnly) {
			// A container without the host's /proc/sys/net/ipv6/conf: the
			// backend's file stops router advertisements once its daemon
			// applies it; the row does not fail for it.
			u.RAReadOnly = true
			u.Log.Warn("cannot stop the NIC from learning router advertisements now; its file does once the network daemon applies it. In a container, bind the host's /proc/sys/net/ipv6/conf at ROOT_DIR/proc/sys/net/ipv6/conf", "error", err)
			return nil
		}
		return err
	case plan.DelAddr:
		return c.Ops.DelAddr(idx, a.Addr)
	case plan.AddAddr:
		for _, k := range c.kept {
			if k.addr == a.Addr.Addr() {
				return fmt.Errorf("%s did not give the address up", k.by.Label)
			}
		}
		return c.Ops.AddAddr(idx, a.Addr)
	case plan.SetUp:
		return c.Ops.SetUp(idx, true)
	case plan.SetDown:
		return c.Ops.SetUp(idx, false)
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}

// Rollback undoes each unit of units: its files in the reverse order of
// their changes, then its link back to how the cycle found it, but for the
// addresses that another unit of the cycle, not rolled back, now holds. A
// unit whose undo fails keeps that as part of its error; reason, when set,
// becomes the unit's error (an activation or a check that failed).
func (c *Cycle) Rollback(units []*Unit, reason error) {
	rolling := map[*Unit]bool{}
	for _, u := range units {
		rolling[u] = true
	}
	held := map[netip.Addr]*Unit{}
	for _, other := range c.Units {
		if rolling[other] {
			continue
		}
		for _, a := range other.Done {
			if a.Kind == plan.AddAddr {
				held[a.Addr.Addr()] = other
			}
		}
	}
	for _, u := range units {
		if reason != nil {
			u.Err = fmt.Errorf("%s: %w", u.Label, reason)
		}
		if undoErr := c.undo(u, held); undoErr != nil {
			u.Err = fmt.Errorf("%w; the rollback failed too: %w", u.Err, undoErr)
			u.Log.Error("rollback failed; fix the interface by hand", "error", undoErr)
		} else {
			u.Err = fmt.Errorf("%w (changes rolled back)", u.Err)
			u.Log.Warn("rolled back to the state before the cycle")
		}
	}
}

func (c *Cycle) undo(u *Unit, held map[netip.Addr]*Unit) error {
	var errs []error
	for _, a := range slices.Backward(u.Done) {
		var err error
		switch {
		case a.Touches():
			continue
		case a.Old == nil:
			err = c.Ops.RemoveFile(a.Path)
		default:
			err = c.Ops.WriteFile(a.Path, a.Old, a.OldMode)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring %s: %w", a.Path, err))
		}
	}
	if u.ChangedKernel() && u.Before != nil {
		if err := c.restore(*u.Before, held, u); err != nil {
			errs = append(errs, fmt.Errorf("restoring link %s: %w", u.Before.Name, err))
		}
	}
	u.Done = nil
	return errors.Join(errs...)
}

// restore puts the link back as want describes it, but for the addresses
// another unit holds now.
func (c *Cycle) restore(want links.Link, held map[netip.Addr]*Unit, u *Unit) error {
	cur, err := c.Ops.Link(want.Index)
	if err != nil {
		return err
	}
	var errs []error
	if cur.Name != want.Name {
		errs = append(errs, c.Ops.Rename(want.Index, want.Name))
		// The rename took the link down, which drops its IPv6 addresses.
		if cur, err = c.Ops.Link(want.Index); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if cur.MTU != want.MTU {
		errs = append(errs, c.Ops.SetMTU(want.Index, want.MTU))
	}
	if want.RA.Known && cur.RA != want.RA {
		if err := c.Ops.SetRA(want.Index, want.RA); !errors.Is(err, links.ErrReadOnly) {
			errs = append(errs, err)
		}
	}
	for _, a := range cur.Addrs {
		if !slices.Contains(want.Addrs, a) {
			errs = append(errs, c.Ops.DelAddr(want.Index, a))
		}
	}
	for _, a := range want.Addrs {
		if slices.Contains(cur.Addrs, a) {
			continue
		}
		if other := held[a.Addr()]; other != nil {
			errs = append(errs, fmt.Errorf("address %s is not given back: %s holds it now", a, other.Label))
			continue
		}
		errs = append(errs, c.Ops.AddAddr(want.Index, a))
	}
	if cur.Up != want.Up {
		errs = append(errs, c.Ops.SetUp(want.Index, want.Up))
	}
	return errors.Join(errs...)
}
