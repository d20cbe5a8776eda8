// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "0123456789abcdef0123456789abcdef"

func reconcileServer(t *testing.T, token string, calls *atomic.Int64, res CycleResult, err error) *httptest.Server {
	t.Helper()
	s := NewState(time.Minute)
	h := WithReconcile(Handler(s, prometheus.NewRegistry()), token, func(ctx context.Context) (CycleResult, error) {
		calls.Add(1)
		return res, err
	})
	srv := httptest.NewServer(Server(h).Handler)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/reconcile", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPostReconcileIsRefusedWithoutTheToken: off (403) unless a token is
// configured; with one, a request without it, with another or with a
// prefix of it is refused (401) and starts no cycle; only the token starts
// one and gets its result.
func TestPostReconcileIsRefusedWithoutTheToken(t *testing.T) {
	var calls atomic.Int64
	want := CycleResult{Trigger: "request", Started: time.Now(), Rows: 2, Failed: 1, Exit: 1,
		Interfaces: []Interface{{ID: 1, Name: "multinic0", State: "configured"}, {ID: 2, State: "failed", Error: "row 2: bad MAC"}}}

	off := reconcileServer(t, "", &calls, want, nil)
	if code, body := post(t, off.URL, "Bearer "+testToken); code != http.StatusForbidden || !strings.Contains(body, "RECONCILE_TOKEN") {
		t.Errorf("without a token configured: %d %s", code, body)
	}

	on := reconcileServer(t, testToken, &calls, want, nil)
	for name, auth := range map[string]string{
		"no header":          "",
		"another token":      "Bearer fedcba9876543210fedcba9876543210",
		"a prefix of it":     "Bearer " + testToken[:16],
		"it with more":       "Bearer " + testToken + "0",
		"not a bearer token": "Basic " + testToken,
		"the bare token":     testToken,
	} {
		code, body := post(t, on.URL, auth)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, code, body)
		}
		if strings.Contains(body, testToken) {
			t.Errorf("%s: the answer shows the token: %s", name, body)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("refused requests started %d cycles", n)
	}

	code, body := post(t, on.URL, "Bearer "+testToken)
	var got CycleResult
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("with the token: %d %v\n%s", code, err, body)
	}
	if got.Exit != 1 || got.Failed != 1 || len(got.Interfaces) != 2 || got.Interfaces[1].Error != "row 2: bad MAC" {
		t.Errorf("result %+v", got)
	}
	if calls.Load() != 1 {
		t.Errorf("%d cycles for one request", calls.Load())
	}
	// GET / and the other paths are unchanged.
	resp, err := http.Get(on.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %v %v", resp, err)
	}
}

// TestPostReconcileWhenTheCycleCannotRun: a cycle that could not read the
// database, or a daemon that stops, answer 503 with exit 2.
func TestPostReconcileWhenTheCycleCannotRun(t *testing.T) {
	var calls atomic.Int64
	srv := reconcileServer(t, testToken, &calls, CycleResult{Started: time.Now(), Error: "database: connection refused", Exit: 2}, nil)
	if code, body := post(t, srv.URL, "Bearer "+testToken); code != http.StatusServiceUnavailable || !strings.Contains(body, `"exit": 2`) {
		t.Errorf("a failed cycle: %d %s", code, body)
	}
	stopped := reconcileServer(t, testToken, &calls, CycleResult{}, errors.New("the agent is stopping"))
	if code, body := post(t, stopped.URL, "Bearer "+testToken); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopping") {
		t.Errorf("a stopping daemon: %d %s", code, body)
	}
}
