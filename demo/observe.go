// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

var managedName = regexp.MustCompile(`^multinic[0-9]$`)

// converged reports whether every row is true on the node: its NIC
// renamed, up, with the row's MTU and address, and netplan_success = 1.
// When not, it says what is still missing.
func (t *tour) converged(ctx context.Context) (bool, string, error) {
	rows, err := readRows(ctx, t.db)
	if err != nil {
		return false, "", err
	}
	links, err := t.node.NICs()
	if err != nil {
		return false, "", err
	}
	for _, r := range rows {
		l, ok := byMAC(links, r.MAC)
		switch {
		case !ok:
			return false, fmt.Sprintf("row %d: no NIC with MAC %s", r.ID, r.MAC), nil
		case !managedName.MatchString(l.Name):
			return false, fmt.Sprintf("row %d: the NIC is still called %s", r.ID, l.Name), nil
		case !l.Up():
			return false, fmt.Sprintf("row %d: %s is down", r.ID, l.Name), nil
		case r.MTU.Valid && int64(l.MTU) != r.MTU.Int64:
			return false, fmt.Sprintf("row %d: %s has MTU %d, the row says %d", r.ID, l.Name, l.MTU, r.MTU.Int64), nil
		}
		want, got := r.Prefix(), l.Global()
		if (want == "" && len(got) > 0) || (want != "" && !slices.Equal(got, []string{want})) {
			return false, fmt.Sprintf("row %d: %s has addresses %v, the row says %q", r.ID, l.Name, got, want), nil
		}
		if r.Success.Int64 != 1 {
			return false, fmt.Sprintf("row %d: netplan_success is %d", r.ID, r.Success.Int64), nil
		}
	}
	return true, "", nil
}

// waitFor polls cond every 20 ms from since until it holds, the step's
// deadline passes, the agent exits or the demo is interrupted. It returns
// the time from since to the first observation.
func (t *tour) waitFor(ctx context.Context, since time.Time, cond func() (bool, string, error)) (time.Duration, error) {
	deadline := since.Add(t.timeout)
	for {
		ok, why, err := cond()
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Since(since), nil
		}
		if t.agent != nil {
			if err := t.agent.Exited(); err != nil {
				return 0, fmt.Errorf("%v; last seen: %s", err, why)
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not observed within %s; last seen: %s", t.timeout, why)
		}
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// triggers waits for the agent to log the cycles that made the change seen
// since offset (a cycle is logged after activation and verification, the
// change may be seen before) and returns them.
func (t *tour) triggers(ctx context.Context, offset int, want func(logLine) bool) []logLine {
	for end := time.Now().Add(t.timeout); time.Now().Before(end); {
		var out []logLine
		for _, l := range t.agent.reconciles(offset) {
			if want == nil || want(l) {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// because says in words which agent cycles made a change and what
// started them.
func because(cycles []logLine) string {
	if len(cycles) == 0 {
		return "the agent logged no cycle that changed something"
	}
	var parts []string
	for _, c := range cycles {
		switch c.Trigger {
		case "poll":
			parts = append(parts, fmt.Sprintf("applied by a poll cycle (%d ms): a database change raises no kernel event; the agent polls every POLL_INTERVAL=%s", c.Took, pollInterval))
		case "netlink":
			parts = append(parts, fmt.Sprintf("applied by a cycle the kernel's netlink event triggered (%d ms, after the agent's 200 ms debounce)", c.Took))
		case "start":
			parts = append(parts, fmt.Sprintf("applied by the agent's first cycle (%d ms)", c.Took))
		default:
			parts = append(parts, fmt.Sprintf("applied by a %q cycle (%d ms)", c.Trigger, c.Took))
		}
	}
	return strings.Join(parts, "; ")
}

// quiet is how long after a poll no other cycle may have ended for the
// agent to count as idle: more than the agent's 200 ms netlink debounce.
const quiet = 500 * time.Millisecond

// settle waits until the agent and the kernel are idle: no IPv6 address is
// in duplicate address detection (whose end is a kernel event) and the
// last cycle the agent logged is a poll that ended since then, at least
// the quiet time ago. The next change is then picked up by what it causes
// (a kernel event at once, a database change at the next poll) rather than
// by a cycle already under way, such as one the agent's own link changes
// trigger.
func (t *tour) settle(ctx context.Context) error {
	off := t.agent.LineCount()
	var calm time.Time
	_, err := t.waitFor(ctx, time.Now(), func() (bool, string, error) {
		links, err := t.node.NICs()
		if err != nil {
			return false, "", err
		}
		for _, l := range links {
			if l.Tentative() {
				calm = time.Time{}
				return false, l.Name + " has an IPv6 address in duplicate address detection", nil
			}
		}
		if calm.IsZero() {
			calm = time.Now()
		}
		var last *logLine
		lines := t.agent.LogSince(off)
		for k := range lines {
			if lines[k].isCycle() {
				last = &lines[k]
			}
		}
		switch {
		case last == nil || last.Trigger != "poll" || last.Time.Before(calm):
			return false, "the agent logged no poll cycle after its last other cycle", nil
		case time.Since(last.Time) < quiet:
			return false, "the agent did not stay idle for " + quiet.String(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the agent to be idle: %w", err)
	}
	return nil
}

// files returns the agent's files under ROOT_DIR/etc, path -> content.
func (t *tour) files() map[string]string {
	root := filepath.Join(t.dir, "root")
	out := map[string]string{}
	filepath.WalkDir(filepath.Join(root, "etc"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), "# Managed by multinic-agent") {
			rel, _ := filepath.Rel(root, p)
			out["/"+rel] = string(b)
		}
		return nil
	})
	return out
}

// fileFor returns the path of the agent's file that names mac.
func fileFor(files map[string]string, mac string) string {
	var names []string
	for p, c := range files {
		if strings.Contains(strings.ToLower(c), mac) {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func round(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}
