// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/multinic-agent/multinic-agent/internal/plan"
)

const planSummary = "Print what a reconcile would change (files with a diff, link changes, netplan_success updates) and change nothing: exit 0 in sync, 2 changes pending, 1 error or a row that cannot be applied now (bad data, a protected or missing NIC, a conflicting file)"

func runPlan(args []string, stdout, stderr io.Writer) int {
	cfg, code := commandConfig("plan", planSummary, args, stderr, 1)
	if cfg == nil {
		return code
	}
	if w := cfg.PermissionWarning(); w != "" {
		fmt.Fprintf(stderr, "multinic-agent plan: warning: %s\n", w)
	}
	// The plan is the output; logs go to stderr.
	a, err := newAgent(cfg, newLogger(cfg, stderr), nil)
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent plan: %v\n", err)
		return 1
	}
	defer a.Close()
	p, err := a.rec.Plan(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent plan: %v\n", err)
		return 1
	}
	printPlan(stdout, p)
	switch {
	case len(p.Blocked()) > 0:
		return 1
	case p.Pending():
		return 2
	}
	return 0
}

func printPlan(w io.Writer, p plan.Plan) {
	if len(p.Ifaces) == 0 && len(p.Orphans) == 0 {
		fmt.Fprintln(w, "No rows for this node and no interfaces to remove.")
	}
	for _, it := range p.Ifaces {
		name := it.Want.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(w, "row %d  %s  %s", it.Row.ID, name, orDash(it.Want.MAC, it.Row.MAC))
		if it.Link != nil && it.Link.Name != name {
			fmt.Fprintf(w, "  (now %s)", it.Link.Name)
		}
		fmt.Fprintf(w, "  %s\n", it.State())
		for _, c := range it.Claims {
			if !c.TakesEffect {
				fmt.Fprintf(w, "  note: %s also configures this NIC, but does not take effect on this node\n", c)
			}
		}
		switch {
		case it.Err != nil:
			fmt.Fprintf(w, "  error: %v\n", it.Err)
		case it.Link == nil:
			fmt.Fprintf(w, "  waiting: no NIC with MAC %s on this node; the row is applied when it appears\n", it.Want.MAC)
		}
		printActions(w, it.Actions)
		if want := it.WantSuccess(); want != it.Row.Success {
			fmt.Fprintf(w, "  set netplan_success %d -> %d\n", b2i(it.Row.Success), b2i(want))
		}
	}
	for _, o := range p.Orphans {
		fmt.Fprintf(w, "orphan %s  %s", o.Name, orDash(o.MAC, ""))
		switch {
		case o.Kept != "":
			fmt.Fprintf(w, "  kept: %s\n", o.Kept)
			continue
		case !o.Confirmed:
			fmt.Fprintln(w, "  row absent from this read; removed if still absent from the next one")
		default:
			fmt.Fprintln(w, "  row absent from two reads; removed")
		}
		printActions(w, o.Actions)
	}
	bad := p.Blocked()
	switch {
	case len(bad) > 0 && p.Pending():
		fmt.Fprintf(w, "Changes pending, and %d of %d rows cannot be applied now (see their lines above).\n", len(bad), len(p.Ifaces))
	case len(bad) > 0:
		fmt.Fprintf(w, "Not in sync: %d of %d rows cannot be applied now (see their lines above).\n", len(bad), len(p.Ifaces))
	case p.Pending():
		fmt.Fprintln(w, "Changes pending.")
	default:
		fmt.Fprintln(w, "In sync: nothing to change.")
	}
}

func printActions(w io.Writer, acts []plan.Action) {
	for _, a := range acts {
		fmt.Fprintf(w, "  %s", a)
		if a.Drift != "" {
			fmt.Fprintf(w, "  [drift: %s]", a.Drift)
		}
		fmt.Fprintln(w)
		if a.Touches() {
			continue
		}
		if a.Kind != plan.DeleteFile && a.Old != nil && a.OldMode != a.Mode {
			fmt.Fprintf(w, "    mode %04o -> %04o\n", a.OldMode, a.Mode)
		}
		diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(a.Old), B: lines(a.New),
			FromFile: "a" + a.Path, ToFile: "b" + a.Path, Context: 3,
		})
		for _, line := range strings.SplitAfter(strings.TrimRight(diff, "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(w, "    %s", strings.TrimRight(line, "\n")+"\n")
			}
		}
	}
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return difflib.SplitLines(string(b))
}

func orDash(s, fallback string) string {
	switch {
	case s != "":
		return s
	case fallback != "":
		return fallback
	}
	return "-"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
