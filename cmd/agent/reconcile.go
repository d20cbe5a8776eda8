// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/control"
	"github.com/multinic-agent/multinic-agent/internal/health"
)

const reconcileSummary = "Ask the running daemon for a cycle now (over a socket next to LOCK_FILE that only root can use) and print that cycle's result: each row's state and error; exit 0 when every row converged, 1 when some row failed, 2 when the cycle could not run (configuration, database) or no daemon runs. Requests are served by a cycle that starts after them, at most one a second however many ask"

func runReconcile(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("reconcile", reconcileSummary, args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent reconcile: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, health.MaxReconcileWait+10*time.Second)
	defer cancel()
	sent := time.Now()
	res, err := control.Ask(ctx, control.SocketPath(cfg.RootDir.Path(cfg.LockFile)))
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent reconcile: %v\n", err)
		return 2
	}
	printResult(stdout, res, sent)
	if res.Error != "" {
		fmt.Fprintf(stderr, "multinic-agent reconcile: the cycle could not run: %s\n", res.Error)
	}
	return res.Exit
}

// printResult shows a cycle's result as `status` shows rows.
func printResult(w io.Writer, res health.CycleResult, sent time.Time) {
	var what []string
	what = append(what, fmt.Sprintf("%d rows", res.Rows), fmt.Sprintf("%d failed", res.Failed))
	if res.Changed {
		what = append(what, "changed")
	}
	if len(res.Removed) > 0 {
		what = append(what, "removed "+strings.Join(res.Removed, ", "))
	}
	fmt.Fprintf(w, "cycle (%s) started %s after the request and took %d ms: %s\n", res.Trigger,
		max(res.Started.Sub(sent), 0).Round(time.Millisecond), res.DurationMs, strings.Join(what, ", "))
	if res.Error != "" {
		fmt.Fprintf(w, "the rows as the last cycle that read them left them:\n")
	}
	if len(res.Interfaces) == 0 {
		fmt.Fprintln(w, "no row names this node")
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMAC\tADDRESS\tMTU\tSTATE")
	var notes []string
	for _, i := range res.Interfaces {
		mtu := "-"
		if i.MTU > 0 {
			mtu = strconv.Itoa(i.MTU)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i.ID, orDash(i.Name, ""), orDash(i.MAC, ""), orDash(i.Address, ""), mtu, i.State)
		if i.Error != "" {
			notes = append(notes, fmt.Sprintf("row %d: %s", i.ID, strings.TrimPrefix(i.Error, fmt.Sprintf("row %d: ", i.ID))))
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}
