// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// agentOpts are the whole-process harness's settings.
type agentOpts struct {
	Binary           string
	NICs             int
	Runs             int
	Window           time.Duration
	Settle           time.Duration
	BaselineInterval time.Duration
	TraceCycles      int
	Soak             time.Duration
	Phases           []string
	Env              []string // extra agent environment
	// BaselineRev, when set, is a revision whose agent is measured too
	// (hot-plug and outage), for the figures before a change.
	BaselineRev string
	Outages     []time.Duration
	OutageRuns  int
	Dir         string
	Server      *server
}

// window is one measurement window of a running agent.
type window struct {
	Seconds float64            `json:"seconds"`
	Cycles  float64            `json:"cycles"`
	CPUNs   int64              `json:"cpu_ns"`    // schedstat, all threads
	Ticks   int64              `json:"cpu_ticks"` // /proc/PID/stat utime+stime
	CtxSw   int64              `json:"ctx_switches"`
	Faults  int64              `json:"page_faults"` // minor and major
	SQL     map[string]float64 `json:"sql"`         // status deltas, harness overhead removed
	Threads bool               `json:"threads_stable"`
}

// AgentResults are the whole-process figures.
type AgentResults struct {
	Command      string  `json:"command"`
	AgentCommand string  `json:"agent_command"`
	NICs         int     `json:"nics"`
	Runs         int     `json:"runs"`
	WindowS      float64 `json:"window_s"`
	BaselineS    float64 `json:"baseline_interval_s"`
	Server       string  `json:"server"`
	BinaryBytes  int64   `json:"binary_bytes"`

	FirstConvergeMs float64  `json:"first_converge_ms"`
	Busy            []window `json:"busy"`     // POLL_INTERVAL=1s
	Baseline        []window `json:"baseline"` // POLL_INTERVAL=BaselineInterval

	GenLog       map[string]float64 `json:"general_log_per_cycle"`
	GenLogCycles float64            `json:"general_log_cycles"`
	Statements   []string           `json:"statements"`

	Trace       traceSummary `json:"trace"`
	TraceCycles float64      `json:"trace_cycles"`
	TraceArgs   string       `json:"trace_command"`

	Mem memStatus `json:"mem"`

	Soak        []soakSample `json:"soak"`
	SoakSeconds float64      `json:"soak_s"`
	SoakCommand string       `json:"soak_command,omitempty"`
	SoakAt      time.Time    `json:"soak_at"`

	ConvPresent   []float64 `json:"conv_present_ms"`    // random phase
	ConvWorst     []float64 `json:"conv_worst_ms"`      // written just after a poll
	ConvInterval  float64   `json:"conv_interval_s"`    // POLL_INTERVAL of those runs
	HotplugAddr   []float64 `json:"hotplug_addr_ms"`    // veth created → address on it
	HotplugOK     []float64 `json:"hotplug_success_ms"` // veth created → netplan_success=1
	HotplugPoll   float64   `json:"hotplug_interval_s"`
	BatchMs       []float64 `json:"batch_ms"`       // UPDATE of all rows → all netplan_success=1
	BatchCycleMs  []float64 `json:"batch_cycle_ms"` // the agent's own duration_ms of that cycle
	BatchActs     []int     `json:"batch_activations"`
	BatchInterval float64   `json:"batch_interval_s"`
	BatchTrace    []string  `json:"batch_trace_execs"`
	BatchSubExecs []string  `json:"batch_trace_sub_execs"`
	BatchTraceMs  float64   `json:"batch_trace_ms"`

	// Latency is this agent's; Before the same measured for an older
	// revision's agent (BaselineRev) in the same run.
	Latency *Latency `json:"latency,omitempty"`
	Before  *Latency `json:"before,omitempty"`
}

type soakSample struct {
	Seconds float64 `json:"s"`
	memStatus
	Ticks int64 `json:"cpu_ticks"`
}

func mac(group, k int) string { return fmt.Sprintf("fa:16:3e:%02x:00:%02x", group, k) }

type rig struct {
	o      agentOpts
	srv    *server
	db     string
	res    *AgentResults
	port   int
	config string
	over   status
}

