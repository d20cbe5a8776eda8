// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package txn

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// kernel is a model of the kernel and the files, with the rules that
// matter to the order of changes: a link is renamed only while down, names
// are unique, a link that goes down loses its IPv6 addresses.
type kernel struct {
	mu     sync.Mutex
	links  map[int]*links.Link
	files  map[string]string
	ops    int
	failAt int       // the change that fails, counting from 1; 0: none
	onOp   func(int) // told of each change, before it is made
	trace  []string
}

func (k *kernel) step(what string) error {
	k.ops++ // callers hold k.mu
	k.trace = append(k.trace, what)
	if k.onOp != nil {
		k.onOp(k.ops)
	}
	if k.ops == k.failAt {
		return fmt.Errorf("injected failure of change %d (%s)", k.ops, what)
	}
	return nil
}

func (k *kernel) link(i int) (*links.Link, error) {
	l := k.links[i]
	if l == nil {
		return nil, fmt.Errorf("no link %d", i)
	}
	return l, nil
}

func (k *kernel) Link(i int) (links.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err != nil {
		return links.Link{}, err
	}
	c := *l
	c.Addrs = slices.Clone(l.Addrs)
	return c, nil
}

func (k *kernel) Rename(i int, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err != nil {
		return err
	}
	if err := k.step("rename " + l.Name + " " + name); err != nil {
		return err
	}
	for _, o := range k.links {
		if o.Name == name && o != l {
			return errors.New("file exists")
		}
	}
	// links.Handle.Rename takes the link down first.
	k.down(l)
	l.Name = name
	return nil
}

func (k *kernel) down(l *links.Link) {
	l.Up = false
	l.Addrs = slices.DeleteFunc(l.Addrs, func(p netip.Prefix) bool { return p.Addr().Is6() })
}

func (k *kernel) SetMTU(i, mtu int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err == nil {
		err = k.step(fmt.Sprintf("mtu %s %d", l.Name, mtu))
	}
	if err == nil {
		l.MTU = mtu
	}
	return err
}

func (k *kernel) SetRA(i int, ra links.RA) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err == nil {
		err = k.step("ra " + l.Name)
	}
	if err == nil {
		l.RA = ra
	}
	return err
}

func (k *kernel) AddAddr(i int, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err == nil {
		err = k.step("add " + p.String() + " " + l.Name)
	}
	if err == nil && !slices.Contains(l.Addrs, p) {
		l.Addrs = append(l.Addrs, p)
		slices.SortFunc(l.Addrs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	}
	return err
}

func (k *kernel) DelAddr(i int, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err == nil {
		err = k.step("del " + p.String() + " " + l.Name)
	}
	if err == nil {
		l.Addrs = slices.DeleteFunc(l.Addrs, func(a netip.Prefix) bool { return a == p })
	}
	return err
}

func (k *kernel) SetUp(i int, up bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, err := k.link(i)
	if err == nil {
		err = k.step(fmt.Sprintf("up %s %v", l.Name, up))
	}
	if err == nil {
		if up {
			l.Up = true
		} else {
			k.down(l)
		}
	}
	return err
}

func (k *kernel) WriteFile(path string, data []byte, _ fs.FileMode) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.step("write " + path); err != nil {
		return err
	}
	k.files[path] = string(data)
	return nil
}

func (k *kernel) RemoveFile(path string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.step("remove " + path); err != nil {
		return err
	}
	delete(k.files, path)
	return nil
}

func (k *kernel) BackUp(path string, _ []byte) (string, error) { return "/backup" + path, nil }

// node is a scenario: the links and files before, and the rows.
type node struct {
	links []links.Link
	files []netconf.Owned
	rows  []store.Row
	// absent are the orphan files whose rows are gone since the last read.
	absent map[string]bool
}

