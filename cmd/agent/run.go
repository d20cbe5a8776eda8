// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/multinic-agent/multinic-agent/internal/control"
	"github.com/multinic-agent/multinic-agent/internal/daemon"
	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/lock"
	"github.com/multinic-agent/multinic-agent/internal/metrics"
	"github.com/multinic-agent/multinic-agent/internal/prevagent"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

const runSummary = "Run the daemon: reconcile at start, every POLL_INTERVAL (with jitter and backoff) and soon after the kernel reports a change to a NIC the rows name; serve health and metrics on HEALTH_ADDR:HEALTH_PORT; stop on SIGTERM or SIGINT"

// retrimEvery is how often the daemon returns its executable's clean pages
// to the kernel (trimStartup).
const retrimEvery = 5 * time.Minute

// liveness is how long the loop may go without a heartbeat before /healthz
// fails: longer than the slowest cycle (database timeouts, activation).
const liveness = 5 * time.Minute

func runDaemon(args []string, stdout, stderr io.Writer) int {
	cfg, code := commandConfig("run", runSummary, args, stderr, 2)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stdout)
	if w := cfg.PermissionWarning(); w != "" {
		log.Warn(w)
	}
	fail := func(err error) int {
		log.Error("cannot start", "error", err)
		fmt.Fprintf(stderr, "multinic-agent: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if !waitForPreviousAgent(ctx, log, stderr) {
		return 0
	}

	lk, err := lock.Acquire(cfg.RootDir.Path(cfg.LockFile))
	if err != nil {
		return fail(err)
	}
	defer lk.Release()

	var m *metrics.Metrics
	a, err := newAgent(cfg, log, func(kind string, d time.Duration) { m.ObserveQuery(kind, d) })
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	m = metrics.New(version, a.os.ID, a.nodes[0], a.rec.InFlight)
	// A row must stay absent for as long as the shortest wait between two
	// polls before its interface goes: reads that kernel events trigger in
	// between do not count as the second one.
	a.rec.MinAbsence = time.Duration(float64(cfg.PollInterval) * (1 - cfg.PollJitter))
	state := health.NewState(liveness)
	state.Set(health.Snapshot{Backend: a.rec.Backend.Name()})

	if os.Getenv("GOGC") == "" {
		// The heap is small and an idle cycle allocates little: collect at
		// half the usual growth to keep the resident set small.
		debug.SetGCPercent(50)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// The agent waits on the kernel, the database and its tools, one
		// cycle at a time; a second processor only adds threads that spin
		// on every wake-up (measured: about a quarter of an idle cycle's CPU).
		runtime.GOMAXPROCS(1)
	}
	notify := func(s string) {
		if s == "READY=1" {
			trimStartup()
			// Rare paths (a change, a scrape, the collector) bring pages of
			// the executable back: give them back now and then, as the
			// kernel would under pressure, so that the resident set stays
			// what idle cycles use.
			go func() {
				for range time.Tick(retrimEvery) {
					trimStartup()
				}
			}()
		}
		sd.SdNotify(false, s)
	}
	watchdog := 10 * time.Second
	if wd, err := sd.SdWatchdogEnabled(false); err == nil && wd > 0 {
		watchdog = min(watchdog, wd/2)
	}
	d := &daemon.Daemon{
		Rec:     a.rec,
		Kernel:  a.rec.Kernel,
		Metrics: m,
		Health:  state,
		Schedule: daemon.Schedule{
			Interval: cfg.PollInterval, Jitter: cfg.PollJitter,
			BackoffEnabled: cfg.BackoffEnabled, Multiplier: cfg.BackoffMultiplier, Max: cfg.BackoffMaxInterval,
		},
		Reach:       a.store.Reachable,
		Unreachable: store.Unreachable,
		Debounce:    200 * time.Millisecond,
		EventGap:    time.Second,
		RequestGap:  time.Second,
		Notify:      notify,
		Watchdog:    watchdog,
		Log:         log,
	}
	var srv *http.Server
	if cfg.HealthPort != 0 {
		addr := net.JoinHostPort(cfg.HealthAddr, strconv.Itoa(cfg.HealthPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if p, ok := prevagent.Holder("/proc", cfg.HealthPort); ok {
				return fail(fmt.Errorf("cannot listen on HEALTH_ADDR:HEALTH_PORT %s: %s", addr, p.Sentence()))
			}
			return fail(fmt.Errorf("cannot listen on HEALTH_ADDR:HEALTH_PORT %s (%v); free the port or set HEALTH_PORT", addr, err))
		}
		srv = health.Server(health.WithReconcile(health.Handler(state, m.Registry), cfg.ReconcileToken, d.Reconcile))
		go health.Guard(srv, ln, health.MaxConns, state.Managed)
		log.Info("serving health and metrics", "addr", ln.Addr().String(), "post_reconcile", cfg.ReconcileToken != "")
	}

	// `multinic-agent reconcile` reaches the daemon through a socket next
	// to the lock, which only root can use.
	sockPath := control.SocketPath(cfg.RootDir.Path(cfg.LockFile))
	if ln, err := control.Listen(sockPath); err != nil {
		log.Warn("cannot open the local reconcile socket; multinic-agent reconcile cannot reach this daemon (SIGHUP still asks for a cycle)", "socket", sockPath, "error", err)
	} else {
		defer ln.Close()
		go control.Serve(ln, d.Reconcile, log)
	}

	// SIGHUP, systemd's reload: a cycle now (the rows read again); settings
	// change with a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reconciling now; settings in the config file take effect at a restart")
			d.Request()
		}
	}()
	log.Info("daemon started", "poll_interval", cfg.PollInterval.String(), "jitter", cfg.PollJitter, "nodes", a.nodes)
	d.Run(ctx)
	log.Info("stopping")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
	return 0
}

// waitForPreviousAgent holds the start, changing nothing, while the
// previous generation of multinic-agent runs on the node: the operator
// deletes its DaemonSet and this agent takes over by itself. It returns
// false when the agent is told to stop meanwhile.
func waitForPreviousAgent(ctx context.Context, log *slog.Logger, stderr io.Writer) bool {
	const recheck = 2 * time.Second
	waited := false
	for {
		err := previousAgent()
		if err == nil {
			if waited {
				log.Info("the previous multinic-agent stopped; starting")
			}
			return true
		}
		if !waited {
			log.Error("waiting for the previous multinic-agent to stop", "error", err)
			fmt.Fprintf(stderr, "multinic-agent: waiting: %v\n", err)
			waited = true
		}
		// Keep systemd's start timeout from running out while waiting.
		sd.SdNotify(false, "STATUS=waiting for the previous multinic-agent to stop\nEXTEND_TIMEOUT_USEC=30000000")
		select {
		case <-ctx.Done():
			return false
		case <-time.After(recheck):
		}
	}
}