func (g *rig) insertRow(node, m, subnet, addr string, mtu int) (int64, error) {
	r, err := g.srv.admin.Exec("INSERT INTO "+g.db+".multi_interface (port_id, subnet_id, macaddress, attached_node_name, address, mtu) VALUES (?, ?, ?, ?, ?, ?)",
		"port-"+m, subnet, m, node, addr, mtu)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

func (g *rig) converged(node string) (int, error) {
	var n int
	err := g.srv.admin.QueryRow("SELECT COUNT(*) FROM "+g.db+".multi_interface WHERE attached_node_name = ? AND netplan_success = 1", node).Scan(&n)
	return n, err
}

func (g *rig) success(id int64) (bool, error) {
	var v sql.NullInt64
	err := g.srv.admin.QueryRow("SELECT netplan_success FROM "+g.db+".multi_interface WHERE id = ?", id).Scan(&v)
	return v.Int64 == 1, err
}

// waitFor polls cond every step until it holds or timeout passes.
func waitFor(timeout, step time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(step)
	}
}

func (g *rig) env(node, root, interval, level string) agentEnv {
	return agentEnv{Binary: g.o.Binary, Socket: g.srv.Socket, DB: g.db, Node: node, Root: root, Config: g.config,
		Interval: interval, LogLevel: level, Port: g.port, Extra: g.o.Env}
}

func runAgentBench(o agentOpts) (*AgentResults, error) {
	g := &rig{o: o, srv: o.Server, db: fmt.Sprintf("mnbench_%d", os.Getpid()), port: 9464,
		config: filepath.Join(o.Dir, "empty.env"),
		res:    &AgentResults{NICs: o.NICs, Runs: o.Runs, WindowS: o.Window.Seconds(), BaselineS: o.BaselineInterval.Seconds()}}
	if st, err := os.Stat(o.Binary); err == nil {
		g.res.BinaryBytes = st.Size()
	}
	if err := os.WriteFile(g.config, nil, 0o600); err != nil {
		return nil, err
	}
	if err := g.srv.createDB(g.db); err != nil {
		return nil, err
	}
	defer g.srv.exec("DROP DATABASE IF EXISTS " + g.db)
	for _, s := range [][2]string{{"s4", "10.20.0.0/24"}, {"s5", "10.30.0.0/24"}, {"s6", "10.40.0.0/24"}} {
		if err := g.srv.exec("INSERT INTO "+g.db+".multi_subnet (subnet_id, cidr) VALUES (?, ?)", s[0], s[1]); err != nil {
			return nil, err
		}
	}
	var err error
	if g.over, err = g.srv.overhead(5); err != nil {
		return nil, err
	}

	base := fmt.Sprintf("mnb%d", os.Getpid())
	ns, err := newNamespace(base + "a")
	if err != nil {
		return nil, err
	}
	defer ns.Delete()
	const node = "bench-node"
	for k := 1; k <= o.NICs; k++ {
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), mac(0xbe, k)); err != nil {
			return nil, err
		}
		if _, err := g.insertRow(node, mac(0xbe, k), "s4", fmt.Sprintf("10.20.0.%d", 10+k), 1500); err != nil {
			return nil, err
		}
	}
	root := filepath.Join(o.Dir, "root-a")

	phases := []struct {
		name string
		run  func() error
	}{
		{"idle", func() error { return g.idle(ns, node, root) }},
		{"baseline", func() error { return g.baseline(ns, node, root) }},
		{"batch", func() error { return g.batch(ns, node, root) }},
		{"present", func() error { return g.present(base + "b") }},
		{"hotplug", func() error { return g.hotplug(base + "c") }},
		{"latency", func() error { return g.latency(base) }},
		{"soak", func() error { return g.soak(ns, node, root) }},
	}
	for _, p := range phases {
		if !slices.Contains(o.Phases, p.name) || (p.name == "soak" && o.Soak <= 0) {
			continue
		}
		if p.name != "idle" {
			// The node must be converged for the later phases.
			a, err := startAgent(ns, g.env(node, root, "1s", "warn"))
			if err != nil {
				return nil, err
			}
			err = g.waitConverged(a, node, o.NICs, 60*time.Second)
			a.Stop(stopWithin)
			if err != nil {
				return nil, err
			}
		}
		if err := p.run(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return g.res, nil
}

// align returns after the agent's next poll, by offset: it watches the
// server's SELECT counter rather than scrape the agent, since a scrape
// costs the agent CPU (and garbage) of its own.
func (g *rig) align(offset time.Duration) error {
	sel := func() (float64, error) {
		var k string
		var v float64
		err := g.srv.admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&k, &v)
		return v, err
	}
	c, err := sel()
	if err != nil {
		return err
	}
	if err := waitFor(5*time.Second, 5*time.Millisecond, func() (bool, error) {
		n, err := sel()
		return n > c, err
	}); err != nil {
		return fmt.Errorf("no cycle to align with: %w", err)
	}
	time.Sleep(offset)
	return nil
}

