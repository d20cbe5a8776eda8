// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/multinic-agent/multinic-agent/internal/daemon"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// fleetOpts are the fleet simulation's settings.
type fleetOpts struct {
	Agents, Rows    int
	Interval        time.Duration
	Jitter          float64
	Duration        time.Duration
	NoIndexDuration time.Duration
	PerPoll         bool
	MaxLifetime     time.Duration
	Server          *server
	// ThreadPool adds a persistent run with thread_handling=pool-of-threads;
	// NoIndexAgents is the fleet of the run without idx_node (its reads
	// scan the table: at the full fleet it would only measure a saturated
	// server).
	ThreadPool    bool
	NoIndexAgents int
	// OutageAgents agents see the server stopped for Outage, with the
	// agent's schedule and with the one before issue 17 (0: no outage run).
	OutageAgents int
	Outage       time.Duration
}

// FleetRun is one simulated fleet run.
type FleetRun struct {
	Mode      string  `json:"mode"`
	Index     bool    `json:"index"`
	Agents    int     `json:"agents"`
	DurationS float64 `json:"duration_s"`
	MaxConn   int     `json:"max_connections"`

	Polls      int    `json:"polls"`
	Errors     int    `json:"errors"`
	ErrorKinds string `json:"error_kinds,omitempty"`

	// The restart: every agent's first poll, all at t=0.
	FirstP50, FirstP99, FirstMax float64 // ms
	FirstAllDoneMs               float64
	FirstErrors                  int

	// Steady state: polls that start at or after SteadyFromS.
	SteadyFromS     float64
	SteadyPolls     int
	PollRate        float64 // polls/s the simulator made
	QPS             float64 // Questions/s the server counted
	SelectPerS      float64 // Com_select/s
	ConnPerS        float64 // Connections/s
	LatP50, LatP99  float64 // ms
	LatMax          float64
	DBCPUPct        float64 // % of one core
	DBCPUPerQueryMs float64
	BurstDBCPUPct   float64 // over [0, SteadyFromS)
	SimCPUPct       float64 // the simulator's own, steady
	ThreadsMax      float64
	DBRSSBeforeKB   int64
	DBRSSAfterKB    int64
	ReadsPerQuery   map[string]float64

	// Polls per second from t=0.
	Hist []int `json:"hist"`
	// ConnErrors are the server's counters of refused and aborted
	// connections over the run (status deltas).
	ConnErrors map[string]float64 `json:"conn_errors,omitempty"`
	// ThreadHandling is the server's thread_handling for the run.
	ThreadHandling string `json:"thread_handling,omitempty"`
}

// connErrorVars are the server's counters of connections it refused.
var connErrorVars = []string{"Connection_errors_max_connections", "Connection_errors_accept", "Connection_errors_internal", "Aborted_connects", "Threads_created"}

// OutageRun is a fleet whose server is stopped for a while, with one
// schedule: from the server's return, when each agent read again.
type FleetOutage struct {
	Policy    string  `json:"policy"`
	Agents    int     `json:"agents"`
	OutageS   float64 `json:"outage_s"`
	IntervalS float64 `json:"interval_s"`
	// Back is each agent's first successful read after the server
	// answered again, in seconds from then; Missing the agents that had
	// not read again when the run ended.
	BackP50, BackP99, BackMax float64
	Missing                   int
	// Hist is the agents' first reads after the return, per second.
	Hist []int `json:"hist"`
	// Attempts are the reads tried during the outage (all failed), per
	// agent; Probes the reachability probes (agent's schedule only).
	Attempts, Probes float64
	RecoveryErrors   int    `json:"recovery_errors"`
	RecoveryKinds    string `json:"recovery_kinds,omitempty"`
	DownS            float64
}

