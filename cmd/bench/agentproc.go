// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// stopWithin is how long an agent may take to exit on SIGTERM.
const stopWithin = 15 * time.Second

// agentProc is one `multinic-agent run` inside a namespace. Its output is
// a pipe, as under systemd (journald), read line by line.
type agentProc struct {
	*harness.Agent
	Port int
	ns   *harness.Netns
}

// agentEnv is what every agent of the harness runs with.
type agentEnv struct {
	Binary, Socket, DB, Node, Root, Config string
	Interval                               string
	LogLevel                               string
	Port                                   int
	Extra                                  []string
}

func (e agentEnv) vars() []string {
	level := e.LogLevel
	if level == "" {
		level = "warn"
	}
	return append([]string{
		"DB_SOCKET=" + e.Socket, "DB_USER=root", "DB_NAME=" + e.DB, "NODE_NAME=" + e.Node,
		"ROOT_DIR=" + e.Root, "NETWORK_BACKEND=netplan", "POLL_INTERVAL=" + e.Interval, "POLL_JITTER=0",
		"HEALTH_PORT=" + fmt.Sprint(e.Port), "LOG_LEVEL=" + level,
	}, e.Extra...)
}

// commandLine is the agent's command as an operator would type it.
func (e agentEnv) commandLine(ns string) string {
	return strings.Join(e.vars(), " ") + " ip netns exec " + ns + " multinic-agent run --config " + e.Config
}

func startAgent(ns *harness.Netns, e agentEnv) (*agentProc, error) {
	if err := os.MkdirAll(e.Root, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(e.Config); err != nil {
		if err := os.WriteFile(e.Config, nil, 0o600); err != nil {
			return nil, err
		}
	}
	a, err := harness.StartAgent(ns, harness.AgentConfig{Env: e.vars()}, e.Binary, "run", "--config", e.Config)
	if err != nil {
		return nil, err
	}
	atExit(a.Kill)
	return &agentProc{Agent: a, Port: e.Port, ns: ns}, nil
}

// cycles is multinic_polling_cycles_total.
func (a *agentProc) cycles() (float64, error) {
	return metric(a.ns, a.Port, "multinic_polling_cycles_total")
}