// window measures one running agent over d. With align, it starts half
// a second after a cycle, so that a window of whole seconds at
// POLL_INTERVAL=1s has its edges between cycles and the cycle counter
// and the server's counters see the same cycles.
func (g *rig) window(a *agentProc, d time.Duration, align bool) (window, error) {
	if align {
		if err := g.align(490 * time.Millisecond); err != nil {
			return window{}, err
		}
	}
	c0, err := a.cycles()
	if err != nil {
		return window{}, err
	}
	s0, t0, err := schedCPU(a.PID)
	if err != nil {
		return window{}, err
	}
	p0, _ := readProcStat(a.PID)
	x0 := ctxSwitches(a.PID)
	q0, err := g.srv.status()
	if err != nil {
		return window{}, err
	}
	start := time.Now()
	time.Sleep(d)
	q1, err := g.srv.status()
	if err != nil {
		return window{}, err
	}
	s1, t1, err := schedCPU(a.PID)
	if err != nil {
		return window{}, err
	}
	p1, _ := readProcStat(a.PID)
	x1 := ctxSwitches(a.PID)
	secs := time.Since(start).Seconds()
	c1, err := a.cycles()
	if err != nil {
		return window{}, err
	}
	w := window{Seconds: secs, Cycles: c1 - c0, CPUNs: s1 - s0, Ticks: (p1.Utime + p1.Stime) - (p0.Utime + p0.Stime),
		CtxSw: x1 - x0, Faults: (p1.MinFlt + p1.MajFlt) - (p0.MinFlt + p0.MajFlt), SQL: map[string]float64{}, Threads: slices.Equal(t0, t1)}
	dq := q1.minus(q0)
	for _, k := range statusVars {
		w.SQL[k] = dq[k] - g.over[k]
	}
	return w, nil
}

func (g *rig) waitConverged(a *agentProc, node string, n int, timeout time.Duration) error {
	err := waitFor(timeout, 10*time.Millisecond, func() (bool, error) {
		if a.Exited() != nil {
			return false, errors.New("the agent exited")
		}
		k, err := g.converged(node)
		return k == n, err
	})
	if err != nil {
		return fmt.Errorf("%d rows of %s not converged: %w; agent log:\n%s", n, node, err, a.Tail(20))
	}
	return nil
}

func (g *rig) idle(ns *harness.Netns, node, root string) error {
	e := g.env(node, root, "1s", "warn")
	g.res.AgentCommand = e.commandLine(ns.Name)
	logf("idle: starting the agent (POLL_INTERVAL=1s, %d NICs)", g.o.NICs)
	start := time.Now()
	a, err := startAgent(ns, e)
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := g.waitConverged(a, node, g.o.NICs, 60*time.Second); err != nil {
		return err
	}
	g.res.FirstConvergeMs = ms(time.Since(start))
	time.Sleep(g.o.Settle)
	for i := range g.o.Runs {
		w, err := g.window(a, g.o.Window, true)
		if err != nil {
			return err
		}
		logf("idle window %d/%d: %.0f cycles, %.3f ms CPU/cycle, %.1f page faults/cycle, %.0f statements (%.0f SELECT)", i+1, g.o.Runs, w.Cycles, float64(w.CPUNs)/1e6/w.Cycles, float64(w.Faults)/w.Cycles, w.SQL["Questions"], w.SQL["Com_select"])
		g.res.Busy = append(g.res.Busy, w)
	}
	if g.res.Mem, err = readMem(a.PID); err != nil {
		return err
	}
	if err := g.generalLog(a, 10); err != nil {
		return fmt.Errorf("general log: %w", err)
	}
	return g.trace(a, g.o.TraceCycles)
}