// FleetResults are the fleet figures.
type FleetResults struct {
	Command   string  `json:"command"`
	Agents    int     `json:"agents"`
	Rows      int     `json:"rows"`
	IntervalS float64 `json:"interval_s"`
	Jitter    float64 `json:"jitter"`
	Server    string  `json:"server"`

	// ServerArgs is the private server's command line for the runs;
	// MaxConn and BackLog its max_connections and back_log then.
	ServerArgs      string         `json:"server_args"`
	MaxConn         string         `json:"max_connections"`
	BackLog         string         `json:"back_log"`
	PerPollCommands map[string]int `json:"per_poll_commands"`

	Probe struct {
		BackLog string `json:"back_log"`
		MaxConn int    `json:"max_connections"`
		Agents  int    `json:"agents"`
		Errors  int    `json:"errors"`
		Sample  string `json:"sample"`
	} `json:"probe"`

	Outages []FleetOutage `json:"outages,omitempty"`
	// Limit says why the fleet is smaller than asked, when it is.
	Limit string `json:"limit,omitempty"`

	Statement string        `json:"statement"`
	Explain   []ExplainRow  `json:"explain"`
	Serial    []SerialProbe `json:"serial"`
	Runs      []FleetRun    `json:"runs"`

	// Schedule only (no database): polls per second over the first two
	// intervals for the agent's schedule and a naive one.
	AgentSched, NaiveSched []int
}

// ExplainRow is EXPLAIN's verdict on the agent's statement.
type ExplainRow struct {
	Index bool   `json:"index"`
	Table string `json:"table"`
	Type  string `json:"type"`
	Key   string `json:"key"`
	Rows  string `json:"rows"`
	Extra string `json:"extra"`
}

// SerialProbe is one agent's statement run back to back, alone.
type SerialProbe struct {
	Index         bool               `json:"index"`
	Queries       int                `json:"queries"`
	P50Ms         float64            `json:"p50_ms"`
	CPUPerQueryMs float64            `json:"cpu_per_query_ms"`
	ReadsPerQuery map[string]float64 `json:"reads_per_query"`
}

func nodeName(i int) string { return fmt.Sprintf("fleet-node-%05d", i) }

func parseJitter(s string) (float64, error) {
	p := strings.HasSuffix(s, "%")
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "%"), "%g", &v); err != nil {
		return 0, fmt.Errorf("-jitter %q: %w", s, err)
	}
	if p || v > 1 {
		v /= 100
	}
	if v < 0 || v > 0.5 {
		return 0, fmt.Errorf("-jitter %q: must be 0%% to 50%%", s)
	}
	return v, nil
}

