// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package lock

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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
	comm, _ := os.ReadFile("/proc/self/comm")
	if err == nil || !strings.Contains(err.Error(), "another multinic-agent instance (pid "+strconv.Itoa(os.Getpid())+", "+strings.TrimSpace(string(comm))+")") {
		t.Fatalf("second acquire: %v", err)
	}
	l.Release()
	l2, err := Acquire(p)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

func TestAcquireRefusesWhatIsNotItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "precious")
	os.WriteFile(victim, []byte("keep me\n"), 0o600)
	link := filepath.Join(dir, "agent.lock")
	os.Symlink(victim, link)
	if _, err := Acquire(link); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("a symlinked lock file: %v", err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep me\n" {
		t.Errorf("the symlink's target was written: %q", data)
	}
	fifo := filepath.Join(dir, "fifo.lock")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO as the lock file: %v", err)
	}
}
