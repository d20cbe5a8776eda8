// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/multinic-agent/multinic-agent/internal/lock"
)

const onceSummary = "Reconcile once: apply this node's rows, verify, report netplan_success, then exit (0 all rows converged, 1 some row failed, 2 configuration or database error)"

func runOnce(args []string, stdout, stderr io.Writer) int {
	cfg, code := commandConfig("once", onceSummary, args, stderr, 2)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stdout)
	if w := cfg.PermissionWarning(); w != "" {
		log.Warn(w)
	}
	if err := previousAgent(); err != nil {
		log.Error("not started", "error", err)
		fmt.Fprintf(stderr, "multinic-agent once: %v\n", err)
		return 2
	}
	a, err := newAgent(cfg, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent once: %v\n", err)
		return 2
	}
	defer a.Close()
	lk, err := lock.Acquire(cfg.RootDir.Path(cfg.LockFile))
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent once: %v\n", err)
		return 2
	}
	defer lk.Release()

	// A hangup (the terminal closed) stops it as SIGTERM does: the
	// interface in hand is finished or rolled back, not cut off.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	res, err := a.rec.Cycle(ctx)
	if err != nil {
		log.Error("reconcile failed", "error", err)
		fmt.Fprintf(stderr, "multinic-agent once: %v\n", err)
		return 2
	}
	log.Info("reconcile finished", "rows", len(res.Rows), "failed", res.Failed(), "changed", res.Changed,
		"removed", res.Removed, "duration_ms", res.Duration.Milliseconds())
	if res.Failed() > 0 {
		return 1
	}
	return 0
}
