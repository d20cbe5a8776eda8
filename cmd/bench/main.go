// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Command bench measures multinic-agent: the idle cycle and convergence of
// the real agent binary inside a network namespace against MariaDB, and a
// simulated fleet polling one MariaDB. It writes the figures to a JSON file
// and docs/benchmarks.md. It is not part of the agent binary. Run it as root
// from the repository root (`make bench` does):
//
//	go run ./cmd/bench [all|agent|fleet|doc] [flags]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// fleetLimit says why the fleet is smaller than asked ("" when it is not).
var fleetLimit string

// Results is everything measured; each part is kept until re-measured.
type Results struct {
	Machine    Machine       `json:"machine"`
	GoBench    []GoBench     `json:"go_bench,omitempty"`
	GoBenchCmd string        `json:"go_bench_command,omitempty"`
	GoBenchAt  time.Time     `json:"go_bench_at"`
	Agent      *AgentResults `json:"agent,omitempty"`
	AgentAt    time.Time     `json:"agent_at"`
	AgentLoad  [2]string     `json:"agent_load"`
	Fleet      *FleetResults `json:"fleet,omitempty"`
	FleetAt    time.Time     `json:"fleet_at"`
	FleetLoad  [2]string     `json:"fleet_load"`
	FleetDur   time.Duration `json:"fleet_wall"`
	AgentDur   time.Duration `json:"agent_wall"`
	// DocCommand is the last `doc` run that rendered the report.
	DocCommand string `json:"doc_command,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPU     string `json:"cpu"`
	VCPUs   int    `json:"vcpus"`
	MemMB   int64  `json:"mem_mb"`
	Kernel  string `json:"kernel"`
	MariaDB string `json:"mariadb"`
	Go      string `json:"go"`
}

func machine() Machine {
	m := Machine{VCPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		m.MemMB = kb / 1024
	}
	return m
}

// Exit-time cleanups, also run on SIGINT/SIGTERM.
var (
	cleanMu  sync.Mutex
	cleanups []func()
)

func atExit(f func()) {
	cleanMu.Lock()
	defer cleanMu.Unlock()
	cleanups = append(cleanups, f)
}

func runCleanups() {
	cleanMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		logf("%v: cleaning up", s)
		runCleanups()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	err := mainErr(os.Args[1:])
	runCleanups()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func splitEnv(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func mainErr(args []string) error {
	part := "all"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		part, args = args[0], args[1:]
	}
	switch part {
	case "floor-client":
		return floorClient(args)
	case "all", "agent", "fleet", "doc":
	default:
		return fmt.Errorf("unknown part %q: all, agent, fleet or doc", part)
	}
	fs := flag.NewFlagSet("bench "+part, flag.ContinueOnError)
	var (
		resultsPath = fs.String("results", "/tmp/multinic-bench/results.json", "JSON file the figures are merged into")
		out         = fs.String("out", "docs/benchmarks.md", "the report to write from the results (empty: none)")
		goBench     = fs.String("gobench", "", "output of `go test -bench` to summarise (medians) into the results")
		goBenchCmd  = fs.String("gobench-cmd", "", "the command that produced -gobench, for the report")
		socket      = fs.String("db-socket", "", "measure against this running MariaDB (root over the socket) instead of a private mariadbd started for the run; its counters then include other clients")
		keep        = fs.Bool("keep", false, "keep the work directory")
		soakFrom    = fs.String("soak-results", "", "take the soak from this results file (a separate `agent -phases soak -soak 1h` run)")

		binary   = fs.String("agent", "", "agent binary (default: go build ./cmd/agent as `make build` does)")
		nics     = fs.Int("nics", 10, "veth NICs and rows on the measured node")
		runs     = fs.Int("runs", 5, "runs of each measurement (medians are reported)")
		win      = fs.Duration("window", 30*time.Second, "length of each idle CPU/SQL window")
		settle   = fs.Duration("settle", 10*time.Second, "wait after convergence before measuring")
		baseline = fs.Duration("baseline-interval", time.Hour, "POLL_INTERVAL of the no-poll CPU baseline")
		traceN   = fs.Int("trace-cycles", 20, "idle cycles traced with strace (execs, file writes)")
		agentEnv = fs.String("agent-env", "", "extra KEY=VALUE environment for every agent, comma-separated (experiments; the report shows it)")
		phases   = fs.String("phases", "idle,baseline,batch,present,hotplug,latency,soak", "agent: the measurements to run")
		baseRev  = fs.String("baseline-rev", "", "agent: also measure the hot-plug and outage latencies of this git revision's agent (the figures before a change)")
		outages  = fs.String("outages", "5s,30s", "agent: database outage lengths for one agent, comma-separated")
		outRuns  = fs.Int("outage-runs", 3, "agent: runs of each outage length")
		soak     = fs.Duration("soak", 5*time.Minute, "memory soak at POLL_INTERVAL=1s, sampled each minute (0: none; 1h reproduces the hour-long soak)")

		agents   = fs.Int("agents", 20000, "fleet: simulated agents")
		pool     = fs.Bool("thread-pool", true, "fleet: also run with thread_handling=pool-of-threads")
		noIdxN   = fs.Int("noindex-agents", 2000, "fleet: agents of the run without idx_node")
		outAgent = fs.Int("outage-agents", 5000, "fleet: agents of the server outage runs (0: none)")
		outFleet = fs.Duration("fleet-outage", time.Minute, "fleet: how long the server is stopped in the outage runs")
		rows     = fs.Int("rows", 10, "fleet: rows per agent")
		interval = fs.Duration("interval", 30*time.Second, "fleet: POLL_INTERVAL")
		jitter   = fs.String("jitter", "10%", "fleet: POLL_JITTER")
		duration = fs.Duration("duration", 2*time.Minute, "fleet: length of each run")
		noIdx    = fs.Duration("noindex-duration", time.Minute, "fleet: length of the run without idx_node (0: skip it)")
		perPoll  = fs.Bool("per-poll", true, "fleet: also run with a connection per poll (DB_MAX_IDLE_CONNS=0)")
		lifetime = fs.Duration("max-lifetime", 5*time.Minute, "fleet: DB_MAX_LIFETIME of each agent's connection")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *nics < 1 || *nics > 10 {
		return errors.New("-nics must be 1 to 10 (an agent configures at most 10)")
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	jit, err := parseJitter(*jitter)
	if err != nil {
		return err
	}
	var outageLens []time.Duration
	for _, f := range splitEnv(*outages) {
		d, err := time.ParseDuration(f)
		if err != nil {
			return fmt.Errorf("-outages: %w", err)
		}
		outageLens = append(outageLens, d)
	}
	command := "go run ./cmd/bench " + shellQuote(append([]string{part}, args...))

	res := &Results{}
	if b, err := os.ReadFile(*resultsPath); err == nil {
		if err := json.Unmarshal(b, res); err != nil {
			return fmt.Errorf("%s: %w", *resultsPath, err)
		}
	}
	prev := res.Machine
	res.Machine = machine()
	res.Machine.MariaDB = prev.MariaDB
	save := func() error {
		if err := os.MkdirAll(filepath.Dir(*resultsPath), 0o755); err != nil {
			return err
		}
		// JSON has no NaN or infinity, which a figure with no data is (the
		// median of nothing): such a figure is recorded as 0, and named.
		if none := zeroNonFinite(reflect.ValueOf(res), "results"); len(none) > 0 {
			logf("no data for %s: recorded as 0 in %s", strings.Join(none, ", "), *resultsPath)
		}
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the figures for %s: %w", *resultsPath, err)
		}
		return os.WriteFile(*resultsPath, b, 0o644)
	}

	if *goBench != "" {
		gb, cpu, err := parseGoBench(*goBench)
		if err != nil {
			return err
		}
		if cpu != "" && res.Machine.CPU == "" {
			res.Machine.CPU = cpu
		}
		res.GoBench, res.GoBenchCmd, res.GoBenchAt = gb, *goBenchCmd, time.Now().UTC()
	}
	if *soakFrom != "" {
		var other Results
		b, err := os.ReadFile(*soakFrom)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &other); err != nil {
			return fmt.Errorf("%s: %w", *soakFrom, err)
		}
		if other.Agent == nil || len(other.Agent.Soak) == 0 {
			return fmt.Errorf("%s holds no soak", *soakFrom)
		}
		if res.Agent == nil {
			return errors.New("-soak-results needs the other agent figures in -results first")
		}
		res.Agent.Soak, res.Agent.SoakSeconds, res.Agent.SoakAt = other.Agent.Soak, other.Agent.SoakSeconds, other.AgentAt
		res.Agent.SoakCommand = other.Agent.Command
	}

	if part != "doc" {
		if os.Geteuid() != 0 {
			return errors.New("needs root: network namespaces, netlink and mariadbd")
		}
		// A connection per simulated agent, on both ends: raise the file
		// limit (the harness's own and the server's, which inherits it).
		lim := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
			lim.Cur = lim.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
			// Each simulated agent holds a descriptor here and one in the
			// server, which inherits the limit: the fleet is what fits.
			if fit := int(lim.Max) - 1500; *agents > fit && (part == "all" || part == "fleet") {
				logf("the file limit (RLIMIT_NOFILE) is %d and cannot be raised here: %d agents instead of %d", lim.Max, fit, *agents)
				fleetLimit = fmt.Sprintf("%d agents instead of %d: the most this machine holds, as the harness and the server each need a descriptor per agent and the file limit (RLIMIT_NOFILE) is %d here and cannot be raised (no CAP_SYS_RESOURCE)", fit, *agents, lim.Max)
				*agents = fit
			}
		}
		dir, err := os.MkdirTemp("", "multinic-bench-")
		if err != nil {
			return err
		}
		// mariadbd runs as mysql and must reach its directory inside.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		if !*keep {
			atExit(func() { os.RemoveAll(dir) })
		} else {
			logf("work directory %s is kept", dir)
		}
		var srv *server
		if *socket != "" {
			srv, err = useExisting(*socket)
		} else {
			logf("starting a private mariadbd in %s", dir)
			srv, err = startPrivate(filepath.Join(dir, "mariadb"))
		}
		if err != nil {
			return err
		}
		atExit(srv.Stop)
		res.Machine.MariaDB = srv.version()
		where := "a private mariadbd (" + srv.version() + ") started by the harness: `mariadb-install-db` + `mariadbd --no-defaults --skip-networking --character-set-server=utf8mb4`, reached over its unix socket as root; no other client"
		if !srv.Private {
			where = "the running MariaDB on " + srv.Socket + " (other clients' statements are in its counters)"
		}
		if l := load1(); l >= 0.5 {
			logf("warning: the 1-minute load is %.2f before starting; figures are better taken on a quiet machine", l)
		}

		if part == "all" || part == "agent" {
			bin := *binary
			if bin == "" {
				logf("building the agent")
				bin = filepath.Join(dir, "multinic-agent")
				if err = harness.BuildAgent(bin); err != nil {
					return err
				}
			}
			load0, t0 := loadavg(), time.Now()
			ar, err := runAgentBench(agentOpts{Binary: bin, NICs: *nics, Runs: *runs, Window: *win, Settle: *settle,
				BaselineInterval: *baseline, TraceCycles: *traceN, Soak: *soak, Phases: strings.Split(*phases, ","), Dir: dir, Server: srv, Env: splitEnv(*agentEnv),
				BaselineRev: *baseRev, Outages: outageLens, OutageRuns: *outRuns})
			if err != nil {
				return err
			}
			ar.Command, ar.Server = command, where
			if len(ar.Soak) > 0 {
				ar.SoakCommand, ar.SoakAt = command, time.Now().UTC()
			}
			res.Agent, res.AgentAt, res.AgentLoad, res.AgentDur = ar, time.Now().UTC(), [2]string{load0, loadavg()}, time.Since(t0).Round(time.Second)
			if err := save(); err != nil {
				return err
			}
		}
		if part == "all" || part == "fleet" {
			load0, t0 := loadavg(), time.Now()
			fr, err := runFleet(fleetOpts{Agents: *agents, Rows: *rows, Interval: *interval, Jitter: jit, Duration: *duration,
				NoIndexDuration: *noIdx, PerPoll: *perPoll, MaxLifetime: *lifetime, Server: srv,
				ThreadPool: *pool, NoIndexAgents: *noIdxN, OutageAgents: *outAgent, Outage: *outFleet})
			if err != nil {
				return err
			}
			fr.Command, fr.Server, fr.Limit = command, where, fleetLimit
			res.Fleet, res.FleetAt, res.FleetLoad, res.FleetDur = fr, time.Now().UTC(), [2]string{load0, loadavg()}, time.Since(t0).Round(time.Second)
		}
	}
	if part == "doc" {
		res.DocCommand = command
	}
	// The report is rendered before save records figures with no data as 0.
	doc := ""
	if *out != "" {
		doc = report(res)
	}
	if err := save(); err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
			return err
		}
		logf("wrote %s (figures in %s)", *out, *resultsPath)
	}
	return nil
}
