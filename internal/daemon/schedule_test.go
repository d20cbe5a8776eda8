// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"testing"
	"time"
)

func TestBackoffGrowsToMaxAndResets(t *testing.T) {
	s := Schedule{Interval: 30 * time.Second, BackoffEnabled: true, Multiplier: 2, Max: 5 * time.Minute}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for level, w := range want {
		if got := s.Base(level); got != w {
			t.Errorf("level %d: %s, want %s", level, got, w)
		}
	}
	s.BackoffEnabled = false
	if got := s.Base(5); got != 30*time.Second {
		t.Errorf("backoff off: %s", got)
	}
	// A max below the interval never shortens the interval.
	s = Schedule{Interval: time.Minute, BackoffEnabled: true, Multiplier: 2, Max: time.Second}
	if got := s.Base(3); got != time.Minute {
		t.Errorf("max below interval: %s", got)
	}
}

func TestJitterSpreadsWithinBounds(t *testing.T) {
	s := Schedule{Interval: 30 * time.Second, Jitter: 0.1}
	if lo, hi := s.Next(0, 0), s.Next(0, 0.999999); lo != 27*time.Second || hi < 32999*time.Millisecond || hi > 33*time.Second {
		t.Errorf("bounds: %s .. %s, want 27s .. 33s", lo, hi)
	}
	// Random draws stay in bounds and are not all equal.
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := s.Next(0, random())
		if d < 27*time.Second || d > 33*time.Second {
			t.Fatalf("%s outside 27s..33s", d)
		}
		seen[d] = true
	}
	if len(seen) < 900 {
		t.Errorf("only %d distinct waits out of 1000", len(seen))
	}
	s.Jitter = 0
	if s.Next(0, 0.3) != 30*time.Second || s.First(0.3, 0.6) != 30*time.Second {
		t.Error("jitter 0 must give the exact interval")
	}
}

func TestFirstWaitSpreadsARestartedFleet(t *testing.T) {
	s := Schedule{Interval: 30 * time.Second, Jitter: 0.1}
	// A fleet restarted at once: its second polls must spread evenly over
	// the first interval (3 s buckets up to 27 s, where the jittered
	// intervals start to end), not bunch up in one.
	var buckets [11]int
	for range 100000 {
		d := s.First(random(), random())
		if d <= 0 || d > 33*time.Second {
			t.Fatalf("first wait %s outside (0, 33s]", d)
		}
		buckets[int(d/(3*time.Second))]++
	}
	for i, n := range buckets[:9] {
		if n < 9000 || n > 11200 {
			t.Errorf("bucket %d (%ds..%ds) holds %d of 100000 agents, want about 10500", i, 3*i, 3*i+3, n)
		}
	}
	if buckets[9]+buckets[10] > 12000 {
		t.Errorf("the last 6 s hold %d agents: a pile-up", buckets[9]+buckets[10])
	}
}

// TestBackoffSpreadsAFleetThatFailedTogether: while cycles fail, each wait
// is spread by ±50% of the backoff (not POLL_JITTER's ±10%), so agents that
// failed at the same moment drift apart; polls keep POLL_JITTER.
func TestBackoffSpreadsAFleetThatFailedTogether(t *testing.T) {
	s := Schedule{Interval: 30 * time.Second, Jitter: 0.1, BackoffEnabled: true, Multiplier: 2, Max: 5 * time.Minute}
	if lo, hi := s.Next(2, 0), s.Next(2, 0.999999); lo != time.Minute || hi < 179*time.Second || hi > 3*time.Minute {
		t.Errorf("level 2 (2m): %s .. %s, want 1m .. 3m", lo, hi)
	}
	if lo, hi := s.Next(0, 0), s.Next(0, 0.999999); lo != 27*time.Second || hi > 33*time.Second {
		t.Errorf("level 0: %s .. %s, want 27s .. 33s", lo, hi)
	}
	var below, above int
	for range 1000 {
		switch d := s.Next(3, random()); {
		case d < 4*time.Minute:
			below++
		case d > 4*time.Minute:
			above++
		}
	}
	if below < 400 || above < 400 {
		t.Errorf("level 3 (4m): %d waits below 4m, %d above", below, above)
	}
}

// TestProbingOnlyWhileTheBackoffHoldsThePollBack: the reachability probe
// runs only when the next poll is later than the interval.
func TestProbingOnlyWhileTheBackoffHoldsThePollBack(t *testing.T) {
	s := Schedule{Interval: 30 * time.Second, Jitter: 0.1, BackoffEnabled: true, Multiplier: 2, Max: 5 * time.Minute}
	if s.Probing(0) || !s.Probing(1) || !s.Probing(7) {
		t.Errorf("probing at levels 0, 1, 7: %v %v %v", s.Probing(0), s.Probing(1), s.Probing(7))
	}
	if p := s.Probe(0.5); p != 30*time.Second {
		t.Errorf("probe wait %s, want the interval", p)
	}
	s.BackoffEnabled = false
	if s.Probing(5) {
		t.Error("probing without backoff: every poll already comes at the interval")
	}
	s = Schedule{Interval: time.Minute, BackoffEnabled: true, Multiplier: 1, Max: 5 * time.Minute}
	if s.Probing(3) {
		t.Error("probing with a multiplier of 1")
	}
}
