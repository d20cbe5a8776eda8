// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netmon

import (
	"errors"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/links"
)

// counting is a monitor whose snapshots come from a counter, not the kernel.
func counting() (*Monitor, *int) {
	n := 0
	m := &Monitor{}
	m.read = func() (*Snapshot, error) {
		n++
		return &Snapshot{Links: []links.Link{{Index: n}}}, nil
	}
	return m, &n
}

func TestWhenASnapshotIsKept(t *testing.T) {
	for _, c := range []struct {
		name     string
		watching bool
		between  func(m *Monitor)
		reads    int // kernel reads for two Snapshot calls
	}{
		{"without a subscription every snapshot reads the kernel", false, func(*Monitor) {}, 2},
		{"with a subscription and no change the snapshot is kept", true, func(*Monitor) {}, 1},
		{"a change invalidates it", true, func(m *Monitor) { m.Invalidate() }, 2},
		{"an old snapshot is read again though no change came", true, func(m *Monitor) { m.last.At = time.Now().Add(-MaxAge) }, 2},
		{"a read-back always reads the kernel", true, func(m *Monitor) {
			if _, err := m.Fresh(); err != nil {
				t.Fatal(err)
			}
		}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, n := counting()
			m.watching.Store(c.watching)
			first, err := m.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			c.between(m)
			second, _ := m.Snapshot()
			if *n != c.reads {
				t.Errorf("%d kernel reads, want %d", *n, c.reads)
			}
			if kept := first == second; kept != (c.reads == 1) {
				t.Errorf("snapshot kept %v", kept)
			}
		})
	}
}

func TestAChangeDuringADumpMakesItStale(t *testing.T) {
	m, n := counting()
	m.watching.Store(true)
	read := m.read
	m.read = func() (*Snapshot, error) {
		s, err := read()
		if *n == 1 {
			m.Invalidate() // the event arrives while the links are listed
		}
		return s, err
	}
	m.Snapshot()
	m.Snapshot()
	if *n != 2 {
		t.Errorf("%d reads: a snapshot that may predate a change was kept", *n)
	}
}

func TestAFailedReadKeepsNothing(t *testing.T) {
	m, _ := counting()
	m.watching.Store(true)
	if _, err := m.Snapshot(); err != nil {
		t.Fatal(err)
	}
	m.Invalidate()
	m.read = func() (*Snapshot, error) { return nil, errors.New("netlink: no buffer space") }
	if _, err := m.Snapshot(); err == nil {
		t.Fatal("a failed read returned a snapshot")
	}
	if m.last != nil {
		t.Error("the snapshot before the failure is still kept")
	}
}

func TestEveryChangeInvalidatesBeforeItIsPassedOn(t *testing.T) {
	m, n := counting()
	in := make(chan links.Change)
	out := m.forward(in)
	if !m.watching.Load() {
		t.Fatal("not watching")
	}
	m.Snapshot()
	in <- links.Change{Index: 7, Addr: true}
	if c := <-out; c.Index != 7 {
		t.Fatalf("passed on %+v", c)
	}
	m.Snapshot()
	if *n != 2 {
		t.Errorf("%d reads: the change did not invalidate the snapshot", *n)
	}
	close(in)
	if _, ok := <-out; ok {
		t.Fatal("out still open after the subscription ended")
	}
	if m.watching.Load() {
		t.Error("still watching after the subscription ended")
	}
}

func TestAReaderThatFallsBehindLearnsItMissedChanges(t *testing.T) {
	m, _ := counting()
	in := make(chan links.Change)
	out := m.forward(in)
	for i := range 100 {
		in <- links.Change{Index: i + 1}
	}
	close(in)
	for m.watching.Load() {
		time.Sleep(time.Millisecond) // until the last change is handled
	}
	var got []links.Change
	for c := range out {
		got = append(got, c)
	}
	if len(got) > 64 || !got[len(got)-1].Lost {
		t.Errorf("%d changes, last %+v: want at most 64, ending with Lost", len(got), got[len(got)-1])
	}
}
