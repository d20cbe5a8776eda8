// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"math"
	"math/rand/v2"
	"time"
)

// Schedule decides how long the loop waits between cycles.
type Schedule struct {
	Interval time.Duration
	// Jitter is the fraction (0 to 0.5) by which each wait is spread.
	Jitter float64
	// Backoff, when enabled, multiplies the interval by Multiplier per
	// consecutive failed cycle, up to Max.
	BackoffEnabled bool
	Multiplier     float64
	Max            time.Duration
}

// Base is the wait before jitter after level consecutive failed cycles.
func (s Schedule) Base(level int) time.Duration {
	if !s.BackoffEnabled || level <= 0 {
		return s.Interval
	}
	d := float64(s.Interval) * math.Pow(s.Multiplier, float64(level))
	if d > float64(s.Max) {
		d = float64(s.Max)
	}
	return max(time.Duration(d), s.Interval)
}

// BackoffJitter is the spread of each wait while cycles fail, wider than
// POLL_JITTER: agents that failed together (a database gone under the
// whole fleet, or refusing it) drift apart instead of retrying in step.
const BackoffJitter = 0.5

// Next is the wait after level consecutive failed cycles: Base spread
// uniformly by ±Jitter, or by ±BackoffJitter while backing off. u is a
// uniform random number in [0, 1).
func (s Schedule) Next(level int, u float64) time.Duration {
	b := float64(s.Base(level))
	j := s.Jitter
	if s.Probing(level) {
		j = max(j, BackoffJitter)
	}
	return time.Duration(b * (1 + j*(2*u-1)))
}

// Probing reports whether after level failed cycles the next one waits
// longer than the interval: while the database cannot be reached at all,
// a reachability probe (a connection and the server's greeting, no login,
// no statement) then runs every Probe, and the cycle follows as soon as
// the server greets.
func (s Schedule) Probing(level int) bool { return s.Base(level) > s.Interval }

// Probe is the wait before the next reachability probe: the interval,
// spread as polls are, so that one agent notices a returning database
// within about one interval and a fleet's first reads spread over one.
func (s Schedule) Probe(u float64) time.Duration { return s.Next(0, u) }

// First is the wait before the second cycle: with jitter on, uniform in
// (0, w] where w is a jittered interval (u1 and u2 uniform in [0, 1)), so
// that agents restarted together spread over the whole interval at once
// instead of polling in step, and their next polls, one jittered interval
// later, do not pile up where the first and second rounds overlap.
func (s Schedule) First(u1, u2 float64) time.Duration {
	if s.Jitter == 0 {
		return s.Interval
	}
	return time.Duration(float64(s.Next(0, u1)) * (1 - u2))
}

func random() float64 { return rand.Float64() }
