// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// healthPort is where the agent serves health and metrics, on the
// namespace's own 127.0.0.1.
const healthPort = "8080"

// pollInterval is the agent's POLL_INTERVAL: short, so that database
// changes (which raise no kernel event) show up within the tour.
const pollInterval = "1s"

// agentProc is `multinic-agent run` inside the namespace, logging JSON to
// a file.
type agentProc struct {
	cmd     *exec.Cmd
	Log     string
	Env     []string
	exited  chan struct{}
	waitErr error
}

// startAgent runs the agent binary as a daemon inside the namespace.
func startAgent(bin, ns, dir, socket string) (*agentProc, error) {
	conf := dir + "/config.env"
	if err := os.WriteFile(conf, []byte("# empty: the demo sets everything in the environment\n"), 0o600); err != nil {
		return nil, err
	}
	// The host's os-release, so the agent reports this machine's OS; the
	// backend is set explicitly.
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if err := os.MkdirAll(dir+"/root/etc", 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dir+"/root/etc/os-release", b, 0o644); err != nil {
			return nil, err
		}
	}
	logFile := dir + "/agent.log"
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := []string{
		"NODE_NAME=" + nodeName,
		"DB_SOCKET=" + socket, "DB_USER=root", "DB_NAME=" + dbName,
		"ROOT_DIR=" + dir + "/root",
		"NETWORK_BACKEND=netplan", "ACTIVATE=auto",
		"POLL_INTERVAL=" + pollInterval, "POLL_JITTER=0",
		"HEALTH_ADDR=127.0.0.1", "HEALTH_PORT=" + healthPort,
		// Debug: every cycle is logged with its trigger, in sync or not.
		"LOG_FORMAT=json", "LOG_LEVEL=debug",
	}
	a := &agentProc{Log: logFile, Env: env, exited: make(chan struct{})}
	a.cmd = exec.Command("ip", "netns", "exec", ns, bin, "run", "--config", conf)
	// Only what is set here: no DB_* or other key from the caller's
	// environment leaks in.
	a.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	a.cmd.Stdout, a.cmd.Stderr = f, f
	// Its own process group: a Ctrl-C reaches the demo, which stops the
	// agent itself; if the demo dies, the kernel sends SIGTERM.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	go func() {
		a.waitErr = a.cmd.Wait()
		close(a.exited)
	}()
	return a, nil
}

// Exited returns an error once the agent has stopped.
func (a *agentProc) Exited() error {
	select {
	case <-a.exited:
		if a.waitErr == nil {
			return errors.New("the agent exited with status 0 instead of running as a daemon")
		}
		return fmt.Errorf("the agent exited: %v", a.waitErr)
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits, then kills.
func (a *agentProc) Stop() error {
	if a.Exited() != nil {
		return nil
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		if a.waitErr != nil {
			return fmt.Errorf("it did not exit cleanly on SIGTERM: %v", a.waitErr)
		}
		return nil
	case <-time.After(5 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
		return errors.New("did not stop within 5s of SIGTERM; killed")
	}
}

// logLine is one JSON line of the agent's log.
type logLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Msg     string    `json:"msg"`
	Trigger string    `json:"trigger"`
	Changed bool      `json:"changed"`
	Removed []string  `json:"removed"`
	Action  string    `json:"action"`
	Name    string    `json:"name"`
	Drift   string    `json:"drift"`
	Took    int64     `json:"duration_ms"`
	Error   string    `json:"error"`
}

// LogSize is the log's current length, to read what a step added.
func (a *agentProc) LogSize() int64 {
	st, err := os.Stat(a.Log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// LogSince returns the JSON lines written after offset.
func (a *agentProc) LogSince(offset int64) []logLine {
	b, err := os.ReadFile(a.Log)
	if err != nil || int64(len(b)) < offset {
		return nil
	}
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b[offset:]))
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// Tail returns the last n lines of the log, for a failed step.
func (a *agentProc) Tail(n int) string {
	b, _ := os.ReadFile(a.Log)
	if len(bytes.TrimSpace(b)) == 0 {
		return "(none)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isCycle reports whether the line ends a reconcile ("reconcile finished"
// when it changed something, "reconcile finished: in sync" otherwise).
func (l logLine) isCycle() bool { return strings.HasPrefix(l.Msg, "reconcile finished") }

// reconciles are the cycles since offset that changed something.
func (a *agentProc) reconciles(offset int64) []logLine {
	var out []logLine
	for _, l := range a.LogSince(offset) {
		if l.isCycle() && l.Changed {
			out = append(out, l)
		}
	}
	return out
}
