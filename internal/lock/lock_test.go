// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package lock

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondAcquireIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "agent.lock")
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in the same
	// process conflicts exactly as another process would.
	_, err = Acquire(p)
	if err == nil || !strings.Contains(err.Error(), "another multinic-agent instance (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second acquire: %v", err)
	}
	l.Release()
	l2, err := Acquire(p)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}
