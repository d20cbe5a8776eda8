// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// healthPort is where the agent serves health and metrics, on the
// namespace's own 127.0.0.1.
const healthPort = "8080"

// pollInterval is the agent's POLL_INTERVAL: short, so that database
// changes (which raise no kernel event) show up within the tour.
const pollInterval = "1s"

// agentProc is `multinic-agent run` inside the namespace (harness.Agent),
// its JSON log also written to a file.
type agentProc struct {
	*harness.Agent
	Log string
	Env []string
}

// startAgent runs the agent binary as a daemon inside the namespace.
func startAgent(bin string, ns *harness.Netns, dir, socket string) (*agentProc, error) {
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
	// Only what is set here: no DB_* or other key from the caller's
	// environment leaks in.
	a, err := harness.StartAgent(ns, harness.AgentConfig{Env: env, Log: f}, bin, "run", "--config", conf)
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		<-a.Done()
		f.Close()
	}()
	return &agentProc{Agent: a, Log: logFile, Env: env}, nil
}

// Stop sends SIGTERM and waits, then kills.
func (a *agentProc) Stop() error { return a.Agent.Stop(5 * time.Second) }

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

// LogSince returns the JSON lines written after the first offset lines
// (offset from LineCount).
func (a *agentProc) LogSince(offset int) []logLine {
	var out []logLine
	for _, line := range a.Lines(offset) {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// isCycle reports whether the line ends a reconcile ("reconcile finished"
// when it changed something, "reconcile finished: in sync" otherwise).
func (l logLine) isCycle() bool { return strings.HasPrefix(l.Msg, "reconcile finished") }

// reconciles are the cycles since offset that changed something.
func (a *agentProc) reconciles(offset int) []logLine {
	var out []logLine
	for _, l := range a.LogSince(offset) {
		if l.isCycle() && l.Changed {
			out = append(out, l)
		}
	}
	return out
}
