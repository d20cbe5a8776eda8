// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildAgent builds the agent as `make build` does.
func buildAgent(dir string) (string, error) {
	if _, err := os.Stat("cmd/agent"); err != nil {
		return "", fmt.Errorf("run from the repository root or pass -agent BINARY: %w", err)
	}
	out := filepath.Join(dir, "multinic-agent")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/agent: %v: %s", err, b)
	}
	return out, nil
}

// agentProc is one `multinic-agent run` inside a namespace. Its stdout is a
// pipe, as under systemd (journald), read line by line by the harness.
type agentProc struct {
	cmd  *exec.Cmd
	PID  int
	Port int
	ns   *namespace
	mu   sync.Mutex
	log  []string
	done chan struct{}
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

func startAgent(ns *namespace, e agentEnv) (*agentProc, error) {
	if err := os.MkdirAll(e.Root, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(e.Config); err != nil {
		if err := os.WriteFile(e.Config, nil, 0o600); err != nil {
			return nil, err
		}
	}
	// ip netns exec execs the agent: the PID is the agent's.
	cmd := exec.Command("ip", "netns", "exec", ns.Name, e.Binary, "run", "--config", e.Config)
	cmd.Env = append(os.Environ(), e.vars()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agentProc{cmd: cmd, PID: cmd.Process.Pid, Port: e.Port, ns: ns, done: make(chan struct{})}
	atExit(func() { cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			a.mu.Lock()
			a.log = append(a.log, sc.Text())
			a.mu.Unlock()
		}
		cmd.Wait()
		close(a.done)
	}()
	// Wait until ip has exec'd the agent.
	exe, _ := filepath.EvalSymlinks(e.Binary)
	for range 200 {
		if p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", a.PID)); err == nil && p == exe {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return a, nil
}

// Log returns the lines the agent printed from index from on.
func (a *agentProc) Log(from int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if from > len(a.log) {
		return nil
	}
	return append([]string(nil), a.log[from:]...)
}

func (a *agentProc) LogLen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.log)
}

func (a *agentProc) alive() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for the agent to exit.
func (a *agentProc) Stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
}

// cycles is multinic_polling_cycles_total.
func (a *agentProc) cycles() (float64, error) {
	return a.ns.metric(a.Port, "multinic_polling_cycles_total")
}

// tail is the agent's last lines, for error messages.
func (a *agentProc) tail(n int) string {
	l := a.Log(0)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
