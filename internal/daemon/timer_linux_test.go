// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"testing"
	"time"
)

// TestPollTimerFiresOnceAfterEachReset: the timerfd poll timer behaves as
// the time.Timer it replaces: one tick per arming, none after a Reset that
// pushed the time out, at once for a zero wait.
func TestPollTimerFiresOnceAfterEachReset(t *testing.T) {
	p := newPollTimer(50 * time.Millisecond)
	defer p.Stop()
	if _, ok := p.(*quietTimer); !ok {
		t.Fatalf("the poll timer is a %T, not on a timerfd", p)
	}
	start := time.Now()
	select {
	case <-p.C():
	case <-time.After(5 * time.Second):
		t.Fatal("no tick")
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("ticked before its time")
	}
	select {
	case <-p.C():
		t.Fatal("a second tick without a Reset")
	case <-time.After(150 * time.Millisecond):
	}
	p.Reset(time.Hour)
	p.Reset(0)
	select {
	case <-p.C():
	case <-time.After(5 * time.Second):
		t.Fatal("Reset(0) did not tick")
	}
	p.Reset(time.Hour)
	select {
	case <-p.C():
		t.Fatal("ticked an hour early")
	case <-time.After(200 * time.Millisecond):
	}
}
