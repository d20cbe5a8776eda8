// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
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
	cmd.Env = childEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// passed are the variables of the agent's environment that the tools
// get: what they need to find their programs, their daemons and their
// language. Nothing of the agent's own (its settings, which systemd's
// EnvironmentFile= puts in the environment, DB_PASSWORD first; systemd's
// notification and watchdog variables) reaches them.
var passed = []string{"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "DBUS_SYSTEM_BUS_ADDRESS"}

// childEnv returns the entries of env (KEY=VALUE) that a tool gets.
func childEnv(env []string) []string {
	out := make([]string, 0, len(passed))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		if slices.Contains(passed, k) || strings.HasPrefix(k, "LC_") {
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

// RunIsolated runs a tool like Run, in a mount namespace of its own whose
// mounts are private: what the tool mounts there (to mask the host's
// programs, say) never reaches the agent's or the host's mount table. The
// tool's own output, when it fails, is the error. Where no mount namespace
// can be made (no CAP_SYS_ADMIN, or the unit's RestrictNamespaces=), the
// error wraps ErrUnavailable: the tool is not run at all.
func RunIsolated(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := command(ctx, name, args...)
	// The child unshares before exec, and Go makes every mount in it
	// private (MS_REC|MS_PRIVATE on /) in the same step.
	cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("%w: no mount namespace of its own for %s (%v)", ErrUnavailable, name, err)
		}
		return toolError(name, args, err, "")
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if msg := strings.TrimSpace(out.String()); msg != "" && errors.As(err, &ee) && ctx.Err() == nil {
			if len(msg) > 2000 {
				msg = msg[:2000] + "…"
			}
			return errors.New(msg)
		}
		return toolError(name, args, err, out.String())
	}
	return nil
}

func toolError(name string, args []string, err error, output string) error {
	msg := strings.TrimSpace(output)
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
}
