// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/plan"
)

const statusSummary = "Print this node's rows against the live state: name, MAC, address, MTU, what the kernel has, and the state (configured, pending, failed, drifted, nic-missing); exit 0 when every row is configured, 1 otherwise (also when no row names this node), 2 on a configuration or database error"

func runStatus(args []string, stdout, stderr io.Writer) int {
	cfg, code := commandConfig("status", statusSummary, args, stderr, 2)
	if cfg == nil {
		return code
	}
	if w := cfg.PermissionWarning(); w != "" {
		fmt.Fprintf(stderr, "multinic-agent status: warning: %s\n", w)
	}
	a, err := newAgent(cfg, quietLogger(cfg, stderr), nil)
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent status: %v\n", err)
		return 2
	}
	defer a.Close()
	p, err := a.rec.Plan(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "multinic-agent status: %v\n", err)
		return 2
	}
	daemon := daemonInterfaces(cfg)

	fmt.Fprintf(stdout, "node %s, backend %s\n\n", strings.Join(a.nodes, " / "), a.rec.Backend.Name())
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMAC\tADDRESS\tMTU\tLIVE\tSTATE")
	var notes []string
	all := true
	for _, it := range p.Ifaces {
		state, errText := it.State(), ""
		if it.Err != nil {
			errText = it.Err.Error()
		}
		// The daemon knows why a row with pending changes failed last time.
		if d, ok := daemon[it.Row.ID]; ok && d.State == plan.StateFailed && state != plan.StateConfigured && errText == "" {
			state, errText = plan.StateFailed, d.Error
		}
		if state != plan.StateConfigured {
			all = false
		}
		addr, mtu := "-", "-"
		if it.Want.Addr.IsValid() {
			addr = it.Want.Addr.String()
		}
		if it.Want.MTU > 0 {
			mtu = strconv.Itoa(it.Want.MTU)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Row.ID, orDash(it.Want.Name, ""), orDash(it.Want.MAC, it.Row.MAC), addr, mtu, live(it), state)
		if errText != "" {
			notes = append(notes, fmt.Sprintf("row %d: %s", it.Row.ID, strings.TrimPrefix(errText, fmt.Sprintf("row %d: ", it.Row.ID))))
		}
		for _, act := range it.Actions {
			notes = append(notes, fmt.Sprintf("row %d: pending: %s", it.Row.ID, act))
		}
	}
	tw.Flush()
	if len(p.Ifaces) == 0 {
		fmt.Fprintf(stdout, "(no rows for %s)\n", strings.Join(a.nodes, " or "))
		all = false
	}
	for _, o := range p.Orphans {
		notes = append(notes, fmt.Sprintf("%s (%s): its row is gone; %s", o.Name, orDash(o.MAC, ""), map[bool]string{true: "removed at the next reconcile", false: "removed if still absent from the next read"}[o.Confirmed]))
	}
	if len(notes) > 0 {
		fmt.Fprintln(stdout)
		for _, n := range notes {
			fmt.Fprintln(stdout, n)
		}
	}
	if len(p.Ifaces) == 0 {
		quoted := make([]string, len(a.nodes))
		for i, n := range a.nodes {
			quoted[i] = strconv.Quote(n)
		}
		fmt.Fprintf(stderr, "multinic-agent status: no multi_interface row has attached_node_name %s; set NODE_NAME to the name the controller uses (multinic-agent doctor lists names that look close).\n", strings.Join(quoted, " or "))
	}
	if !all {
		return 1
	}
	return 0
}

// live describes the NIC as the kernel has it.
func live(it plan.Iface) string {
	if it.Link == nil {
		return "(no NIC)"
	}
	l := it.Link
	up := "down"
	if l.Up {
		up = "up"
	}
	var addrs []string
	for _, a := range l.Addrs {
		addrs = append(addrs, a.String())
	}
	if len(addrs) == 0 {
		addrs = []string{"no address"}
	}
	return fmt.Sprintf("%s %s mtu %d %s", l.Name, up, l.MTU, strings.Join(addrs, ","))
}

// daemonInterfaces asks a running daemon's health endpoint for its last
// view of the rows; nil when none answers.
func daemonInterfaces(cfg *config.Config) map[int64]health.Interface {
	if cfg.HealthPort == 0 {
		return nil
	}
	host := cfg.HealthAddr
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, strconv.Itoa(cfg.HealthPort)) + "/")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Interfaces []health.Interface `json:"interfaces"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	out := map[int64]health.Interface{}
	for _, i := range body.Interfaces {
		out[i.ID] = i
	}
	return out
}

// quietLogger logs warnings and errors only, to w: for commands whose
// output is a report.
func quietLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	c := *cfg
	c.LogLevel = max(cfg.LogLevel, slog.LevelWarn)
	return newLogger(&c, w)
}
