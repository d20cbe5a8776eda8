// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/config"
)

// toolTimeout bounds every tool the agent runs.
const toolTimeout = 60 * time.Second

// command prepares a run of one of the tools the agent runs (netplan,
// networkctl, nmcli, ifup), the one way every tool is started (Run and
// Output): it must not outlive the agent (killed with -9, say; the next
// start runs the activation again instead), and its environment is the
// agent's without the agent's own settings (DB_PASSWORD and every other
// configuration key, which systemd's EnvironmentFile= puts in the
// environment) and without systemd's notification and watchdog variables,
// which are for the agent alone.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = ChildEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// childOnly are the variables of the agent's environment that no tool gets,
// besides the configuration keys.
var childOnly = []string{"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"}

// ChildEnv returns env (KEY=VALUE entries) without the agent's
// configuration keys and the variables in childOnly.
func ChildEnv(env []string) []string {
	drop := map[string]bool{}
	for _, k := range config.Keys() {
		drop[k] = true
	}
	for _, k := range childOnly {
		drop[k] = true
	}
	out := make([]string, 0, len(env))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		if !drop[k] {
			out = append(out, e)
		}
	}
	return out
}

// Run executes an activation command with a timeout and returns an error
// carrying its output when it fails.
func Run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := command(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return toolError(name, args, err, out.String())
	}
	return nil
}

// Output runs a query tool like Run and returns its standard output.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := command(ctx, name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", toolError(name, args, err, stderr.String())
	}
	return out.String(), nil
}

func toolError(name string, args []string, err error, output string) error {
	msg := strings.TrimSpace(output)
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
}
