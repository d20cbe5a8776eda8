// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

const reconcileToken = "test-token-5c1e0d2b7a9f4e33"

// postReconcile sends POST /reconcile to the daemon in the node's namespace.
func postReconcile(c *http.Client, auth string) (int, health.CycleResult, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/reconcile", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, health.CycleResult{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res health.CycleResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &res); err != nil {
			return resp.StatusCode, res, fmt.Errorf("%v: %s", err, body)
		}
	}
	return resp.StatusCode, res, nil
}

// TestReconcileOnRequest: `multinic-agent reconcile` gets a cycle now (the
// poll is a minute away) and prints that cycle's result with the exit
// status of once; a burst of callers, on the socket and over HTTP, makes
// the agent read the database at most once a second; POST /reconcile
// without the token is refused and reads nothing.
func TestReconcileOnRequest(t *testing.T) {
	n := newNode(t)
	proxy := testenv.NewProxy(t, n.db.Socket)
	n.setEnv("DB_SOCKET=" + proxy.Path)

	code, _, stderr := n.run("reconcile")
	if code != 2 || !strings.Contains(stderr, "no multinic-agent daemon is running") {
		t.Fatalf("without a daemon: exit %d\n%s", code, stderr)
	}

	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:11:01")
	n.ns.AddNIC(t, "ens5", "fa:16:3e:00:11:02")
	// No jitter: the first poll comes after the whole interval, not at a
	// random moment that may fall in the burst below and count as a read.
	d := n.startDaemon("POLL_INTERVAL=60s", "POLL_JITTER=0", "RECONCILE_TOKEN="+reconcileToken)
	d.waitNotify(t, "READY=1", 10*time.Second)
	sock := filepath.Join(n.root, "run/multinic-agent.sock")
	st, err := os.Lstat(sock)
	if err != nil || st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("the daemon's socket %s: %v %v", sock, st, err)
	}

	// A row written after the daemon's first read.
	id := n.db.AddRow(t, "node1", "fa:16:3e:00:11:01", "s4", "10.30.0.111", 1400)
	code, out, stderr := n.run("reconcile")
	if code != 0 || !strings.Contains(out, "1 rows, 0 failed, changed") || !regexpLine(out, `^1 +multinic0 +fa:16:3e:00:11:01 +10\.30\.0\.111/24 +1400 +configured$`) {
		t.Fatalf("reconcile after a new row: exit %d\n%s%s", code, out, stderr)
	}
	if n.db.Success(t, id) != 1 {
		t.Error("reconcile returned before the row was reported")
	}
	if l := n.ns.Link(t, "multinic0"); l.MTU != 1400 || len(l.Addrs) != 1 {
		t.Errorf("reconcile returned before the link was set: %+v", l)
	}

	// A row that fails: exit 1, its reason printed.
	bad := n.db.AddRow(t, "node1", "fa:16:3e:00:11:02", "s4", "10.99.0.5", nil)
	code, out, _ = n.run("reconcile")
	if code != 1 || !strings.Contains(out, "2 rows, 1 failed") || !strings.Contains(out, fmt.Sprintf("row %d: ", bad)) {
		t.Fatalf("reconcile with a failing row: exit %d\n%s", code, out)
	}
	n.db.Exec(t, "DELETE FROM multi_interface WHERE id = ?", bad)

	// Refused without the token: no cycle, no read.
	time.Sleep(1500 * time.Millisecond) // the cycles the changes above trigger pass
	c := n.ns.HTTPClient()
	before := metricValue(t, n, reads)
	for _, auth := range []string{"", "Bearer wrong-token-0000000000", "Bearer " + reconcileToken[:10]} {
		if code, _, err := postReconcile(c, auth); code != http.StatusUnauthorized {
			t.Errorf("POST /reconcile with %q: %d %v", auth, code, err)
		}
	}
	if got := metricValue(t, n, reads); got != before {
		t.Errorf("refused requests read the database %v times", got-before)
	}

	// A burst: 24 callers over a second and a half, half of them on the
	// socket, half over HTTP.
	const callers = 24
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		starts  []time.Time
		failure []string
	)
	begin := time.Now()
	for k := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(k) * 1500 * time.Millisecond / callers)
			if k%2 == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := n.ns.Exec(ctx, n.env, binary, "reconcile", "--config", n.conf)
				var o bytes.Buffer
				cmd.Stdout, cmd.Stderr = &o, &o
				if err := cmd.Run(); err != nil {
					mu.Lock()
					failure = append(failure, fmt.Sprintf("reconcile: %v\n%s", err, o.String()))
					mu.Unlock()
				}
				return
			}
			code, res, err := postReconcile(c, "Bearer "+reconcileToken)
			mu.Lock()
			defer mu.Unlock()
			if code != http.StatusOK || err != nil || res.Exit != 0 {
				failure = append(failure, fmt.Sprintf("POST /reconcile: %d %v %+v", code, err, res))
				return
			}
			if !res.Started.After(res.Requested) {
				failure = append(failure, fmt.Sprintf("served by a cycle that started at %s, before the request at %s", res.Started, res.Requested))
			}
			starts = append(starts, res.Started)
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	for _, f := range failure {
		t.Error(f)
	}
	got := metricValue(t, n, reads) - before
	if limit := math.Floor(elapsed.Seconds()) + 1; got < 1 || got > limit {
		t.Errorf("%d callers in %s caused %v reads; at most %v allowed", callers, elapsed.Round(time.Millisecond), got, limit)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	starts = slices.CompactFunc(starts, func(a, b time.Time) bool { return a.Equal(b) })
	for k := 1; k < len(starts); k++ {
		if gap := starts[k].Sub(starts[k-1]); gap < 990*time.Millisecond {
			t.Errorf("two requested cycles %s apart", gap)
		}
	}
	t.Logf("%d callers in %s: %v database reads, %d distinct cycles served the HTTP callers", callers, elapsed.Round(time.Millisecond), got, len(starts))

	// The database gone: exit 2, saying so.
	proxy.Cut()
	code, out, stderr = n.run("reconcile")
	if code != 2 || !strings.Contains(stderr, "the cycle could not run: reading multi_interface rows") {
		t.Errorf("reconcile without the database: exit %d\n%s%s", code, out, stderr)
	}
	proxy.Restore()

	// Stopped: the socket is gone and reconcile says no daemon runs.
	d.Signal(syscall.SIGTERM)
	select {
	case <-d.Done():
		if err := d.Err(); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket outlived the daemon: %v", err)
	}
	if code, _, stderr := n.run("reconcile"); code != 2 || !strings.Contains(stderr, "no multinic-agent daemon is running") {
		t.Errorf("after the daemon stopped: exit %d\n%s", code, stderr)
	}
}