func (g *rig) baseline(ns *harness.Netns, node, root string) error {
	logf("baseline: POLL_INTERVAL=%s", g.o.BaselineInterval)
	a, err := startAgent(ns, g.env(node, root, g.o.BaselineInterval.String(), "warn"))
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := a.firstCycle(); err != nil {
		return err
	}
	time.Sleep(g.o.Settle)
	for i := range g.o.Runs {
		w, err := g.window(a, g.o.Window, false)
		if err != nil {
			return err
		}
		logf("baseline window %d/%d: %.0f cycles, %.4f ms CPU/s", i+1, g.o.Runs, w.Cycles, float64(w.CPUNs)/1e6/w.Seconds)
		g.res.Baseline = append(g.res.Baseline, w)
	}
	return nil
}

// generalLog records every command the agent sends over n cycles with the
// server's general log (to a table) and counts them by type per cycle.
func (g *rig) generalLog(a *agentProc, n int) error {
	prevOutput := g.srv.variable("log_output")
	var me int64
	if err := g.srv.admin.QueryRow("SELECT CONNECTION_ID()").Scan(&me); err != nil {
		return err
	}
	ids := func() ([]int64, error) {
		rows, err := g.srv.admin.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ?", g.db)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			out = append(out, id)
		}
		return out, rows.Err()
	}
	before, err := ids()
	if err != nil {
		return err
	}
	if err := g.srv.exec("SET GLOBAL log_output = 'TABLE'"); err != nil {
		return err
	}
	defer g.srv.exec("SET GLOBAL log_output = '" + prevOutput + "'")
	g.srv.exec("TRUNCATE mysql.general_log")
	c0, err := a.cycles()
	if err != nil {
		return err
	}
	if err := g.srv.exec("SET GLOBAL general_log = 1"); err != nil {
		return err
	}
	time.Sleep(time.Duration(n)*time.Second + 200*time.Millisecond)
	g.srv.exec("SET GLOBAL general_log = 0")
	c1, err := a.cycles()
	if err != nil {
		return err
	}
	after, _ := ids()
	agent := append(before, after...)
	rows, err := g.srv.admin.Query("SELECT thread_id, command_type, CONVERT(argument USING utf8mb4) FROM mysql.general_log ORDER BY event_time")
	if err != nil {
		return err
	}
	defer rows.Close()
	counts := map[string]float64{}
	stmts := map[string]bool{}
	for rows.Next() {
		var id int64
		var typ, arg string
		if err := rows.Scan(&id, &typ, &arg); err != nil {
			return err
		}
		if id == me || (!g.srv.Private && !slices.Contains(agent, id)) {
			continue
		}
		counts[typ]++
		if typ == "Query" || typ == "Prepare" {
			stmts[strings.Join(strings.Fields(arg), " ")] = true
		}
	}
	g.res.GenLogCycles = c1 - c0
	g.res.GenLog = map[string]float64{}
	for k, v := range counts {
		g.res.GenLog[k] = v / (c1 - c0)
	}
	for s := range stmts {
		g.res.Statements = append(g.res.Statements, s)
	}
	slices.Sort(g.res.Statements)
	g.srv.exec("TRUNCATE mysql.general_log")
	logf("general log: %.0f cycles, %v", c1-c0, g.res.GenLog)
	return nil
}

