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

// Next is the wait after level consecutive failed cycles: Base spread
// uniformly by ±Jitter. u is a uniform random number in [0, 1).
func (s Schedule) Next(level int, u float64) time.Duration {
	b := float64(s.Base(level))
	return time.Duration(b * (1 + s.Jitter*(2*u-1)))
}

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
