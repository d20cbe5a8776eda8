// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netmon"
)

// BenchmarkIdleCycle is one reconcile of a node with ten converged
// interfaces and nothing to change: the cost every node pays every poll.
// "dump" reads the kernel every cycle (once, plan); "daemon" keeps the
// kernel view while no netlink event reports a change, as the daemon does.
func BenchmarkIdleCycle(b *testing.B) {
	for _, mode := range []string{"dump", "daemon"} {
		b.Run(mode, func(b *testing.B) { benchIdle(b, mode == "daemon") })
	}
}

func benchIdle(b *testing.B, trusted bool) {
	e := newEnv(b)
	r := e.reconciler()
	if trusted {
		r.Kernel = netmon.New(r.Links)
		ctx, cancel := context.WithCancel(context.Background())
		b.Cleanup(cancel)
		changes, err := r.Kernel.Watch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range changes {
			}
		}()
	}
	for i := range 10 {
		mac := fmt.Sprintf("fa:16:3e:00:00:%02x", i+1)
		e.ns.AddNIC(b, fmt.Sprintf("eth%d", i+1), mac)
		e.db.AddRow(b, node, mac, "s4", fmt.Sprintf("10.20.0.%d", i+11), 1500)
	}
	if _, err := r.Cycle(context.Background()); err != nil {
		b.Fatal(err)
	}
	// Files written less than a second ago are re-read every cycle (their
	// times could still change within the same clock tick); a converged
	// node's files are older.
	time.Sleep(1100 * time.Millisecond)
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime()
	for b.Loop() {
		res, err := r.Cycle(context.Background())
		if err != nil || res.Changed || res.Failed() > 0 {
			b.Fatalf("not idle: changed=%v failed=%d err=%v", res.Changed, res.Failed(), err)
		}
	}
	// Wall time includes waiting for the database; CPU time is what the
	// node pays.
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