func (g *rig) trace(a *agentProc, n int) error {
	if err := ensureStrace(); err != nil {
		return err
	}
	// Attach a third of a second after a cycle; the counted window then
	// runs from mid-interval to mid-interval, inside the traced one.
	if err := g.align(300 * time.Millisecond); err != nil {
		return err
	}
	t, err := startTrace(a.PID, g.o.Dir)
	if err != nil {
		return err
	}
	c0, err := a.cycles()
	if err != nil {
		t.Stop()
		return err
	}
	time.Sleep(time.Duration(n) * time.Second)
	c1, err := a.cycles()
	sum, terr := t.Stop()
	if err != nil {
		return err
	}
	if terr != nil {
		return terr
	}
	// The two scrapes of the cycle counter are HTTP responses: they are
	// in the trace as TCP socket writes.
	g.res.Trace = sum
	g.res.TraceCycles = c1 - c0
	g.res.TraceArgs = strings.Join(t.Args[:len(t.Args)-1], " ") + " PID"
	logf("strace: %.0f cycles, %d execs, %d file writes, %d log writes, %d socket writes", c1-c0,
		len(g.res.Trace.Execs), len(g.res.Trace.FileWrites), g.res.Trace.LogWrites, g.res.Trace.SocketWrites)
	return nil
}

// present: a row written for a NIC already on the node, at a random moment
// and just after a poll (the worst case), with POLL_INTERVAL=5s.
func (g *rig) present(nsName string) error {
	const node, interval = "bench-present", 5 * time.Second
	g.res.ConvInterval = interval.Seconds()
	ns, err := newNamespace(nsName)
	if err != nil {
		return err
	}
	defer ns.Delete()
	for k := 1; k <= g.o.NICs; k++ {
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), mac(0xc1, k)); err != nil {
			return err
		}
	}
	// At debug level every cycle logs its trigger: the harness tells the
	// timer's polls from the cycles that kernel events (IPv6 DAD on the
	// links just brought up, for one) trigger.
	a, err := startAgent(ns, g.env(node, filepath.Join(g.o.Dir, "root-b"), interval.String(), "debug"))
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := a.firstCycle(); err != nil {
		return err
	}
	worst := min(g.o.Runs, g.o.NICs/2)
	random := min(g.o.Runs, g.o.NICs-worst)
	for k := 1; k <= random+worst; k++ {
		isWorst := k > random
		if isWorst {
			// Wait for the end of the next timer poll.
			from := a.LineCount()
			if err := waitFor(3*interval, 2*time.Millisecond, func() (bool, error) {
				for _, line := range a.Lines(from) {
					var m struct{ Msg, Trigger string }
					if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m.Msg, "reconcile finished") && m.Trigger == "poll" {
						return true, nil
					}
				}
				return false, nil
			}); err != nil {
				return fmt.Errorf("no poll seen: %w\n%s", err, a.Tail(20))
			}
		} else {
			time.Sleep(time.Duration(rand.Int64N(int64(interval))))
		}
		start := time.Now()
		id, err := g.insertRow(node, mac(0xc1, k), "s5", fmt.Sprintf("10.30.0.%d", 10+k), 1500)
		if err != nil {
			return err
		}
		if err := waitFor(3*interval, 10*time.Millisecond, func() (bool, error) { return g.success(id) }); err != nil {
			return fmt.Errorf("row %d: %w\n%s", id, err, a.Tail(20))
		}
		took := ms(time.Since(start))
		if isWorst {
			g.res.ConvWorst = append(g.res.ConvWorst, took)
		} else {
			g.res.ConvPresent = append(g.res.ConvPresent, took)
		}
		logf("present NIC, row %d (%s): netplan_success=1 after %.0f ms", id, map[bool]string{true: "just after a poll", false: "random moment"}[isWorst], took)
		// Let the cycles this row's link changes trigger pass.
		time.Sleep(3 * time.Second)
	}
	return nil
}

