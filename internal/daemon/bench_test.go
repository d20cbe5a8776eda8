// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// BenchmarkIdleBookkeeping is what the daemon does with an idle cycle's
// result of ten converged rows besides the cycle itself: the metrics, the
// health snapshot and the links it watches. Its allocations add to the
// cycle's (BenchmarkIdleCycle) in the collector's pace.
func BenchmarkIdleBookkeeping(b *testing.B) {
	d := bookkeepingDaemon()
	var res reconcile.Result
	for k := range 10 {
		mac := fmt.Sprintf("fa:16:3e:00:00:%02x", k+1)
		name := fmt.Sprintf("multinic%d", k)
		addr := netip.MustParsePrefix(fmt.Sprintf("10.20.0.%d/24", k+11))
		res.Plan.Ifaces = append(res.Plan.Ifaces, plan.Iface{
			Row:  plan.Row{ID: int64(k + 1), MAC: mac, Success: true},
			Want: netconf.Iface{Name: name, MAC: mac, Addr: addr, MTU: 1500},
			Link: &plan.Link{Index: k + 2, Name: name, MAC: mac},
		})
		res.Rows = append(res.Rows, reconcile.RowResult{ID: int64(k + 1), Name: name, MAC: mac, Address: addr.String(), MTU: 1500, State: plan.StateConfigured})
	}
	b.ReportAllocs()
	for b.Loop() {
		d.record("poll", res, nil, time.Millisecond)
	}
}