func nic(index int, name, mac string, mtu int, addrs ...string) links.Link {
	l := links.Link{Index: index, Name: name, MAC: mac, MTU: mtu, Up: true, Kind: "veth", RA: links.RA{Known: true}}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

func row(id int64, mac, addr string) store.Row {
	r := store.Row{ID: id, MAC: mac, SubnetID: "s", MTU: 1500, HasMTU: true}
	if addr != "" {
		p := netip.MustParsePrefix(addr)
		r.Address, r.CIDR = p.Addr().String(), p.Masked().String()
	}
	return r
}

// owned is the agent's file for a configured interface.
func owned(rowID int64, name, mac, addr string) netconf.Owned {
	i := netconf.Iface{RowID: rowID, Name: name, MAC: mac, MTU: 1500, Addr: netip.MustParsePrefix(addr)}
	f := netplan.Backend{}.Render(i)[0]
	return netconf.Owned{Path: f.Path, Name: name, Content: f.Content, Mode: f.Mode, Iface: i}
}

// cycle plans the node and makes the units as the reconciler does.
func (n node) cycle(t *testing.T) (plan.Plan, *Cycle, *kernel) {
	t.Helper()
	p := plan.Build(plan.Input{Rows: n.rows, Links: n.links, Files: n.files, Render: netplan.Backend{}.Render, PrevAbsent: n.absent})
	k := &kernel{links: map[int]*links.Link{}, files: map[string]string{}}
	for _, l := range n.links {
		c := l
		c.Addrs = slices.Clone(l.Addrs)
		k.links[l.Index] = &c
	}
	for _, f := range n.files {
		k.files[f.Path] = string(f.Content)
	}
	// One at a time: the changes then come in one order, so that "the n-th
	// change" is the same one in every run.
	c := &Cycle{Ops: k, Concurrency: 1}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, it := range p.Ifaces {
		if it.Err != nil {
			t.Fatalf("row %d refused: %v", it.Row.ID, it.Err)
		}
		if len(it.Actions) > 0 {
			c.Units = append(c.Units, &Unit{Label: fmt.Sprintf("row %d (%s)", it.Row.ID, it.Want.Name), Actions: it.Actions, Before: it.Link, Log: log})
		}
	}
	for _, o := range p.Orphans {
		if o.Confirmed && o.Kept == "" {
			c.Units = append(c.Units, &Unit{Label: "orphan " + o.Name, Actions: o.Actions, Before: o.Link, Log: log})
		}
	}
	return p, c, k
}

var (
	macA, macB, macC = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b", "fa:16:3e:00:00:0c"
	addrX, addrY     = "10.0.0.10/24", "10.0.0.11/24"
	addrZ            = "10.0.0.12/24"
)

// scenarios are moves between rows that must converge in one cycle.
var scenarios = []struct {
	name string
	node node
}{
	{"two rows swap addresses", node{
		links: []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "multinic1", macB, 1500, addrY)},
		files: []netconf.Owned{owned(1, "multinic0", macA, addrX), owned(2, "multinic1", macB, addrY)},
		rows:  []store.Row{row(1, macA, addrY), row(2, macB, addrX)},
	}},
	{"three rows pass their addresses round", node{
		links: []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "multinic1", macB, 1500, addrY), nic(4, "multinic2", macC, 1500, addrZ)},
		files: []netconf.Owned{owned(1, "multinic0", macA, addrX), owned(2, "multinic1", macB, addrY), owned(3, "multinic2", macC, addrZ)},
		rows:  []store.Row{row(1, macA, addrY), row(2, macB, addrZ), row(3, macC, addrX)},
	}},
	{"two rows swap MACs", node{
		links: []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "multinic1", macB, 1500, addrY)},
		files: []netconf.Owned{owned(1, "multinic0", macA, addrX), owned(2, "multinic1", macB, addrY)},
		rows:  []store.Row{row(1, macB, addrX), row(2, macA, addrY)},
	}},
	{"three rows pass their MACs round", node{
		links: []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "multinic1", macB, 1500, addrY), nic(4, "multinic2", macC, 1500, addrZ)},
		files: []netconf.Owned{owned(1, "multinic0", macA, addrX), owned(2, "multinic1", macB, addrY), owned(3, "multinic2", macC, addrZ)},
		rows:  []store.Row{row(1, macB, addrX), row(2, macC, addrY), row(3, macA, addrZ)},
	}},
	{"an address passes from a removed interface to a new NIC", node{
		links:  []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "eth1", macB, 1500)},
		files:  []netconf.Owned{owned(1, "multinic0", macA, addrX)},
		rows:   []store.Row{row(2, macB, addrX)},
		absent: map[string]bool{netplan.Path("multinic0"): true},
	}},
	{"names given by files that name each other's NIC", node{
		links: []links.Link{nic(2, "multinic0", macA, 1500, addrX), nic(3, "multinic1", macB, 1500, addrY)},
		files: []netconf.Owned{owned(1, "multinic0", macB, addrX), owned(2, "multinic1", macA, addrY)},
		rows:  []store.Row{row(1, macA, addrX), row(2, macB, addrY)},
	}},
}

