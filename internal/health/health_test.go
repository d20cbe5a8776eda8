// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package health

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStatusRules(t *testing.T) {
	ok := Interface{ID: 1, State: "configured"}
	bad := Interface{ID: 2, State: "failed", Error: "row 2: bad"}
	for _, c := range []struct {
		snap Snapshot
		want string
	}{
		{Snapshot{}, Unhealthy},
		{Snapshot{Cycled: true, DBConnected: false, Interfaces: []Interface{ok}}, Unhealthy},
		{Snapshot{Cycled: true, DBConnected: true}, Healthy},
		{Snapshot{Cycled: true, DBConnected: true, Interfaces: []Interface{ok}}, Healthy},
		{Snapshot{Cycled: true, DBConnected: true, Interfaces: []Interface{ok, bad}}, Degraded},
		{Snapshot{Cycled: true, DBConnected: true, Interfaces: []Interface{{State: "nic-missing"}}}, Degraded},
	} {
		if got := c.snap.Status(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.snap, got, c.want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	s := NewState(time.Minute)
	now := time.Now()
	s.clock = func() time.Time { return now }
	h := Handler(s, prometheus.NewRegistry())
	code := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	if code("/") != 503 || code("/readyz") != 503 || code("/healthz") != 200 {
		t.Errorf("before the first cycle: / %d, /readyz %d, /healthz %d", code("/"), code("/readyz"), code("/healthz"))
	}
	s.Set(Snapshot{Cycled: true, DBConnected: true, Backend: "netplan", LastSync: now,
		Interfaces: []Interface{{ID: 1, Name: "multinic0", State: "failed", Error: "boom"}}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 200 || body["status"] != Degraded || body["last_sync"] == nil {
		t.Errorf("degraded: %d %v", rec.Code, body)
	}
	if code("/readyz") != 200 || code("/metrics") != 200 || code("/nope") != 404 {
		t.Errorf("/readyz %d /metrics %d /nope %d", code("/readyz"), code("/metrics"), code("/nope"))
	}
	now = now.Add(2 * time.Minute)
	if code("/healthz") != 503 {
		t.Error("/healthz still ok after the loop stalled")
	}
	s.Beat()
	if code("/healthz") != 200 {
		t.Error("/healthz not ok after a heartbeat")
	}
}
