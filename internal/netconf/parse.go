// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/config"
)

var headerRow = regexp.MustCompile(`^` + regexp.QuoteMeta(Marker) + ` \(row (\d+)\)`)

// HeaderRow returns the row id recorded in an owned file's first line.
func HeaderRow(content []byte) (int64, error) {
	m := headerRow.FindSubmatch(content)
	if m == nil {
		return 0, errors.New("first line is not the multinic-agent header")
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// NormalMAC parses a MAC address and returns it lower-case, colon separated.
// Only 6-byte Ethernet addresses are accepted.
func NormalMAC(s string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not an Ethernet MAC address", s)
	}
	return hw.String(), nil
}

// ParsePrefix parses "address/len" as rendered in a file, keeping the host bits.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address/prefix", s)
	}
	return p, nil
}

// ParseMTU parses a file's MTU value.
func ParseMTU(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 68 || n > 65535 {
		return 0, fmt.Errorf("%q is not an MTU", s)
	}
	return n, nil
}

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
