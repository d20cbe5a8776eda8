// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import "time"

// pollTimer is the timer of the daemon's polls (newPollTimer).
type pollTimer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// goTimer is a pollTimer on a time.Timer.
type goTimer struct{ t *time.Timer }

func (g goTimer) C() <-chan time.Time   { return g.t.C }
func (g goTimer) Reset(d time.Duration) { g.t.Reset(d) }
func (g goTimer) Stop()                 { g.t.Stop() }
