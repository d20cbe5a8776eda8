// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package health

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// CycleResult is one cycle's result as a caller that asked for it sees it
// (`multinic-agent reconcile`, POST /reconcile).
type CycleResult struct {
	// Trigger is what started the cycle: request, poll, netlink, start...
	Trigger string `json:"trigger"`
	// Requested is when this caller's request arrived; Started when the
	// cycle that served it began reading the database (always later).
	Requested  time.Time `json:"requested"`
	Started    time.Time `json:"started"`
	DurationMs int64     `json:"duration_ms"`
	Rows       int       `json:"rows"`
	Failed     int       `json:"failed"`
	Changed    bool      `json:"changed"`
	Removed    []string  `json:"removed"`
	// Error is why the cycle could not run (the database or the node could
	// not be read, or the results not written); rows' own failures are in
	// Interfaces.
	Error       string      `json:"error"`
	DBConnected bool        `json:"database_connected"`
	Interfaces  []Interface `json:"interfaces"`
	// Exit is the exit status of `multinic-agent once` for the same
	// outcome: 0 every row converged, 1 some row failed, 2 the cycle could
	// not run.
	Exit int `json:"exit"`
}

// Trigger asks the daemon for a cycle that starts after the call and
// returns that cycle's result; ctx bounds the wait.
type Trigger func(ctx context.Context) (CycleResult, error)

// MaxReconcileWait is how long POST /reconcile (and `multinic-agent
// reconcile`) wait for their cycle: the longest cycle, as for the
// watchdog and /healthz.
const MaxReconcileWait = 5 * time.Minute

// WithReconcile adds POST /reconcile to h: with the right token (an
// Authorization: Bearer header) it asks trigger for a cycle and answers
// with its result as JSON, 200 when the cycle ran (whatever its rows'
// results; Exit says), 503 when it could not. Without a token configured
// it is refused with 403; a missing or wrong token with 401. The token is
// compared in constant time, and never logged.
func WithReconcile(h http.Handler, token string, trigger Trigger) http.Handler {
	want := sha256.Sum256([]byte(token))
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("POST /reconcile", func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "reconcile over HTTP is off: set RECONCILE_TOKEN to turn it on", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		// Hashes first: the comparison takes the same time whatever the
		// length of what was sent.
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="multinic-agent"`)
			http.Error(w, "a valid RECONCILE_TOKEN is needed as Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		// The server's write timeout is for the other paths: this one
		// waits for a cycle.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(MaxReconcileWait + 10*time.Second))
		ctx, cancel := context.WithTimeout(r.Context(), MaxReconcileWait)
		defer cancel()
		res, err := trigger(ctx)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "exit": 2})
			return
		}
		if res.Exit == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	})
	return mux
}