// hotplug: a row written first, then its NIC created, with
// POLL_INTERVAL=60s so that only the netlink event can explain a fast
// convergence.
func (g *rig) hotplug(nsName string) error {
	const node, interval = "bench-hotplug", 60 * time.Second
	g.res.HotplugPoll = interval.Seconds()
	ns, err := newNamespace(nsName)
	if err != nil {
		return err
	}
	defer ns.Delete()
	a, err := startAgent(ns, g.env(node, filepath.Join(g.o.Dir, "root-c"), interval.String(), "info"))
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := a.firstCycle(); err != nil {
		return err
	}
	for k := 1; k <= min(g.o.Runs, g.o.NICs); k++ {
		m := mac(0xc2, k)
		id, err := g.insertRow(node, m, "s6", fmt.Sprintf("10.40.0.%d", 10+k), 1500)
		if err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), m); err != nil {
			return err
		}
		addrAt, okAt, err := g.plugged(ns, m, fmt.Sprintf("10.40.0.%d/24", 10+k), id, start, 10*time.Millisecond)
		if err != nil {
			return fmt.Errorf("hot-plugged NIC %s: %w\n%s", m, err, a.Tail(20))
		}
		g.res.HotplugAddr = append(g.res.HotplugAddr, ms(addrAt))
		g.res.HotplugOK = append(g.res.HotplugOK, ms(okAt))
		logf("hot-plug %s: address after %.0f ms, netplan_success=1 after %.0f ms", m, ms(addrAt), ms(okAt))
		time.Sleep(time.Second)
	}
	return nil
}

// batch: every row of the node changed in one UPDATE (MTU, and
// netplan_success=0 as a controller would), POLL_INTERVAL=1s.
func (g *rig) batch(ns *harness.Netns, node, root string) error {
	const interval = time.Second
	g.res.BatchInterval = interval.Seconds()
	a, err := startAgent(ns, g.env(node, root, interval.String(), "info"))
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := waitFor(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		c, err := a.cycles()
		return err == nil && c >= 2, nil
	}); err != nil {
		return fmt.Errorf("no cycles: %w\n%s", err, a.Tail(20))
	}
	mtu := 1500
	change := func(traced bool) (float64, error) {
		if mtu == 1500 {
			mtu = 1400
		} else {
			mtu = 1500
		}
		from := a.LineCount()
		start := time.Now()
		if err := g.srv.exec("UPDATE "+g.db+".multi_interface SET mtu = ?, netplan_success = 0 WHERE attached_node_name = ?", mtu, node); err != nil {
			return 0, err
		}
		if err := g.waitConverged(a, node, g.o.NICs, 30*time.Second); err != nil {
			return 0, err
		}
		took := ms(time.Since(start))
		ls, err := ns.Links()
		if err != nil {
			return 0, err
		}
		n := 0
		for _, l := range ls {
			if strings.HasPrefix(l.Name, "multinic") && l.MTU == mtu {
				n++
			}
		}
		if n != g.o.NICs {
			return 0, fmt.Errorf("%d of %d links have MTU %d after convergence", n, g.o.NICs, mtu)
		}
		time.Sleep(1500 * time.Millisecond) // let the follow-up cycles log
		acts, cycleMs := 0, -1.0
		for _, line := range a.Lines(from) {
			var m struct {
				Msg        string  `json:"msg"`
				Changed    bool    `json:"changed"`
				DurationMs float64 `json:"duration_ms"`
			}
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			switch {
			case m.Msg == "activated":
				acts++
			case m.Msg == "reconcile finished" && m.Changed && cycleMs < 0:
				cycleMs = m.DurationMs
			}
		}
		if !traced {
			g.res.BatchMs = append(g.res.BatchMs, took)
			g.res.BatchCycleMs = append(g.res.BatchCycleMs, cycleMs)
			g.res.BatchActs = append(g.res.BatchActs, acts)
		}
		logf("%d rows changed at once (MTU %d): all netplan_success=1 after %.0f ms; the cycle took %.0f ms; %d activation log line(s)", g.o.NICs, mtu, took, cycleMs, acts)
		return took, nil
	}
	for range g.o.Runs {
		if _, err := change(false); err != nil {
			return err
		}
	}
	if err := ensureStrace(); err != nil {
		return err
	}
	t, err := startTrace(a.PID, g.o.Dir)
	if err != nil {
		return err
	}
	took, err := change(true)
	sum, terr := t.Stop()
	if err != nil {
		return err
	}
	if terr != nil {
		return terr
	}
	g.res.BatchTrace, g.res.BatchSubExecs = sum.Execs, sum.SubExecs
	g.res.BatchTraceMs = took
	logf("traced batch: the agent exec'd %v; those exec'd %v", execCounts(sum.Execs), execCounts(sum.SubExecs))
	return nil
}

