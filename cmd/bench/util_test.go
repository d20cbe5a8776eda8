// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestZeroNonFinite: a figure with no data (NaN, ±Inf) anywhere in the
// results is named and recorded as 0, so that the results still encode.
func TestZeroNonFinite(t *testing.T) {
	type inner struct{ P50, P99 float64 }
	type figures struct {
		Fine   float64
		Empty  float64
		Runs   []inner
		ByName map[string]inner
		Per    map[string]float64
		Ptr    *inner
		hidden float64
	}
	f := &figures{Fine: 1.5, Empty: math.NaN(), Runs: []inner{{1, 2}, {math.Inf(-1), 3}},
		ByName: map[string]inner{"a": {math.NaN(), 1}}, Per: map[string]float64{"x": math.Inf(1), "y": 2},
		Ptr: &inner{P99: math.NaN()}, hidden: math.NaN()}
	got := zeroNonFinite(reflect.ValueOf(f), "r")
	slices.Sort(got)
	want := []string{"r.ByName[a].P50", "r.Empty", "r.Per[x]", "r.Ptr.P99", "r.Runs[1].P50"}
	if !slices.Equal(got, want) {
		t.Errorf("named %v, want %v", got, want)
	}
	if _, err := json.Marshal(f); err != nil {
		t.Errorf("still does not encode: %v", err)
	}
	if f.Fine != 1.5 || f.Runs[1].P99 != 3 || f.Per["y"] != 2 {
		t.Errorf("a finite figure changed: %+v", f)
	}
}
