// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package metrics defines the agent's Prometheus metrics (all named
// multinic_*) and turns each cycle's result into observations.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// States are the values of multinic_interfaces{state}.
var States = []string{plan.StateConfigured, plan.StatePending, plan.StateFailed, plan.StateDrifted, plan.StateMissing}

// Metrics is the agent's registry and its metrics.
type Metrics struct {
	Registry *prometheus.Registry

	processed      *prometheus.CounterVec
	ifaceDuration  *prometheus.HistogramVec
	cycles         prometheus.Counter
	cycleDuration  prometheus.Histogram
	backoffLevel   prometheus.Gauge
	dbStatus       prometheus.Gauge
	drifts         *prometheus.CounterVec
	orphansDeleted prometheus.Counter
	adopted        prometheus.Counter
	errors         *prometheus.CounterVec
	queryDuration  *prometheus.HistogramVec
	interfaces     *prometheus.GaugeVec
	lastSuccess    prometheus.Gauge
}

// New registers every metric, the Go and process collectors, the agent's
// info gauge and inFlight as multinic_concurrent_tasks.
func New(version, osType, node string, inFlight func() int64) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.processed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "multinic_interfaces_processed_total",
		Help: "Interface rows processed by a cycle, by result (success: changed and verified; failure: failed in that cycle).",
	}, []string{"status"})
	m.ifaceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "multinic_interface_processing_duration_seconds",
		Help:    "Time to apply one interface's changes, by interface and result.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"interface_name", "status"})
	m.cycles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "multinic_polling_cycles_total",
		Help: "Reconcile cycles run (polls and change-triggered ones).",
	})
	m.cycleDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "multinic_polling_cycle_duration_seconds",
		Help:    "Duration of a reconcile cycle.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.backoffLevel = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "multinic_polling_backoff_level",
		Help: "Consecutive failed cycles (0: polling at POLL_INTERVAL).",
	})
	m.dbStatus = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "multinic_db_connection_status",
		Help: "1 when the last cycle reached the database, 0 when it could not.",
	})
	m.drifts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "multinic_configuration_drifts_total",
		Help: "Differences found on configured interfaces, by what differed (file, name, mtu, address, state, ra: the NIC learns from router advertisements again).",
	}, []string{"drift_type"})
	m.orphansDeleted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "multinic_orphaned_interfaces_deleted_total",
		Help: "Interfaces whose rows left the database and whose config was removed.",
	})
	m.adopted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "multinic_adopted_files_total",
		Help: "Files of the previous generation of multinic-agent taken over (backed up and rewritten as the agent's own).",
	})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "multinic_errors_total",
		Help: "Errors by type: per failed row and cycle (validation, protected, conflict, nic_missing, apply, activation, verify, connectivity) and per failed cycle (database, node).",
	}, []string{"error_type"})
	m.queryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "multinic_db_query_duration_seconds",
		Help:    "Duration of database statements, by kind.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"query_type"})
	m.interfaces = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "multinic_interfaces",
		Help: "This node's rows by state after the last cycle.",
	}, []string{"state"})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "multinic_last_success_timestamp_seconds",
		Help: "Unix time of the end of the last cycle that read the database and the node.",
	})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "multinic_agent_info",
		Help: "The agent's version, the detected OS and the node name; always 1.",
	}, []string{"version", "os_type", "node_name"})
	info.WithLabelValues(version, osType, node).Set(1)
	tasks := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "multinic_concurrent_tasks",
		Help: "Interfaces being applied right now.",
	}, func() float64 { return float64(inFlight()) })

	m.Registry.MustRegister(m.processed, m.ifaceDuration, m.cycles, m.cycleDuration, m.backoffLevel,
		m.dbStatus, m.drifts, m.orphansDeleted, m.adopted, m.errors, m.queryDuration, m.interfaces, m.lastSuccess,
		info, tasks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range States {
		m.interfaces.WithLabelValues(s)
	}
	for _, s := range []string{"success", "failure"} {
		m.processed.WithLabelValues(s)
	}
	for _, d := range []string{"file", "name", "mtu", "address", "state", "ra"} {
		m.drifts.WithLabelValues(d)
	}
	for _, e := range plan.ErrorKinds {
		m.errors.WithLabelValues(string(e))
	}
	return m
}

// ObserveQuery records one database statement's duration.
func (m *Metrics) ObserveQuery(kind string, d time.Duration) {
	m.queryDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// SetBackoff records the daemon's backoff level.
func (m *Metrics) SetBackoff(level int) { m.backoffLevel.Set(float64(level)) }

// ObserveCycle records a cycle: its result, or the error that stopped it.
func (m *Metrics) ObserveCycle(res reconcile.Result, err error, took time.Duration) {
	m.cycles.Inc()
	m.cycleDuration.Observe(took.Seconds())
	if err != nil {
		kind := plan.KindOf(err)
		if kind != plan.Database {
			kind = plan.Node
		} else {
			m.dbStatus.Set(0)
		}
		m.errors.WithLabelValues(string(kind)).Inc()
		if res.Rows == nil {
			return
		}
	} else {
		m.dbStatus.Set(1)
		m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	}
	for _, row := range res.Rows {
		for _, d := range row.Drifts {
			m.drifts.WithLabelValues(d).Inc()
		}
		m.adopted.Add(float64(row.Adopted))
		switch o := row.Outcome(); o {
		case "failure":
			m.errors.WithLabelValues(string(plan.KindOf(row.Err))).Inc()
			fallthrough
		case "success":
			m.processed.WithLabelValues(o).Inc()
			if row.Duration > 0 || o == "success" {
				m.ifaceDuration.WithLabelValues(row.Name, o).Observe(row.Duration.Seconds())
			}
		}
	}
	for _, s := range States {
		n := 0
		for _, row := range res.Rows {
			if row.State == s {
				n++
			}
		}
		m.interfaces.WithLabelValues(s).Set(float64(n))
	}
	m.orphansDeleted.Add(float64(len(res.Removed)))
}
