// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// tour is the scripted demo and everything it set up.
type tour struct {
	out      io.Writer
	agentBin string
	schema   string
	timeout  time.Duration

	dir   string
	srv   *sqlServer
	db    *sql.DB
	node  *node
	agent *agentProc
	ids   []int64
}

// result is what a step observed: what happened, how long it took from
// what, and which agent cycle did it.
type result struct {
	what  string
	took  time.Duration
	since string
	by    string
}

// step is one observable part of the tour.
type step struct {
	title string
	do    func(ctx context.Context) (result, error)
}

func (t *tour) steps() []step {
	return []step{
		{"The database: an embedded MySQL-protocol server with the shipped schema and sample rows", t.database},
		{"The node before the agent: a network namespace with NICs carrying the rows' MACs", t.nodeBefore},
		{"The agent starts as a daemon inside the namespace", t.startAgent},
		{"A row's MTU is changed in the database", t.changeMTU},
		{"An address is removed by hand", t.removeAddress},
		{"A row is deleted", t.deleteRow},
		{"A NIC is hot-plugged, with a new row", t.hotPlug},
		{"The health endpoint", t.health},
		{"A few metrics", t.metrics},
	}
}

// failure names the step that was not observed.
type failure struct {
	step string
	err  error
}

func (f *failure) Error() string { return fmt.Sprintf("step %s: %v", f.step, f.err) }
func (f *failure) Unwrap() error { return f.err }

// Run runs every step in order and stops at the first one not observed.
func (t *tour) Run(ctx context.Context) error {
	steps := t.steps()
	start := time.Now()
	for i, s := range steps {
		fmt.Fprintf(t.out, "\n[%d/%d] %s\n", i+1, len(steps), s.title)
		r, err := s.do(ctx)
		if ctx.Err() != nil {
			err = context.Cause(ctx) // whatever the step saw, it was interrupted
		}
		if err != nil {
			return &failure{fmt.Sprintf("%d/%d (%s)", i+1, len(steps), s.title), err}
		}
		since := ""
		if r.since != "" {
			since = " " + r.since
		}
		fmt.Fprintf(t.out, "  ok, %s%s: %s\n", round(r.took), since, r.what)
		if r.by != "" {
			fmt.Fprintf(t.out, "      %s\n", r.by)
		}
	}
	fmt.Fprintf(t.out, "\nAll %d steps observed in %s.\n", len(steps), round(time.Since(start)))
	return nil
}

func (t *tour) database(ctx context.Context) (result, error) {
	start := time.Now()
	socket := filepath.Join(t.dir, "mysql.sock")
	var err error
	if t.srv, err = startServer(socket); err != nil {
		return result{}, err
	}
	if t.db, err = openDB(socket); err != nil {
		return result{}, err
	}
	if err := loadSchema(t.db, t.schema); err != nil {
		return result{}, err
	}
	if err := insertSubnets(ctx, t.db); err != nil {
		return result{}, err
	}
	for _, s := range samples {
		id, err := insertRow(ctx, t.db, s)
		if err != nil {
			return result{}, err
		}
		t.ids = append(t.ids, id)
	}
	rows, err := readRows(ctx, t.db)
	if err != nil {
		return result{}, err
	}
	if len(rows) != len(samples) {
		return result{}, fmt.Errorf("read back %d rows, inserted %d", len(rows), len(samples))
	}
	fmt.Fprintf(t.out, "  go-mysql-server, in this process, on %s\n", socket)
	fmt.Fprintf(t.out, "  multi_interface LEFT JOIN multi_subnet WHERE attached_node_name = '%s':\n", nodeName)
	printRows(t.out, rows)
	return result{what: fmt.Sprintf("%s and %d rows loaded, read back through go-sql-driver", t.schema, len(rows)), took: time.Since(start)}, nil
}

func (t *tour) nodeBefore(ctx context.Context) (result, error) {
	start := time.Now()
	var err error
	if t.node, err = newNode(fmt.Sprintf("multinic-demo-%d", os.Getpid())); err != nil {
		return result{}, err
	}
	for _, s := range samples {
		if err := t.node.AddNIC(s.nic, s.mac); err != nil {
			return result{}, err
		}
	}
	links, err := t.node.NICs()
	if err != nil {
		return result{}, err
	}
	for _, s := range samples {
		if l, ok := byMAC(links, s.mac); !ok || l.Name != s.nic {
			return result{}, fmt.Errorf("NIC %s with MAC %s not found in namespace %s", s.nic, s.mac, t.node.Name)
		}
	}
	fmt.Fprintf(t.out, "  ip -n %s addr  (the veth peers, which give the NICs carrier, not shown)\n", t.node.Name)
	printLinks(t.out, links)
	return result{what: fmt.Sprintf("namespace %s with %d veth NICs, down, no addresses", t.node.Name, len(samples)), took: time.Since(start)}, nil
}