func runFleet(o fleetOpts) (*FleetResults, error) {
	// The driver logs every timed-out read; they are counted instead.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	srv := o.Server
	r := &FleetResults{Agents: o.Agents, Rows: o.Rows, IntervalS: o.Interval.Seconds(), Jitter: o.Jitter}
	db := fmt.Sprintf("mnfleet_%d", os.Getpid())
	dbNoIdx := db + "_noidx"
	for _, name := range []string{db, dbNoIdx} {
		if err := srv.createDB(name); err != nil {
			return nil, err
		}
		defer srv.exec("DROP DATABASE IF EXISTS " + name)
	}
	logf("fleet: loading %d rows (%d agents × %d)", o.Agents*o.Rows, o.Agents, o.Rows)
	if err := loadFleet(srv, db, o.Agents, o.Rows); err != nil {
		return nil, err
	}
	for _, q := range []string{
		"ALTER TABLE " + dbNoIdx + ".multi_interface DROP INDEX idx_node",
		"INSERT INTO " + dbNoIdx + ".multi_subnet SELECT * FROM " + db + ".multi_subnet",
		"INSERT INTO " + dbNoIdx + ".multi_interface SELECT * FROM " + db + ".multi_interface",
		"ANALYZE TABLE " + db + ".multi_interface, " + dbNoIdx + ".multi_interface",
	} {
		if err := srv.exec(q); err != nil {
			return nil, err
		}
	}
	over, err := srv.overhead(5)
	if err != nil {
		return nil, err
	}

	// The exact statement the agent sends, from the general log.
	if r.Statement, err = captureStatement(srv, db); err != nil {
		return nil, err
	}
	if r.PerPollCommands, err = perPollCommands(srv, db); err != nil {
		return nil, err
	}
	for _, idx := range []bool{true, false} {
		name := db
		if !idx {
			name = dbNoIdx
		}
		ex, err := explain(srv, name, r.Statement, nodeName(o.Agents/2))
		if err != nil {
			return nil, err
		}
		for k := range ex {
			ex[k].Index = idx
		}
		r.Explain = append(r.Explain, ex...)
		sp, err := serialProbe(srv, name, over, o.Agents, min(o.Agents, 50), 10)
		if err != nil {
			return nil, err
		}
		sp.Index = idx
		r.Serial = append(r.Serial, sp)
		logf("serial, index=%v: p50 %.2f ms, %.3f ms server CPU/query, reads/query %v", idx, sp.P50Ms, sp.CPUPerQueryMs, sp.ReadsPerQuery)
	}

	r.AgentSched, r.NaiveSched = scheduleOnly(o)

	// A fleet restarted at once against the default max_connections.
	defMax := srv.variable("max_connections")
	fmt.Sscan(defMax, &r.Probe.MaxConn)
	r.Probe.BackLog = srv.variable("back_log")
	r.Probe.Agents = o.Agents
	logf("fleet: %d agents' first poll at once against max_connections=%d", o.Agents, r.Probe.MaxConn)
	probe, err := simulate(o, srv, db, over, 0, false, "probe")
	if err != nil {
		return nil, err
	}
	r.Probe.Errors, r.Probe.Sample = probe.FirstErrors, probe.ErrorKinds

	// Room for every agent's connection. A private server is restarted
	// with it, as an operator would set it in my.cnf (back_log, the
	// listen backlog, is sized from it at start); a running one gets SET
	// GLOBAL for the run.
	maxConn := fmt.Sprint(o.Agents + 200)
	if srv.Private {
		if err := srv.restart("--max-connections="+maxConn, fmt.Sprintf("--open-files-limit=%d", o.Agents+1400), "--table-open-cache=200"); err != nil {
			return nil, err
		}
		r.ServerArgs = srv.Args
	} else {
		if err := srv.exec("SET GLOBAL max_connections = " + maxConn); err != nil {
			return nil, err
		}
		defer srv.exec("SET GLOBAL max_connections = " + defMax)
	}
	r.MaxConn, r.BackLog = srv.variable("max_connections"), srv.variable("back_log")
	logf("fleet: max_connections=%s back_log=%s", r.MaxConn, r.BackLog)

	type mode struct {
		name    string
		db      string
		perPoll bool
		d       time.Duration
		agents  int
		pool    bool
	}
	modes := []mode{{"persistent", db, false, o.Duration, o.Agents, false}}
	if o.ThreadPool {
		modes = append(modes, mode{"persistent, thread pool", db, false, o.Duration, o.Agents, true})
	}
	if o.PerPoll {
		modes = append(modes, mode{"connect-per-poll", db, true, o.Duration, o.Agents, false})
	}
	if o.NoIndexDuration > 0 {
		modes = append(modes, mode{"persistent, no idx_node", dbNoIdx, false, o.NoIndexDuration, min(o.Agents, max(o.NoIndexAgents, 1)), false})
	}
	pool := false
	for _, m := range modes {
		if srv.Private && m.pool != pool {
			args := []string{"--max-connections=" + maxConn, fmt.Sprintf("--open-files-limit=%d", o.Agents+1400), "--table-open-cache=200"}
			if m.pool {
				args = append(args, "--thread-handling=pool-of-threads")
			}
			if err := srv.restart(args...); err != nil {
				return nil, err
			}
			pool = m.pool
		}
		mo := o
		mo.Agents = m.agents
		logf("fleet: %s, %d agents, %s", m.name, m.agents, m.d)
		before, _ := srv.status()
		run, err := simulate(mo, srv, m.db, over, m.d, m.perPoll, m.name)
		if err != nil {
			return nil, err
		}
		if after, err := srv.status(); err == nil && before != nil {
			run.ConnErrors = map[string]float64{}
			for _, v := range connErrorVars {
				run.ConnErrors[v] = after[v] - before[v]
			}
		}
		run.ThreadHandling = srv.variable("thread_handling")
		run.Index = m.db == db
		r.Runs = append(r.Runs, *run)
		logf("fleet %s: %.1f qps, DB CPU %.1f%% of a core, p50 %.2f ms p99 %.2f ms, errors %d, %v", m.name, run.QPS, run.DBCPUPct, run.LatP50, run.LatP99, run.Errors, run.ConnErrors)
	}
	if pool && srv.Private {
		if err := srv.restart("--max-connections="+maxConn, fmt.Sprintf("--open-files-limit=%d", o.Agents+1400), "--table-open-cache=200"); err != nil {
			return nil, err
		}
	}
	if o.OutageAgents > 0 && o.Outage > 0 && srv.Private {
		for _, policy := range []string{"agent", "before"} {
			mo := o
			mo.Agents = min(o.OutageAgents, o.Agents)
			out, err := simulateOutage(mo, srv, db, policy)
			if err != nil {
				return nil, fmt.Errorf("outage (%s): %w", policy, err)
			}
			r.Outages = append(r.Outages, *out)
			logf("fleet outage (%s): %d agents back after p50 %.1f s, p99 %.1f s, max %.1f s (%d missing); busiest second %d", policy, out.Agents, out.BackP50, out.BackP99, out.BackMax, out.Missing, maxInt(out.Hist))
		}
	}
	return r, nil
}

