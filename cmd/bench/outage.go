// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/daemon"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// simulateOutage runs o.Agents agents (connection kept, their polls spread
// over the interval), stops the server for o.Outage, starts it again, and
// records when each agent reads successfully again. policy "agent" is the
// daemon's schedule (daemon.Schedule with the reachability probe while no
// connection can be made); "before" the one before issue 17: the backoff
// alone, spread by POLL_JITTER.
func simulateOutage(o fleetOpts, srv *server, db, policy string) (*FleetOutage, error) {
	out := &FleetOutage{Policy: policy, Agents: o.Agents, OutageS: o.Outage.Seconds(), IntervalS: o.Interval.Seconds()}
	sched := daemon.Schedule{Interval: o.Interval, Jitter: o.Jitter, BackoffEnabled: true, Multiplier: 2, Max: 5 * time.Minute}
	next := func(level int, u float64) time.Duration {
		if policy == "agent" {
			return sched.Next(level, u)
		}
		return time.Duration(float64(sched.Base(level)) * (1 + o.Jitter*(2*u-1)))
	}
	stores := make([]*store.Store, o.Agents)
	for i := range stores {
		st, err := openAgentStore(srv, db, nodeName(i), false, o.MaxLifetime, nil)
		if err != nil {
			return nil, err
		}
		stores[i] = st
	}
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	var (
		up       atomic.Int64 // unix ns when the server answered again; 0 before
		mu       sync.Mutex
		back     = make([]time.Duration, o.Agents)
		attempts atomic.Int64
		probes   atomic.Int64
		recErrs  = map[string]int{}
		recN     int
	)
	for i := range back {
		back[i] = -1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range o.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			st := stores[i]
			level, unreachable := 0, false
			poll := time.NewTimer(time.Duration(rng.Float64() * float64(o.Interval)))
			defer poll.Stop()
			probe := time.NewTimer(time.Hour)
			probe.Stop()
			read := func() {
				_, err := st.Rows(ctx)
				if ctx.Err() != nil {
					return
				}
				u := up.Load()
				if err != nil {
					level++
					unreachable = store.Unreachable(err)
					if u == 0 {
						attempts.Add(1)
					} else {
						msg := err.Error()
						if k := strings.LastIndex(msg, ": "); k >= 0 {
							msg = msg[k+2:]
						}
						mu.Lock()
						recErrs[msg]++
						recN++
						mu.Unlock()
					}
				} else {
					level, unreachable = 0, false
					if u != 0 {
						mu.Lock()
						if back[i] < 0 {
							back[i] = time.Since(time.Unix(0, u))
						}
						mu.Unlock()
					}
				}
				poll.Reset(next(level, rng.Float64()))
				if policy == "agent" && unreachable && sched.Probing(level) {
					probe.Reset(sched.Probe(rng.Float64()))
				} else {
					probe.Stop()
				}
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-poll.C:
					read()
				case <-probe.C:
					probes.Add(1)
					if err := st.Reachable(ctx); err != nil {
						probe.Reset(sched.Probe(rng.Float64()))
						continue
					}
					read()
				}
			}
		}()
	}
	// One interval with the server up: every agent has read and holds its
	// connection.
	time.Sleep(o.Interval + 2*time.Second)
	logf("fleet outage (%s): stopping the server for %s under %d agents", policy, o.Outage, o.Agents)
	down := time.Now()
	extra := srv.extra
	srv.Stop()
	time.Sleep(max(0, o.Outage-time.Since(down)))
	if err := srv.start(extra...); err != nil {
		return nil, err
	}
	out.DownS = time.Since(down).Seconds()
	up.Store(time.Now().UnixNano())
	upAt := time.Now()
	// Until every agent has read again, or at most the longest backoff.
	limit := 6 * time.Minute
	for time.Since(upAt) < limit {
		time.Sleep(time.Second)
		mu.Lock()
		done := true
		for _, b := range back {
			done = done && b >= 0
		}
		mu.Unlock()
		if done {
			break
		}
	}
	cancel()
	wg.Wait()
	var secs []float64
	bins := 0
	for _, b := range back {
		if b < 0 {
			out.Missing++
			continue
		}
		secs = append(secs, b.Seconds())
		bins = max(bins, int(b.Seconds())+1)
	}
	out.Hist = make([]int, bins)
	for _, x := range secs {
		out.Hist[int(x)]++
	}
	out.BackP50, out.BackP99, out.BackMax = percentile(secs, 50), percentile(secs, 99), maxOf(secs)
	out.Attempts = float64(attempts.Load()) / float64(o.Agents)
	out.Probes = float64(probes.Load()) / float64(o.Agents)
	out.RecoveryErrors, out.RecoveryKinds = recN, topKinds(recErrs, 3)
	if math.IsNaN(out.BackP50) {
		return out, fmt.Errorf("no agent read again within %s", limit)
	}
	return out, nil
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
