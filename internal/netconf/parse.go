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
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// Run executes an activation command with a timeout and returns an error
// carrying its output when it fails.
func Run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// A tool must not outlive the agent (killed with -9, say): the next
	// start runs the activation again instead.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}