// check asserts what must hold after a cycle, whatever failed: no address
// on two links; a unit that succeeded is as its row wants (files
// included); one that failed or was skipped is as the cycle found it, but
// for an address another unit took.
func check(t *testing.T, n node, p plan.Plan, c *Cycle, k *kernel) {
	t.Helper()
	seen := map[netip.Addr]string{}
	for _, l := range k.links {
		for _, a := range l.Addrs {
			if other, ok := seen[a.Addr()]; ok {
				t.Errorf("address %s on %s and %s\n%s", a, other, l.Name, strings.Join(k.trace, "\n"))
			}
			seen[a.Addr()] = l.Name
		}
	}
	for _, u := range c.Units {
		if u.Err != nil && !strings.Contains(u.Err.Error(), u.Label) {
			t.Errorf("%s: its error does not name it: %v", u.Label, u.Err)
		}
		if u.Before == nil {
			continue
		}
		l := k.links[u.Before.Index]
		var it *plan.Iface
		for i := range p.Ifaces {
			if p.Ifaces[i].Link != nil && p.Ifaces[i].Link.Index == u.Before.Index {
				it = &p.Ifaces[i]
			}
		}
		switch {
		case u.Err == nil && !u.Skipped && it != nil:
			want := []netip.Prefix{it.Want.Addr}
			if l.Name != it.Want.Name || !slices.Equal(l.Addrs, want) || !l.Up || l.MTU != it.Want.MTU {
				t.Errorf("%s succeeded but its link is %+v, want %s with %v, up", u.Label, *l, it.Want.Name, want)
			}
			for _, a := range u.Actions {
				if (a.Kind == plan.WriteFile || a.Kind == plan.Adopt) && k.files[a.Path] != string(a.New) {
					t.Errorf("%s succeeded but %s does not hold its file", u.Label, a.Path)
				}
			}
		case u.Err == nil && !u.Skipped: // an orphan
			if len(l.Addrs) != 0 || l.Up {
				t.Errorf("%s removed but its link is %+v", u.Label, *l)
			}
		default:
			before := u.Before
			if l.Name != before.Name || l.MTU != before.MTU || l.Up != before.Up {
				t.Errorf("%s failed (%v) but its link is %+v, was %+v\n%s", u.Label, u.Err, *l, *before, strings.Join(k.trace, "\n"))
			}
			for _, a := range before.Addrs {
				if !slices.Contains(l.Addrs, a) && seen[a.Addr()] == "" {
					t.Errorf("%s failed but lost %s, which no other link took", u.Label, a)
				}
			}
			for _, a := range u.Actions {
				if a.Touches() {
					continue
				}
				if got, ok := k.files[a.Path]; (a.Old == nil && ok) || (a.Old != nil && got != string(a.Old)) {
					t.Errorf("%s failed but %s was not restored", u.Label, a.Path)
				}
			}
		}
	}
}

func TestMovesBetweenRowsConvergeInOneCycle(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			p, c, k := s.node.cycle(t)
			c.Apply(nil)
			for _, u := range c.Units {
				if u.Err != nil {
					t.Errorf("%v\n%s", u.Err, strings.Join(k.trace, "\n"))
				}
			}
			check(t, s.node, p, c, k)
		})
	}
}