func (t *tour) startAgent(ctx context.Context) (result, error) {
	start := time.Now()
	var err error
	if t.agent, err = startAgent(t.agentBin, t.node.Netns, t.dir, t.srv.Socket); err != nil {
		return result{}, err
	}
	fmt.Fprintf(t.out, "  ip netns exec %s multinic-agent run --config %s  (an empty file), with\n", t.node.Name, filepath.Join(t.dir, "config.env"))
	fmt.Fprintf(t.out, "    %s\n", strings.Join(t.agent.Env[:4], " "))
	fmt.Fprintf(t.out, "    %s\n", strings.Join(t.agent.Env[4:], " "))
	took, err := t.waitFor(ctx, start, func() (bool, string, error) { return t.converged(ctx) })
	if err != nil {
		return result{}, err
	}
	cycles := t.triggers(ctx, 0, nil)
	links, err := t.node.NICs()
	if err != nil {
		return result{}, err
	}
	rows, err := readRows(ctx, t.db)
	if err != nil {
		return result{}, err
	}
	fmt.Fprintln(t.out, "  the NICs after:")
	printLinks(t.out, links)
	fmt.Fprintln(t.out, "  the rows after:")
	printRows(t.out, rows)
	files := t.files()
	names := slices.Sorted(maps.Keys(files))
	if len(names) == 0 {
		return result{}, fmt.Errorf("the agent wrote no file under %s/etc", filepath.Join(t.dir, "root"))
	}
	fmt.Fprintf(t.out, "  files under ROOT_DIR: %s; the first:\n", strings.Join(names, ", "))
	for _, l := range strings.Split(strings.TrimRight(files[names[0]], "\n"), "\n") {
		fmt.Fprintf(t.out, "    %s\n", l)
	}
	return result{
		what:  fmt.Sprintf("%d NICs renamed, MTU and addresses set, up; netplan_success = 1 in every row", len(rows)),
		took:  took,
		since: "after the agent started",
		by:    because(cycles),
	}, nil
}

// linkOf returns the NIC with the given MAC.
func (t *tour) linkOf(mac string) (link, error) {
	links, err := t.node.NICs()
	if err != nil {
		return link{}, err
	}
	l, ok := byMAC(links, mac)
	if !ok {
		return link{}, fmt.Errorf("no NIC with MAC %s in namespace %s", mac, t.node.Name)
	}
	return l, nil
}

func (t *tour) changeMTU(ctx context.Context) (result, error) {
	const mtu = 1500
	if err := t.settle(ctx); err != nil {
		return result{}, err
	}
	before, err := t.linkOf(samples[0].mac)
	if err != nil {
		return result{}, err
	}
	fmt.Fprintf(t.out, "  UPDATE multi_interface SET mtu = %d WHERE id = %d;   -- %s has MTU %d\n", mtu, t.ids[0], before.Name, before.MTU)
	off, start := t.agent.LineCount(), time.Now()
	if _, err := t.db.ExecContext(ctx, "UPDATE multi_interface SET mtu = ? WHERE id = ?", mtu, t.ids[0]); err != nil {
		return result{}, fmt.Errorf("changing the MTU in the database: %w", err)
	}
	took, err := t.waitFor(ctx, start, func() (bool, string, error) {
		l, err := t.linkOf(samples[0].mac)
		if err != nil || l.MTU != mtu {
			return false, fmt.Sprintf("%s has MTU %d", l.Name, l.MTU), err
		}
		return t.converged(ctx)
	})
	if err != nil {
		return result{}, err
	}
	return result{
		what:  fmt.Sprintf("%s MTU %d -> %d", before.Name, before.MTU, mtu),
		took:  took,
		since: "after the UPDATE",
		by:    because(t.triggers(ctx, off, nil)),
	}, nil
}

func (t *tour) removeAddress(ctx context.Context) (result, error) {
	if err := t.settle(ctx); err != nil {
		return result{}, err
	}
	l, err := t.linkOf(samples[0].mac)
	if err != nil {
		return result{}, err
	}
	addrs := l.Global()
	if len(addrs) != 1 {
		return result{}, fmt.Errorf("%s has addresses %v, expected one", l.Name, addrs)
	}
	fmt.Fprintf(t.out, "  ip -n %s addr del %s dev %s\n", t.node.Name, addrs[0], l.Name)
	off, start := t.agent.LineCount(), time.Now()
	if _, err := t.node.IP("addr", "del", addrs[0], "dev", l.Name); err != nil {
		return result{}, err
	}
	took, err := t.waitFor(ctx, start, func() (bool, string, error) { return t.converged(ctx) })
	if err != nil {
		return result{}, err
	}
	return result{
		what:  fmt.Sprintf("%s back on %s", addrs[0], l.Name),
		took:  took,
		since: "after the removal",
		by:    because(t.triggers(ctx, off, nil)),
	}, nil
}

