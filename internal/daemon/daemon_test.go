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
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/metrics"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// TestBadRowIsVisible: a row that fails validation shows in the health
// JSON's interface list with its reason and in
// multinic_errors_total{error_type="validation"}; the good row does not.
func TestBadRowIsVisible(t *testing.T) {
	d := bookkeepingDaemon()
	m := d.Metrics
	res := reconcile.Result{Rows: []reconcile.RowResult{
		{ID: 1, Name: "multinic0", MAC: "fa:16:3e:00:00:01", State: plan.StateConfigured, Changed: true},
		{ID: 2, MAC: "fa:16:3e:00:00:02", State: plan.StateFailed, Err: plan.Classed(plan.Validation, errors.New("row 2: address 10.0.0.300 is not an IP address"))},
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
	d.Health.Set(d.snapshot(reconcile.Result{}, plan.Classed(plan.Database, errors.New("connection refused"))))
	snap = d.Health.Get()
	if snap.Status() != health.Unhealthy || len(snap.Interfaces) != 2 || snap.DBConnected {
		t.Errorf("after a failed read: %s %+v", snap.Status(), snap)
	}
}

// bookkeepingDaemon is a Daemon with what keeping a result needs: the
// metrics, health and a log, no database.
func bookkeepingDaemon() *Daemon {
	return &Daemon{
		Rec:     &reconcile.Reconciler{Backend: netplan.Backend{}},
		Metrics: metrics.New("test", "debian", "node1", func() int64 { return 0 }),
		Health:  health.NewState(time.Minute),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
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

func TestWhichKernelChangesTriggerACycle(t *testing.T) {
	const mac = "fa:16:3e:00:00:01"
	managed := links.Change{Index: 5, Name: "multinic0", MAC: mac, MTU: 1500, Up: true}
	cases := []struct {
		name   string
		change func(links.Change) links.Change
		want   bool
	}{
		{"the carrier alone (a flapping link)", func(c links.Change) links.Change { return c }, false},
		{"the MTU changed by hand", func(c links.Change) links.Change { c.MTU = 9000; return c }, true},
		{"taken down by hand", func(c links.Change) links.Change { c.Up = false; return c }, true},
		{"renamed by someone else", func(c links.Change) links.Change { c.Name = "eth7"; return c }, true},
		{"unplugged", func(c links.Change) links.Change { c.Gone = true; return c }, true},
		{"an address of it changed", func(c links.Change) links.Change { return links.Change{Index: 5, Addr: true} }, true},
		{"an address of another link changed", func(c links.Change) links.Change { return links.Change{Index: 9, Addr: true} }, false},
		{"a new link (a hot-plugged NIC)", func(c links.Change) links.Change {
			return links.Change{Index: 12, Name: "eth3", MAC: "fa:16:3e:00:00:03", MTU: 1500}
		}, true},
		{"an unrelated link's MTU", func(c links.Change) links.Change { return links.Change{Index: 7, Name: "veth1", MTU: 9000} }, false},
		{"events were lost", func(c links.Change) links.Change { return links.Change{Lost: true} }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Daemon{
				seen:     map[int]linkState{5: {name: "multinic0", mac: mac, mtu: 1500, up: true}, 7: {name: "veth1", mtu: 1500}},
				watchIdx: map[int]bool{5: true}, watchMAC: map[string]bool{mac: true},
			}
			if got := d.relevant(c.change(managed)); got != c.want {
				t.Errorf("relevant = %v, want %v", got, c.want)
			}
		})
	}
}

// TestCyclesThatKernelChangesTrigger: the rate limit on cycles that kernel
// changes trigger lets a NIC plugged in soon after another go at once (the
// other's cycle was followed by one for its own changes' events), and
// holds a flapping link to one database read per EventGap after the burst.
func TestCyclesThatKernelChangesTrigger(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	t.Run("NICs plugged in a second and a half apart go at once", func(t *testing.T) {
		d := &Daemon{EventGap: time.Second}
		for _, ms := range []int{200, 700, 2200, 2700, 4200, 4700, 6200} {
			if wait := d.eventWait(at(ms)); wait != 0 {
				t.Errorf("a cycle at %d ms waits %s", ms, wait)
			}
		}
	})

	t.Run("a flapping link: one read per EventGap after the burst", func(t *testing.T) {
		d := &Daemon{EventGap: time.Second}
		cycles := 0
		next := at(0)
		for ms := 0; ms < 10_000; ms += 10 {
			now := at(ms)
			if now.Before(next) {
				continue
			}
			if wait := d.eventWait(now); wait > 0 {
				next = now.Add(wait)
				continue
			}
			cycles++
		}
		if max := eventBurst + 10; cycles > max || cycles < 10 {
			t.Errorf("%d cycles in 10 s, want from 10 to %d", cycles, max)
		}
	})

	t.Run("the wait it names is enough", func(t *testing.T) {
		d := &Daemon{EventGap: time.Second}
		for range eventBurst {
			d.eventWait(at(0))
		}
		wait := d.eventWait(at(0))
		if wait <= 0 || wait > time.Second {
			t.Fatalf("after the burst: wait %s", wait)
		}
		if again := d.eventWait(at(0).Add(wait)); again != 0 {
			t.Errorf("after the wait it named: %s more", again)
		}
	})
}