// TestAFailureAtEachStep fails each change of each scenario in turn.
func TestAFailureAtEachStep(t *testing.T) {
	for _, s := range scenarios {
		_, c, k := s.node.cycle(t)
		c.Apply(nil)
		for step := 1; step <= k.ops; step++ {
			t.Run(fmt.Sprintf("%s/change %d of %d", s.name, step, k.ops), func(t *testing.T) {
				p, c, k := s.node.cycle(t)
				k.failAt = step
				c.Apply(nil)
				failed := 0
				for _, u := range c.Units {
					if u.Err != nil {
						failed++
					}
				}
				if failed == 0 {
					t.Fatalf("change %d failed and no unit says so\n%s", step, strings.Join(k.trace, "\n"))
				}
				check(t, s.node, p, c, k)
			})
		}
	}
}

// TestAStopAtEachStep stops the agent (SIGTERM) after each change in
// turn: the units in hand finish, the others are skipped untouched.
func TestAStopAtEachStep(t *testing.T) {
	for _, s := range scenarios {
		_, c, k := s.node.cycle(t)
		c.Apply(nil)
		for step := 1; step <= k.ops; step++ {
			t.Run(fmt.Sprintf("%s/after change %d of %d", s.name, step, k.ops), func(t *testing.T) {
				p, c, k := s.node.cycle(t)
				stop := make(chan struct{})
				k.onOp = func(n int) {
					if n == step {
						close(stop)
					}
				}
				c.Apply(stop)
				for _, u := range c.Units {
					if u.Skipped && u.Err != nil {
						t.Errorf("%s was skipped and failed: %v", u.Label, u.Err)
					}
					if u.Skipped && len(u.Done) > 0 {
						t.Errorf("%s was skipped after it changed something", u.Label)
					}
				}
				check(t, s.node, p, c, k)
			})
		}
	}
}

// TestRollbackOfTheWholeCycle is what a lost network or a failed
// activation does: every unit back as the cycle found it.
func TestRollbackOfTheWholeCycle(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			_, c, k := s.node.cycle(t)
			c.Apply(nil)
			c.Rollback(c.Units, errors.New("the default gateway 10.9.9.1 stopped answering"))
			for _, u := range c.Units {
				if u.Err == nil || !strings.Contains(u.Err.Error(), "stopped answering") || strings.Contains(u.Err.Error(), "rollback failed") {
					t.Errorf("%s: %v", u.Label, u.Err)
				}
			}
			for _, l := range s.node.links {
				got := k.links[l.Index]
				if got.Name != l.Name || got.MTU != l.MTU || got.Up != l.Up || !slices.Equal(got.Addrs, l.Addrs) {
					t.Errorf("%s after the rollback: %+v, was %+v", l.Name, *got, l)
				}
			}
			for _, f := range s.node.files {
				if k.files[f.Path] != string(f.Content) {
					t.Errorf("%s not restored", f.Path)
				}
			}
		})
	}
}

// TestRollbackOfOneRowLeavesTheOthers is a read-back that fails for one
// row of a swap after both applied: its rollback gives back its link, but
// not the address the other row now holds, and says so.
func TestRollbackOfOneRowLeavesTheOthers(t *testing.T) {
	p, c, k := scenarios[0].node.cycle(t)
	c.Apply(nil)
	first := c.Units[0]
	first.Err = errors.New(first.Label + ": verification failed")
	c.Rollback([]*Unit{first}, nil)
	if !strings.Contains(first.Err.Error(), "is not given back") || !strings.Contains(first.Err.Error(), c.Units[1].Label+" holds it now") {
		t.Errorf("error: %v", first.Err)
	}
	check(t, scenarios[0].node, p, c, k)
}

// TestUnitsApplyConcurrently runs every scenario with the second phase
// three at a time (run it with -race).
func TestUnitsApplyConcurrently(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			p, c, k := s.node.cycle(t)
			c.Concurrency = 3
			c.Apply(nil)
			for _, u := range c.Units {
				if u.Err != nil {
					t.Error(u.Err)
				}
			}
			check(t, s.node, p, c, k)
		})
	}
}