// loadFleet inserts rows rows per agent, in bulk, and ten subnets.
func loadFleet(srv *server, db string, agents, rows int) error {
	var b strings.Builder
	b.WriteString("INSERT INTO " + db + ".multi_subnet (subnet_id, cidr) VALUES ")
	for k := range rows {
		if k > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "('fleet-s%d','10.%d.0.0/16')", k, 100+k)
	}
	if err := srv.exec(b.String()); err != nil {
		return err
	}
	const batch = 1000
	var vals []string
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		q := "INSERT INTO " + db + ".multi_interface (port_id, subnet_id, macaddress, attached_node_name, netplan_success, address, mtu) VALUES " + strings.Join(vals, ",")
		vals = vals[:0]
		return srv.exec(q)
	}
	for i := range agents {
		for k := range rows {
			m := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>8&0xff, i&0xff, k)
			vals = append(vals, fmt.Sprintf("('port-%d-%d','fleet-s%d','%s','%s',1,'10.%d.%d.%d',1500)", i, k, k, m, nodeName(i), 100+k, i>>8&0xff, i&0xff))
			if len(vals) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

func openAgentStore(srv *server, db string, node string, perPoll bool, lifetime time.Duration, observe func(string, time.Duration)) (*store.Store, error) {
	idle := 1
	if perPoll {
		idle = 0
	}
	return store.Open(store.Options{Socket: srv.Socket, User: "root", Name: db, MaxOpen: 1, MaxIdle: idle,
		MaxLifetime: lifetime, Timeout: 10 * time.Second, Observe: observe}, []string{node})
}

// captureStatement runs one agent read with the general log on and returns
// the statement the server received.
func captureStatement(srv *server, db string) (string, error) {
	st, err := openAgentStore(srv, db, nodeName(0), false, time.Minute, nil)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if _, err := st.Rows(context.Background()); err != nil { // connect first
		return "", err
	}
	prev := srv.variable("log_output")
	srv.exec("SET GLOBAL log_output = 'TABLE'")
	defer srv.exec("SET GLOBAL log_output = '" + prev + "'")
	srv.exec("TRUNCATE mysql.general_log")
	srv.exec("SET GLOBAL general_log = 1")
	_, err = st.Rows(context.Background())
	srv.exec("SET GLOBAL general_log = 0")
	if err != nil {
		return "", err
	}
	var q string
	err = srv.admin.QueryRow("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type = 'Query' AND argument LIKE '%multi_interface%' LIMIT 1").Scan(&q)
	srv.exec("TRUNCATE mysql.general_log")
	if err != nil {
		return "", fmt.Errorf("the agent's statement is not in the general log: %w", err)
	}
	return strings.Join(strings.Fields(q), " "), nil
}

// perPollCommands is what one poll of an agent without an idle
// connection (DB_MAX_IDLE_CONNS=0) sends, from the general log.
func perPollCommands(srv *server, db string) (map[string]int, error) {
	st, err := openAgentStore(srv, db, nodeName(0), true, time.Minute, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var me int64
	if err := srv.admin.QueryRow("SELECT CONNECTION_ID()").Scan(&me); err != nil {
		return nil, err
	}
	prev := srv.variable("log_output")
	srv.exec("SET GLOBAL log_output = 'TABLE'")
	defer srv.exec("SET GLOBAL log_output = '" + prev + "'")
	srv.exec("TRUNCATE mysql.general_log")
	srv.exec("SET GLOBAL general_log = 1")
	_, err = st.Rows(context.Background())
	time.Sleep(200 * time.Millisecond) // the Quit is asynchronous
	srv.exec("SET GLOBAL general_log = 0")
	if err != nil {
		return nil, err
	}
	rows, err := srv.admin.Query("SELECT command_type, COUNT(*) FROM mysql.general_log WHERE thread_id <> ? GROUP BY command_type", me)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	srv.exec("TRUNCATE mysql.general_log")
	return out, rows.Err()
}

func explain(srv *server, db, stmt, node string) ([]ExplainRow, error) {
	// The captured statement names nodeName(0); explain it for a node in
	// the middle of the table.
	q := strings.ReplaceAll(stmt, "'"+nodeName(0)+"'", "'"+node+"'")
	ctx := context.Background()
	conn, err := srv.admin.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE "+db); err != nil {
		return nil, err
	}
	defer conn.ExecContext(ctx, "USE mysql")
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []ExplainRow
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for k := range vals {
			ptrs[k] = &vals[k]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		get := func(name string) string {
			for k, c := range cols {
				if strings.EqualFold(c, name) {
					if b, ok := vals[k].([]byte); ok {
						return string(b)
					}
					if vals[k] == nil {
						return "NULL"
					}
					return fmt.Sprint(vals[k])
				}
			}
			return ""
		}
		out = append(out, ExplainRow{Table: get("table"), Type: get("type"), Key: get("key"), Rows: get("rows"), Extra: get("Extra")})
	}
	return out, rows.Err()
}

// serialProbe runs n agents' reads k times each, one at a time.
func serialProbe(srv *server, db string, over status, agents, n, k int) (SerialProbe, error) {
	var stores []*store.Store
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	ctx := context.Background()
	for i := range n {
		st, err := openAgentStore(srv, db, nodeName(i*agents/n), false, time.Hour, nil)
		if err != nil {
			return SerialProbe{}, err
		}
		if _, err := st.Rows(ctx); err != nil { // connect and warm up
			return SerialProbe{}, err
		}
		stores = append(stores, st)
	}
	s0, err := srv.status()
	if err != nil {
		return SerialProbe{}, err
	}
	c0 := srv.cpu()
	var lat []float64
	for range k {
		for _, st := range stores {
			t := time.Now()
			if _, err := st.Rows(ctx); err != nil {
				return SerialProbe{}, err
			}
			lat = append(lat, ms(time.Since(t)))
		}
	}
	c1 := srv.cpu()
	s1, err := srv.status()
	if err != nil {
		return SerialProbe{}, err
	}
	d := s1.minus(s0)
	q := float64(len(lat))
	sp := SerialProbe{Queries: len(lat), P50Ms: median(lat), CPUPerQueryMs: (c1 - c0) * 1000 / q, ReadsPerQuery: map[string]float64{}}
	for _, v := range []string{"Handler_read_key", "Handler_read_next", "Handler_read_rnd_next"} {
		sp.ReadsPerQuery[v] = (d[v] - over[v]) / q
	}
	return sp, nil
}

type pollRec struct {
	at, lat time.Duration
	err     error
	first   bool
}

type sample struct {
	t      time.Duration
	db     float64 // mariadbd CPU seconds
	sim    float64 // simulator CPU seconds
	st     status
	rssKB  int64
	thread float64
}

func selfCPU() float64 {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		return 0
	}
	return float64(st.Utime+st.Stime) / float64(clockTicks)
}