// TestReconcileSocketIsRootsOnly: another user can neither connect to the
// socket nor get a cycle through it.
func TestReconcileSocketIsRootsOnly(t *testing.T) {
	setpriv := testenv.RequireTool(t, "setpriv")
	n := newNode(t)
	n.ns.AddNIC(t, "ens4", "fa:16:3e:00:12:01")
	n.db.AddRow(t, "node1", "fa:16:3e:00:12:01", "s4", "10.30.0.121", nil)
	d := n.startDaemon("POLL_INTERVAL=60s")
	d.waitNotify(t, "READY=1", 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	before := metricValue(t, n, reads)
	// The settings come from the environment: the test's config file is
	// root's.
	open, err := os.MkdirTemp("", "multinic-reconcile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	os.Chmod(open, 0o755)
	conf := filepath.Join(open, "config.env")
	os.WriteFile(conf, nil, 0o644)
	os.Chmod(filepath.Dir(binary), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := n.ns.Exec(ctx, n.env, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", binary, "reconcile", "--config", conf)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "only root may ask the agent to reconcile") {
		t.Errorf("reconcile as nobody: %v\n%s", err, out)
	}
	if got := metricValue(t, n, reads); got != before {
		t.Errorf("a refused caller caused %v reads", got-before)
	}
}

// regexpLine reports whether some line of s matches the expression.
func regexpLine(s, expr string) bool {
	re := regexp.MustCompile(expr)
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
