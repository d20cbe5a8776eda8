// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// runAsDemo makes the test binary act as multinic-demo, so that the tests
// run the tour as a process of its own, which they can signal.
const runAsDemo = "MULTINIC_DEMO_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsDemo) == "1" {
		os.Exit(demo(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	harness.RemoveBuilt()
	os.Exit(code)
}

// requirePrivileged skips without root and iproute2, or fails when
// MULTINIC_REQUIRE_PRIVILEGED=1 (scripts/test.sh sets it for root): the
// convention of the root module's internal/testenv.
func requirePrivileged(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "the demo needs root for a network namespace"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "the demo needs iproute2 (ip)"
	}
	if reason == "" {
		return
	}
	if os.Getenv("MULTINIC_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("%s (MULTINIC_REQUIRE_PRIVILEGED=1 forbids skipping)", reason)
	}
	t.Skip(reason)
}

// agent builds the real agent from the repository root, once per run.
func agent(t *testing.T) string {
	t.Helper()
	bin, err := harness.BuiltAgent()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type demoProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

// start runs the tour as its own process with the given agent binary.
func start(t *testing.T, agentPath string) *demoProc {
	t.Helper()
	p := &demoProc{out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-agent", agentPath, "-schema", "../schema/schema.sql")
	p.cmd.Env = append(os.Environ(), runAsDemo+"=1", "DEMO_KEEP=")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("demo output:\n%s", p.out.String())
		}
	})
	return p
}

// wait returns the exit status, failing the test after within.
func (p *demoProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("the demo did not end within %s", within)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// waitOutput waits until the output contains s.
func (p *demoProc) waitOutput(t *testing.T, s string, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.out.String(), s) {
			return
		}
	}
	t.Fatalf("no %q in the output within %s", s, within)
}

var tempDir = regexp.MustCompile(`(/\S+/multinic-demo-\d+)/mysql\.sock`)

// assertCleanedUp checks that the namespace, the temporary directory and
// every process using it (the agent) are gone.
func (p *demoProc) assertCleanedUp(t *testing.T) {
	t.Helper()
	ns := "multinic-demo-" + strconv.Itoa(p.cmd.Process.Pid)
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(list), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == ns {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	m := tempDir.FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatal("no temporary directory named in the output")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("%s left behind (%v)", m[1], err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range procs {
		if b, err := os.ReadFile(c); err == nil && bytes.Contains(b, []byte(m[1])) {
			t.Errorf("a process still runs with %s: %s", m[1], bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// TestTour runs the whole tour against the real agent, as `make demo`
// does, and expects every step observed and everything removed.
func TestTour(t *testing.T) {
	requirePrivileged(t)
	p := start(t, agent(t))
	if code := p.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	out := p.out.String()
	for k := 1; k <= 9; k++ {
		if !strings.Contains(out, "["+strconv.Itoa(k)+"/9]") {
			t.Errorf("step %d/9 missing from the output", k)
		}
	}
	if n := strings.Count(out, "\n  ok, "); n != 9 {
		t.Errorf("%d steps ok, want 9", n)
	}
	for _, want := range []string{
		"All 9 steps observed",
		"multinic0  fa:16:3e:de:00:01  9000  UP     10.20.0.11/24",
		"applied by a poll cycle",
		"applied by a cycle the kernel's netlink event triggered",
		`"status": "healthy"`,
		"multinic_orphaned_interfaces_deleted_total 1",
		"Cleaned up: agent stopped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	p.assertCleanedUp(t)
}

// TestInterrupted stops the tour with SIGINT while the agent runs: the
// demo exits 130 and leaves nothing behind.
func TestInterrupted(t *testing.T) {
	requirePrivileged(t)
	p := start(t, agent(t))
	p.waitOutput(t, "[4/9]", 60*time.Second)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 15*time.Second); code != 130 {
		t.Errorf("exit status %d after SIGINT, want 130", code)
	}
	if out := p.out.String(); !strings.Contains(out, "interrupted by SIGINT during step 4/9") || !strings.Contains(out, "Cleaned up: agent stopped") {
		t.Errorf("no interruption or cleanup reported")
	}
	p.assertCleanedUp(t)
}

// TestFailedStep runs the tour with an "agent" that exits at once: the
// demo names the step that failed, exits 1 and cleans up.
func TestFailedStep(t *testing.T) {
	requirePrivileged(t)
	fake := filepath.Join(t.TempDir(), "multinic-agent")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, fake)
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if out := p.out.String(); !strings.Contains(out, "FAILED at step 3/9 (The agent starts as a daemon inside the namespace): the agent exited with status 0") {
		t.Errorf("the failed step is not named")
	}
	p.assertCleanedUp(t)
}
