// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func TestSocketPathIsNextToTheLock(t *testing.T) {
	for lock, want := range map[string]string{
		"/run/multinic-agent.lock":            "/run/multinic-agent.sock",
		"/host/run/multinic-agent.lock":       "/host/run/multinic-agent.sock",
		"/var/lock/agent":                     "/var/lock/agent.sock",
		"/tmp/root-x/run/multinic-agent.lock": "/tmp/root-x/run/multinic-agent.sock",
	} {
		if got := SocketPath(lock); got != want {
			t.Errorf("SocketPath(%s) = %s, want %s", lock, got, want)
		}
	}
}

// TestListenReplacesOnlyAStaleSocket: a socket a killed daemon left is
// replaced; any other file at the path is an error and stays.
func TestListenReplacesOnlyAStaleSocket(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := Listen(stale)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	defer ln.Close()
	if st, err := os.Stat(stale); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v %v", st.Mode(), err)
	}

	file := filepath.Join(dir, "file.sock")
	os.WriteFile(file, []byte("keep"), 0o644)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("the regular file was changed")
	}
}

// TestAskGetsTheCyclesResult: the answer is what the trigger returned for
// this request; a trigger that fails (the daemon stopping) is an error.
func TestAskGetsTheCyclesResult(t *testing.T) {
	testenv.RequireRoot(t)
	path := filepath.Join(t.TempDir(), "a.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var fail atomic.Bool
	go Serve(ln, func(ctx context.Context) (health.CycleResult, error) {
		if fail.Load() {
			return health.CycleResult{}, errors.New("the agent is stopping")
		}
		return health.CycleResult{Trigger: "request", Started: time.Now(), Rows: 1, Exit: 0,
			Interfaces: []health.Interface{{ID: 7, Name: "multinic0", State: "configured"}}}, nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	res, err := Ask(context.Background(), path)
	if err != nil || res.Rows != 1 || len(res.Interfaces) != 1 || res.Interfaces[0].ID != 7 {
		t.Errorf("Ask: %+v %v", res, err)
	}
	fail.Store(true)
	if _, err := Ask(context.Background(), path); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("a failing trigger: %v", err)
	}
	ln.Close()
	if _, err := Ask(context.Background(), path); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no daemon: %v", err)
	}
}
