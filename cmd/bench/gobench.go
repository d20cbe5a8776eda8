// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
)

// GoBench is one Go benchmark summarised over its -count runs.
type GoBench struct {
	Pkg    string               `json:"pkg"`
	Name   string               `json:"name"`
	Runs   int                  `json:"runs"`
	Median map[string]float64   `json:"median"` // by unit: ns/op, B/op, allocs/op, ...
	All    map[string][]float64 `json:"all"`
	Units  []string             `json:"units"`
}

var reProcs = regexp.MustCompile(`-\d+$`)

// parseGoBench reads `go test -bench` output and takes the median of each
// metric over the runs of each benchmark.
func parseGoBench(path string) ([]GoBench, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var (
		out   []*GoBench
		index = map[string]*GoBench{}
		pkg   string
		cpu   string
	)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(v), "github.com/multinic-agent/multinic-agent/")
			continue
		}
		if v, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = strings.TrimSpace(v)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := reProcs.ReplaceAllString(f[0], "")
		key := pkg + "." + name
		g := index[key]
		if g == nil {
			g = &GoBench{Pkg: pkg, Name: name, All: map[string][]float64{}, Median: map[string]float64{}}
			index[key] = g
			out = append(out, g)
		}
		g.Runs++
		for k := 2; k+1 < len(f); k += 2 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err != nil {
				continue
			}
			unit := f[k+1]
			if _, seen := g.All[unit]; !seen {
				g.Units = append(g.Units, unit)
			}
			g.All[unit] = append(g.All[unit], v)
		}
	}
	res := make([]GoBench, 0, len(out))
	for _, g := range out {
		for u, xs := range g.All {
			g.Median[u] = median(xs)
		}
		res = append(res, *g)
	}
	return res, cpu, nil
}
