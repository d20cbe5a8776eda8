// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
)

// state is what a restart must not forget, kept in StatePath.
type state struct {
	// AbsentSince holds the owned files whose rows were absent from the
	// last successful read, with the time of the first read they were
	// absent from: removal needs two such reads in a row, far enough apart.
	AbsentSince map[string]time.Time `json:"absent_since,omitempty"`
	// Absent is the list an older agent kept; read, never written.
	Absent []string `json:"absent,omitempty"`
	// Activate lists the interfaces whose files were being changed: if the
	// agent dies before their activation ran, the next start runs it.
	Activate []string `json:"activate,omitempty"`

	path    string
	written []byte
	// problem is why the file cannot be read or written, when it cannot:
	// the state then lives in memory only (removals still need two reads
	// of this process), and health says so.
	problem error
}

// loadState reads the state; one that cannot be read is started empty,
// in memory, with the reason in problem.
func loadState(path string) *state {
	s := &state{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.written, _ = json.Marshal(s)
		return s
	}
	if err != nil {
		s.problem = fmt.Errorf("cannot read the agent's state %s (%w): removals need two reads of this run, and a crash loses a pending activation; make it a readable file or remove it", path, err)
		return s
	}
	// A damaged file only delays a removal by one read.
	json.Unmarshal(data, s)
	for _, p := range s.Absent {
		if _, ok := s.AbsentSince[p]; !ok {
			if s.AbsentSince == nil {
				s.AbsentSince = map[string]time.Time{}
			}
			s.AbsentSince[p] = time.Now()
		}
	}
	s.Absent = nil
	s.written = bytes.TrimSpace(data)
	return s
}

// confirmedAbsent returns the files whose rows have been absent since at
// least min ago: the next read without them removes them.
func (s *state) confirmedAbsent(now time.Time, min time.Duration) map[string]bool {
	if len(s.AbsentSince) == 0 {
		return nil
	}
	m := make(map[string]bool, len(s.AbsentSince))
	for p, since := range s.AbsentSince {
		if now.Sub(since) >= min {
			m[p] = true
		}
	}
	return m
}

// setAbsent records the files absent from this read, keeping the time of
// those already absent before.
func (s *state) setAbsent(paths []string, now time.Time) {
	if len(paths) == 0 {
		s.AbsentSince = nil
		return
	}
	next := make(map[string]time.Time, len(paths))
	for _, p := range paths {
		since, ok := s.AbsentSince[p]
		if !ok {
			since = now
		}
		next[p] = since.UTC()
	}
	s.AbsentSince = next
}

// emptyState is the state with nothing absent and nothing to activate.
const emptyState = "{}"

// save writes the state, only when it changed.
func (s *state) save() error {
	if len(s.AbsentSince) == 0 && len(s.Activate) == 0 && len(s.Absent) == 0 && string(s.written) == emptyState {
		return nil // the usual state, already written: nothing to encode
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if bytes.Equal(data, s.written) {
		return nil
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		s.problem = fmt.Errorf("cannot save the agent's state %s (%w): removals need two reads of this run, and a crash loses a pending activation; make it writable", s.path, err)
		return err
	}
	s.written, s.problem = data, nil
	return nil
}
