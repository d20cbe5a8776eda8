// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/health"
	"github.com/multinic-agent/multinic-agent/internal/metrics"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// TestBadRowIsVisible: a row that fails validation shows in the health
// JSON's interface list with its reason and in
// multinic_errors_total{error_type="validation"}; the good row does not.
func TestBadRowIsVisible(t *testing.T) {
	m := metrics.New("test", "debian", "node1", func() int64 { return 0 })
	d := &Daemon{
		Rec:     &reconcile.Reconciler{Backend: netplan.Backend{}},
		Metrics: m,
		Health:  health.NewState(time.Minute),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	res := reconcile.Result{Rows: []reconcile.RowResult{
		{ID: 1, Name: "multinic0", MAC: "fa:16:3e:00:00:01", State: plan.StateConfigured, Changed: true},
		{ID: 2, MAC: "fa:16:3e:00:00:02", State: plan.StateFailed, Err: errors.New("row 2: address 10.0.0.300 is not an IP address"), Kind: plan.ErrValidation},
	}}
	m.ObserveCycle(res, nil, time.Millisecond)
	d.Health.Set(d.snapshot(res, nil))

	snap := d.Health.Get()
	if snap.Status() != health.Degraded || len(snap.Interfaces) != 2 || !strings.Contains(snap.Interfaces[1].Error, "row 2: address") {
		t.Errorf("snapshot: %s %+v", snap.Status(), snap.Interfaces)
	}
	if snap.ProcessedVMs != 1 || snap.FailedConfigs != 1 {
		t.Errorf("processed %d failed %d", snap.ProcessedVMs, snap.FailedConfigs)
	}
	if got := counter(t, m, "multinic_errors_total", "validation"); got != 1 {
		t.Errorf("multinic_errors_total{error_type=validation} = %v", got)
	}

	// A failed read keeps the last view of the interfaces and marks the
	// database down.
	d.Health.Set(d.snapshot(reconcile.Result{}, errors.Join(reconcile.ErrDB, errors.New("connection refused"))))
	snap = d.Health.Get()
	if snap.Status() != health.Unhealthy || len(snap.Interfaces) != 2 || snap.DBConnected {
		t.Errorf("after a failed read: %s %+v", snap.Status(), snap)
	}
}

// counter reads one labelled counter from the registry.
func counter(t *testing.T, m *metrics.Metrics, name, label string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetValue() == label {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}