// soak samples a fresh agent's memory once a minute, as the lead's
// hour-long run did: POLL_INTERVAL=1s, the same NICs and rows.
func (g *rig) soak(ns *harness.Netns, node, root string) error {
	logf("soak: %s at POLL_INTERVAL=1s, one sample a minute", g.o.Soak)
	a, err := startAgent(ns, g.env(node, root, "1s", "warn"))
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	start := time.Now()
	time.Sleep(2 * time.Second)
	for {
		m, err := readMem(a.PID)
		if err != nil {
			return err
		}
		st, _ := readProcStat(a.PID)
		s := soakSample{Seconds: time.Since(start).Seconds() - 2, memStatus: m, Ticks: st.Utime + st.Stime}
		g.res.Soak = append(g.res.Soak, s)
		logf("soak %4.0fs: VmRSS %d kB (anon %d, file %d), cpu %d ticks", s.Seconds, m.VmRSS, m.RssAnon, m.RssFile, s.Ticks)
		if time.Since(start)-2*time.Second >= g.o.Soak {
			break
		}
		time.Sleep(time.Until(start.Add(2*time.Second + time.Duration(len(g.res.Soak))*time.Minute)))
	}
	g.res.SoakSeconds = g.o.Soak.Seconds()
	if a.Exited() != nil {
		return errors.New("the agent exited during the soak")
	}
	return nil
}

// latency measures what a controller waits for (latency.go), for this
// agent and, with BaselineRev, for that revision's.
func (g *rig) latency(base string) error {
	lat := &Latency{Binary: g.o.Binary}
	var err error
	if lat.Idle, err = g.idleOf(g.o.Binary, base+"i", 0xd1); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if lat.Floor, err = g.floorOf("bench-" + base + "i"); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if err := g.hotplugVariants(g.o.Binary, lat, base); err != nil {
		return err
	}
	if lat.Outage, err = g.outage(g.o.Binary, base+"o", g.o.Outages, g.o.OutageRuns); err != nil {
		return fmt.Errorf("outage: %w", err)
	}
	if err := g.request(lat, base+"r"); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	g.res.Latency = lat
	if g.o.BaselineRev == "" {
		return nil
	}
	logf("building the agent of %s for the figures before", g.o.BaselineRev)
	bin, err := buildRev(g.o.BaselineRev, g.o.Dir)
	if err != nil {
		return err
	}
	old := &Latency{Binary: bin, Rev: g.o.BaselineRev}
	if old.Idle, err = g.idleOf(bin, base+"bi", 0xd2); err != nil {
		return fmt.Errorf("idle (%s): %w", g.o.BaselineRev, err)
	}
	if err := g.hotplugVariants(bin, old, base+"b"); err != nil {
		return err
	}
	if old.Outage, err = g.outage(bin, base+"bo", g.o.Outages, g.o.OutageRuns); err != nil {
		return fmt.Errorf("outage (%s): %w", g.o.BaselineRev, err)
	}
	g.res.Before = old
	return nil
}

// plugged measures, from start (the NIC with MAC m plugged into ns), when
// the row's address want is on it and when row id's netplan_success is 1,
// looking every step.
func (g *rig) plugged(ns *harness.Netns, m, want string, id int64, start time.Time, step time.Duration) (addrAt, okAt time.Duration, err error) {
	err = waitFor(10*time.Second, step, func() (bool, error) {
		if addrAt == 0 {
			ls, err := ns.Links()
			if err != nil {
				return false, err
			}
			for _, l := range ls {
				if l.MAC == m && slices.ContainsFunc(l.Addrs, func(p netip.Prefix) bool { return p.String() == want }) {
					addrAt = time.Since(start)
				}
			}
		}
		if okAt == 0 {
			ok, err := g.success(id)
			if err != nil {
				return false, err
			}
			if ok {
				okAt = time.Since(start)
			}
		}
		return addrAt > 0 && okAt > 0, nil
	})
	return addrAt, okAt, err
}