// simulate runs o.Agents agents against db for d (0: only each agent's
// first poll), all started at the same instant.
func simulate(o fleetOpts, srv *server, db string, over status, d time.Duration, perPoll bool, mode string) (*FleetRun, error) {
	run := &FleetRun{Mode: mode, Agents: o.Agents, DurationS: d.Seconds()}
	fmt.Sscan(srv.variable("max_connections"), &run.MaxConn)
	stores := make([]*store.Store, o.Agents)
	for i := range stores {
		st, err := openAgentStore(srv, db, nodeName(i), perPoll, o.MaxLifetime, nil)
		if err != nil {
			return nil, err
		}
		stores[i] = st
	}
	defer func() {
		for _, s := range stores {
			s.Close()
		}
		// Wait for the server to see the connections go.
		waitFor(60*time.Second, 200*time.Millisecond, func() (bool, error) {
			st, err := srv.status()
			return err == nil && st["Threads_connected"] <= 5, nil
		})
	}()
	if m, err := readMem(srv.PID); err == nil {
		run.DBRSSBeforeKB = m.VmRSS
	}
	sched := daemon.Schedule{Interval: o.Interval, Jitter: o.Jitter, BackoffEnabled: true, Multiplier: 2, Max: 5 * time.Minute}
	recs := make([][]pollRec, o.Agents)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg, ready sync.WaitGroup
	startCh := make(chan struct{})
	var start time.Time
	for i := range o.Agents {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			st := stores[i]
			level := 0
			poll := func(first bool) {
				t := time.Now()
				_, err := st.Rows(ctx)
				if err != nil && ctx.Err() != nil {
					return
				}
				recs[i] = append(recs[i], pollRec{at: t.Sub(start), lat: time.Since(t), err: err, first: first})
				if err != nil {
					level++
				} else {
					level = 0
				}
			}
			ready.Done()
			<-startCh
			poll(true)
			if d == 0 {
				return
			}
			timer := time.NewTimer(sched.First(rng.Float64(), rng.Float64()))
			defer timer.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				poll(false)
				timer.Reset(sched.Next(level, rng.Float64()))
			}
		}()
	}
	ready.Wait()
	time.Sleep(200 * time.Millisecond)

	var samples []sample
	take := func() error {
		st, err := srv.status()
		if err != nil {
			return err
		}
		s := sample{t: time.Since(start), db: srv.cpu(), sim: selfCPU(), st: st, thread: st["Threads_connected"]}
		if m, err := readMem(srv.PID); err == nil {
			s.rssKB = m.VmRSS
		}
		samples = append(samples, s)
		return nil
	}
	start = time.Now()
	if err := take(); err != nil {
		return nil, err
	}
	close(startCh)
	if d == 0 {
		wg.Wait()
		take()
	} else {
		tick := time.NewTicker(time.Second)
		for time.Since(start) < d {
			<-tick.C
			if err := take(); err != nil {
				tick.Stop()
				return nil, err
			}
		}
		tick.Stop()
		cancel()
		wg.Wait()
	}

	// Polls.
	var all []pollRec
	for _, rs := range recs {
		all = append(all, rs...)
	}
	run.Polls = len(all)
	kinds := map[string]int{}
	var first, steady []float64
	run.SteadyFromS = steadyFrom(o.Interval, d).Seconds()
	nbins := int(math.Ceil(max(d.Seconds(), 1)))
	run.Hist = make([]int, nbins)
	for _, p := range all {
		if p.err != nil {
			run.Errors++
			msg := p.err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			kinds[msg]++
			if p.first {
				run.FirstErrors++
			}
			continue
		}
		if p.first {
			first = append(first, ms(p.lat))
			run.FirstAllDoneMs = max(run.FirstAllDoneMs, ms(p.at+p.lat))
		} else if p.at.Seconds() >= run.SteadyFromS {
			steady = append(steady, ms(p.lat))
		}
		if b := int(p.at.Seconds()); b >= 0 && b < nbins {
			run.Hist[b]++
		}
	}
	run.ErrorKinds = topKinds(kinds, 3)
	run.FirstP50, run.FirstP99, run.FirstMax = percentile(first, 50), percentile(first, 99), maxOf(first)
	run.SteadyPolls = len(steady)
	run.LatP50, run.LatP99, run.LatMax = percentile(steady, 50), percentile(steady, 99), maxOf(steady)
	for _, s := range samples {
		run.ThreadsMax = max(run.ThreadsMax, s.thread)
	}
	if len(samples) > 0 {
		run.DBRSSAfterKB = samples[len(samples)-1].rssKB
	}
	if d == 0 || len(samples) < 3 {
		return run, nil
	}

	// Server figures over the steady window, from the per-second samples.
	var a, b *sample
	for k := range samples {
		if a == nil && samples[k].t.Seconds() >= run.SteadyFromS {
			a = &samples[k]
		}
	}
	b = &samples[len(samples)-1]
	if a == nil || a == b {
		return nil, errors.New("no steady-state window: make -duration longer")
	}
	secs := (b.t - a.t).Seconds()
	n := 0 // SHOW GLOBAL STATUS taken between a and b
	for k := range samples {
		if samples[k].t > a.t && samples[k].t <= b.t {
			n++
		}
	}
	dq := b.st.minus(a.st)
	queries := dq["Questions"] - float64(n)*over["Questions"]
	run.QPS = queries / secs
	run.SelectPerS = (dq["Com_select"] - float64(n)*over["Com_select"]) / secs
	run.ConnPerS = (dq["Connections"] - float64(n)*over["Connections"]) / secs
	run.DBCPUPct = (b.db - a.db) / secs * 100
	run.SimCPUPct = (b.sim - a.sim) / secs * 100
	if queries > 0 {
		run.DBCPUPerQueryMs = (b.db - a.db) * 1000 / queries
		run.ReadsPerQuery = map[string]float64{}
		for _, v := range []string{"Handler_read_key", "Handler_read_next", "Handler_read_rnd_next"} {
			run.ReadsPerQuery[v] = (dq[v] - float64(n)*over[v]) / queries
		}
	}
	c := samples[0]
	run.BurstDBCPUPct = (a.db - c.db) / (a.t - c.t).Seconds() * 100
	var polls int
	for _, p := range all {
		if p.at.Seconds() >= run.SteadyFromS && p.at <= b.t {
			polls++
		}
	}
	run.PollRate = float64(polls) / (b.t.Seconds() - run.SteadyFromS)
	return run, nil
}