func (t *tour) deleteRow(ctx context.Context) (result, error) {
	if err := t.settle(ctx); err != nil {
		return result{}, err
	}
	gone := samples[1]
	l, err := t.linkOf(gone.mac)
	if err != nil {
		return result{}, err
	}
	file := fileFor(t.files(), gone.mac)
	if file == "" {
		return result{}, fmt.Errorf("no file of the agent names %s", gone.mac)
	}
	fmt.Fprintf(t.out, "  DELETE FROM multi_interface WHERE id = %d;   -- %s, %s, %s\n", t.ids[1], l.Name, strings.Join(l.Global(), " "), file)
	off, start := t.agent.LineCount(), time.Now()
	if _, err := t.db.ExecContext(ctx, "DELETE FROM multi_interface WHERE id = ?", t.ids[1]); err != nil {
		return result{}, fmt.Errorf("deleting the row: %w", err)
	}
	took, err := t.waitFor(ctx, start, func() (bool, string, error) {
		now, err := t.linkOf(gone.mac)
		switch {
		case err != nil:
			return false, "", err
		case fileFor(t.files(), gone.mac) != "":
			return false, file + " is still there", nil
		case len(now.Global()) > 0 || now.Up():
			return false, fmt.Sprintf("%s still has addresses %v or is up", now.Name, now.Global()), nil
		}
		return t.converged(ctx)
	})
	if err != nil {
		return result{}, err
	}
	removed := t.triggers(ctx, off, func(l logLine) bool { return len(l.Removed) > 0 })
	// The agent logs the first read without the row, then each removal as
	// it applies it; the cycle's line, which names the trigger, follows.
	var absentAt, removedAt time.Time
	for _, line := range t.agent.LogSince(off) {
		switch {
		case strings.HasPrefix(line.Msg, "row absent from this read"):
			absentAt = line.Time
		case line.Msg == "applied" && line.Name == l.Name && removedAt.IsZero():
			removedAt = line.Time
		case line.isCycle() && !absentAt.IsZero():
			fmt.Fprintf(t.out, "  +%s  1st read without the row (a %s cycle): %s kept, as one read is not enough\n", round(absentAt.Sub(start)), line.Trigger, l.Name)
			absentAt = time.Time{}
		case line.isCycle() && len(line.Removed) > 0 && !removedAt.IsZero():
			fmt.Fprintf(t.out, "  +%s  2nd read without the row (a %s cycle): %s removed\n", round(removedAt.Sub(start)), line.Trigger, strings.Join(line.Removed, ", "))
		}
	}
	return result{
		what:  fmt.Sprintf("%s deleted, %s's address removed and the link down", file, l.Name),
		took:  took,
		since: "after the DELETE",
		by:    because(removed),
	}, nil
}

func (t *tour) hotPlug(ctx context.Context) (result, error) {
	if err := t.settle(ctx); err != nil {
		return result{}, err
	}
	id, err := insertRow(ctx, t.db, hotplug)
	if err != nil {
		return result{}, err
	}
	t.ids = append(t.ids, id)
	fmt.Fprintf(t.out, "  INSERT INTO multi_interface ... ('%s', '%s', mtu %v);   -- id %d\n", hotplug.mac, hotplug.address, hotplug.mtu, id)
	fmt.Fprintf(t.out, "  ip -n %s link add %s address %s type veth peer name %s-peer\n", t.node.Name, hotplug.nic, hotplug.mac, hotplug.nic)
	off, start := t.agent.LineCount(), time.Now()
	if err := t.node.AddNIC(hotplug.nic, hotplug.mac); err != nil {
		return result{}, err
	}
	took, err := t.waitFor(ctx, start, func() (bool, string, error) { return t.converged(ctx) })
	if err != nil {
		return result{}, err
	}
	links, err := t.node.NICs()
	if err != nil {
		return result{}, err
	}
	printLinks(t.out, links)
	l, _ := byMAC(links, hotplug.mac)
	return result{
		what:  fmt.Sprintf("%s became %s, %s, MTU %d, up; netplan_success = 1", hotplug.nic, l.Name, strings.Join(l.Global(), " "), l.MTU),
		took:  took,
		since: "after the NIC appeared",
		by:    because(t.triggers(ctx, off, nil)),
	}, nil
}
