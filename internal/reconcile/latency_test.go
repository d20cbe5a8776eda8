// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// gatewayNode is a node whose uplink eth0 has a default route through each
// of gws (the probe seam answers for them), and a NIC eth1 with a row.
func gatewayNode(t *testing.T, gws ...string) (*env, int64) {
	e := newEnv(t)
	e.ns.AddNIC(t, "eth0", "fa:16:3e:00:00:09")
	e.ns.IP(t, "addr", "add", "192.0.2.9/24", "dev", "eth0")
	e.ns.IP(t, "link", "set", "eth0", "up")
	for k, gw := range gws {
		e.ns.IP(t, "route", "add", "default", "via", gw, "metric", []string{"100", "200", "300"}[k])
	}
	e.ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	id := e.db.AddRow(t, node, "fa:16:3e:00:00:01", "s4", "10.20.0.11", 9000)
	return e, id
}

// TestSilentGatewayIsWaitedForBriefly: a default gateway that does not
// answer echo requests is given a second before the first change, then
// only a short grace before later ones; once it answers again it is
// checked after the change as before (its loss rolls the change back).
func TestSilentGatewayIsWaitedForBriefly(t *testing.T) {
	e, id := gatewayNode(t, "192.0.2.1")
	r := e.reconciler()
	var mu sync.Mutex
	var budgets []time.Duration
	answer := false
	r.Probe = func(ctx context.Context, _ netip.Addr) error {
		dl, _ := ctx.Deadline()
		mu.Lock()
		budgets = append(budgets, time.Until(dl))
		ok := answer
		mu.Unlock()
		if ok {
			return nil
		}
		<-ctx.Done()
		return errors.New("no answer")
	}
	e.converge(r)
	if len(budgets) != 1 || budgets[0] < 500*time.Millisecond {
		t.Fatalf("the first change gave the gateway %v", budgets)
	}

	e.db.Exec(t, "UPDATE multi_interface SET mtu = 1400 WHERE id = ?", id)
	e.converge(r)
	if len(budgets) != 2 || budgets[1] > 150*time.Millisecond {
		t.Fatalf("the second change gave the silent gateway %v, want its grace only", budgets)
	}

	// It answers again before the change, and not after it.
	calls := len(budgets)
	answer = true
	r.Probe = func(ctx context.Context, a netip.Addr) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls > 3 {
			return errors.New("no answer")
		}
		return nil
	}
	e.db.Exec(t, "UPDATE multi_interface SET mtu = 1500 WHERE id = ?", id)
	res := e.cycle(r)
	if row := res.Rows[0]; plan.KindOf(row.Err) != plan.Connectivity || !strings.Contains(row.Err.Error(), "192.0.2.1 stopped answering") {
		t.Fatalf("a gateway answering again was not checked after the change: %v", row.Err)
	}
	if l := e.ns.Link(t, "multinic0"); l.MTU != 1400 {
		t.Errorf("the change was kept: MTU %d", l.MTU)
	}
}

// TestConnectivityIsAskedAllAtOnce: before and after a change, every
// default gateway (and, after, the database) is asked at the same time:
// here each gateway answers only once the other one has been asked, which
// a check one after the other would take for a lost gateway.
func TestConnectivityIsAskedAllAtOnce(t *testing.T) {
	e, _ := gatewayNode(t, "192.0.2.1", "192.0.2.2")
	r := e.reconciler()
	var mu sync.Mutex
	asked := map[netip.Addr]chan struct{}{
		netip.MustParseAddr("192.0.2.1"): make(chan struct{}, 8),
		netip.MustParseAddr("192.0.2.2"): make(chan struct{}, 8),
	}
	probes := 0
	r.Probe = func(ctx context.Context, a netip.Addr) error {
		mu.Lock()
		probes++
		mu.Unlock()
		asked[a] <- struct{}{}
		for other, ch := range asked {
			if other == a {
				continue
			}
			select {
			case <-ch:
				ch <- struct{}{} // for the other's own wait
			case <-ctx.Done():
				return errors.New("no answer")
			}
		}
		return nil
	}
	res := e.converge(r)
	if probes != 4 || res.Rows[0].Err != nil {
		t.Errorf("%d probes, row %v", probes, res.Rows[0].Err)
	}
}

// lateBackend is netplan whose activation leaves the NIC's MTU wrong and
// has it set right a moment later, as a network daemon reapplying its
// files would; fix false leaves it wrong.
type lateBackend struct {
	netplan.Backend
	e   *env
	fix bool
}

func (b lateBackend) Activate(ctx context.Context, root rootfs.Root, changed []string) error {
	h := b.e.ns.Handle(b.e.t)
	l, ok := b.e.ns.Find(b.e.t, "multinic0")
	if !ok {
		return nil // run again after the rollback, which renamed it back
	}
	if err := h.SetMTU(l.Index, 1280); err != nil {
		return err
	}
	if b.fix {
		go func() {
			time.Sleep(300 * time.Millisecond)
			h.SetMTU(l.Index, 9000)
		}()
	}
	return nil
}

// TestVerifyWaitsForTheStateToArrive: a NIC whose state is set right a
// moment after the activation converges (verify reads again when the
// kernel reports the change); one whose state never arrives is rolled
// back to what it was.
func TestVerifyWaitsForTheStateToArrive(t *testing.T) {
	t.Run("arrives", func(t *testing.T) {
		e, id := gatewayNode(t)
		r := e.reconciler()
		r.Backend = lateBackend{e: e, fix: true}
		res := e.cycle(r)
		if res.Rows[0].Err != nil {
			t.Fatalf("row: %v", res.Rows[0].Err)
		}
		e.wantLink("multinic0", 9000, "10.20.0.11/24")
		if e.db.Success(t, id) != 1 {
			t.Error("not reported")
		}
	})
	t.Run("never arrives", func(t *testing.T) {
		e, id := gatewayNode(t)
		r := e.reconciler()
		r.Backend = lateBackend{e: e}
		res := e.cycle(r)
		if row := res.Rows[0]; plan.KindOf(row.Err) != plan.Verify || !strings.Contains(row.Err.Error(), "mtu is 1280, want 9000") {
			t.Fatalf("row: %v (%s)", row.Err, plan.KindOf(row.Err))
		}
		if l := e.ns.Link(t, "eth1"); l.MTU != 1500 || l.Up || len(l.Addrs) != 0 {
			t.Errorf("eth1 not restored: %+v", l)
		}
		if e.db.Success(t, id) != 0 {
			t.Error("reported as a success")
		}
	})
}