// steadyFrom is where the steady state starts: after two intervals, or
// half the run when it is shorter.
func steadyFrom(interval, d time.Duration) time.Duration {
	if d >= 2*interval+10*time.Second {
		return 2 * interval
	}
	return min(interval, d/2)
}

func topKinds(m map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	var out []string
	for _, e := range l[:min(n, len(l))] {
		out = append(out, fmt.Sprintf("%d× %s", e.v, e.k))
	}
	return strings.Join(out, "; ")
}

// scheduleOnly draws the poll times of the first two intervals for the
// agent's schedule (first wait uniform in (0, interval]) and for a naive
// one (interval ± jitter from the start), with no database.
func scheduleOnly(o fleetOpts) (agent, naive []int) {
	sched := daemon.Schedule{Interval: o.Interval, Jitter: o.Jitter}
	horizon := 2 * o.Interval
	bins := int(horizon.Seconds())
	agent, naive = make([]int, bins), make([]int, bins)
	rng := rand.New(rand.NewPCG(1, 2))
	add := func(h []int, t time.Duration) {
		if b := int(t.Seconds()); b < bins {
			h[b]++
		}
	}
	for range o.Agents {
		add(agent, 0)
		for t := sched.First(rng.Float64(), rng.Float64()); t < horizon; t += sched.Next(0, rng.Float64()) {
			add(agent, t)
		}
		add(naive, 0)
		for t := sched.Next(0, rng.Float64()); t < horizon; t += sched.Next(0, rng.Float64()) {
			add(naive, t)
		}
	}
	return agent, naive
}
