package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
)

// state is what a restart must not forget: the owned files whose rows were
// absent in the last successful read (removal needs two such reads).
type state struct {
	Absent []string `json:"absent"`
}

func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading agent state: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		// Forgetting it only delays a removal by one read.
		return &state{}, nil
	}
	return &s, nil
}

func (s *state) absentSet() map[string]bool {
	m := make(map[string]bool, len(s.Absent))
	for _, p := range s.Absent {
		m[p] = true
	}
	return m
}

// save records absent, writing the file only when it changes.
func (s *state) save(path string, absent []string) error {
	if slices.Equal(s.Absent, absent) {
		return nil
	}
	data, err := json.Marshal(state{Absent: absent})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	s.Absent = absent
	return nil
}
