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

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
)

// state is what a restart must not forget, kept in StatePath.
type state struct {
	// Absent lists the owned files whose rows were absent from the last
	// successful read: removal needs two such reads in a row.
	Absent []string `json:"absent,omitempty"`
	// Activate lists the interfaces whose files were being changed: if the
	// agent dies before their activation ran, the next start runs it.
	Activate []string `json:"activate,omitempty"`

	path    string
	written []byte
}

func loadState(path string) (*state, error) {
	s := &state{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.written, _ = json.Marshal(s)
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading agent state: %w", err)
	}
	// A damaged file only delays a removal by one read.
	json.Unmarshal(data, s)
	s.written = bytes.TrimSpace(data)
	return s, nil
}

func (s *state) absentSet() map[string]bool {
	m := make(map[string]bool, len(s.Absent))
	for _, p := range s.Absent {
		m[p] = true
	}
	return m
}

// save writes the state, only when it changed.
func (s *state) save() error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if bytes.Equal(data, s.written) {
		return nil
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	s.written = data
	return nil
}
