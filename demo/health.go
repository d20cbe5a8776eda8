// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// get fetches a path of the agent's health endpoint from inside the namespace.
func (t *tour) get(ctx context.Context, path string) (int, []byte, error) {
	url := "http://127.0.0.1:" + healthPort + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := t.node.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s inside namespace %s: %w", url, t.node.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (t *tour) health(ctx context.Context) (result, error) {
	start := time.Now()
	fmt.Fprintf(t.out, "  ip netns exec %s curl http://127.0.0.1:%s/   (here: a Go client that dials from inside the namespace)\n", t.node.Name, healthPort)
	code, body, err := t.get(ctx, "/")
	if err != nil {
		return result{}, err
	}
	var h struct {
		Status      string `json:"status"`
		DBConnected bool   `json:"database_connected"`
		Interfaces  []struct {
			ID    int64  `json:"id"`
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return result{}, fmt.Errorf("GET / answered %d with no JSON (%v): %s", code, err, body)
	}
	printJSON(t.out, body)
	rows, err := readRows(ctx, t.db)
	if err != nil {
		return result{}, err
	}
	if code != http.StatusOK || h.Status != "healthy" || !h.DBConnected || len(h.Interfaces) != len(rows) {
		return result{}, fmt.Errorf("GET / answered %d, status %q, database_connected %v, %d interfaces for %d rows", code, h.Status, h.DBConnected, len(h.Interfaces), len(rows))
	}
	for _, i := range h.Interfaces {
		if i.State != "configured" {
			return result{}, fmt.Errorf("GET /: interface %d (%s) is %s", i.ID, i.Name, i.State)
		}
	}
	probes := []string{fmt.Sprintf("GET / %d %s, %d interfaces configured", code, h.Status, len(h.Interfaces))}
	for _, p := range []string{"/healthz", "/readyz"} {
		code, _, err := t.get(ctx, p)
		if err != nil {
			return result{}, err
		}
		if code != http.StatusOK {
			return result{}, fmt.Errorf("GET %s answered %d", p, code)
		}
		probes = append(probes, fmt.Sprintf("%s %d", p, code))
	}
	return result{what: strings.Join(probes, "; "), took: time.Since(start)}, nil
}

// printJSON prints the health object one key a line, each interface on a
// line of its own.
func printJSON(w io.Writer, body []byte) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		fmt.Fprintf(w, "    %s\n", body)
		return
	}
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return string(raw)
		}
		return b.String()
	}
	keys := []string{"status", "uptime", "processed_vms", "failed_configs", "database_connected", "last_sync", "components", "statistics"}
	for k := range obj {
		if !slices.Contains(keys, k) && k != "interfaces" {
			keys = append(keys, k)
		}
	}
	fmt.Fprintln(w, "    {")
	for _, k := range keys {
		if v, ok := obj[k]; ok {
			fmt.Fprintf(w, "      %q: %s,\n", k, compact(v))
		}
	}
	var ifaces []json.RawMessage
	json.Unmarshal(obj["interfaces"], &ifaces)
	fmt.Fprintln(w, `      "interfaces": [`)
	for i, v := range ifaces {
		sep := ","
		if i == len(ifaces)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "        %s%s\n", compact(v), sep)
	}
	fmt.Fprintln(w, "      ]")
	fmt.Fprintln(w, "    }")
}

// shownMetrics are the metric lines the tour prints, by prefix.
var shownMetrics = []string{
	"multinic_agent_info",
	`multinic_interfaces{state="configured"}`,
	"multinic_polling_cycles_total",
	"multinic_configuration_drifts_total",
	"multinic_orphaned_interfaces_deleted_total",
	"multinic_db_connection_status",
	`multinic_db_query_duration_seconds_count{query_type="select_rows"}`,
}

func (t *tour) metrics(ctx context.Context) (result, error) {
	start := time.Now()
	fmt.Fprintf(t.out, "  ip netns exec %s curl http://127.0.0.1:%s/metrics | grep ...\n", t.node.Name, healthPort)
	code, body, err := t.get(ctx, "/metrics")
	if err != nil {
		return result{}, err
	}
	if code != http.StatusOK {
		return result{}, fmt.Errorf("GET /metrics answered %d", code)
	}
	values := map[string]string{}
	for _, l := range strings.Split(string(body), "\n") {
		for _, p := range shownMetrics {
			if strings.HasPrefix(l, p) {
				fmt.Fprintf(t.out, "    %s\n", l)
				if k, v, ok := strings.Cut(l, " "); ok {
					values[k] = v
				}
			}
		}
	}
	rows, err := readRows(ctx, t.db)
	if err != nil {
		return result{}, err
	}
	// What the tour did, as the metrics must count it.
	checks := []struct {
		name  string
		least int
		most  int
	}{
		{`multinic_interfaces{state="configured"}`, len(rows), len(rows)},
		{"multinic_orphaned_interfaces_deleted_total", 1, 1},
		{`multinic_configuration_drifts_total{drift_type="address"}`, 1, 1 << 30},
		{"multinic_db_connection_status", 1, 1},
	}
	for _, c := range checks {
		v, err := strconv.ParseFloat(values[c.name], 64)
		if err != nil || v < float64(c.least) || v > float64(c.most) {
			return result{}, fmt.Errorf("GET /metrics: %s is %q, the tour expects %d to %d", c.name, values[c.name], c.least, c.most)
		}
	}
	return result{what: fmt.Sprintf("GET /metrics %d: %d interfaces configured, 1 orphan removed, the address drift repaired, database connected", code, len(rows)), took: time.Since(start)}, nil
}
