// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netmon_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netmon"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// TestSnapshotsFollowTheKernel: in a throwaway namespace, a snapshot is
// kept while nothing changes and replaced once a NIC appears, an address
// is added and a default route is set, each reported by the subscription.
func TestSnapshotsFollowTheKernel(t *testing.T) {
	ns := testenv.NewNetns(t)
	m := netmon.New(ns.Handle(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := m.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Snapshot(); again != first {
		t.Fatal("a snapshot was not kept while nothing changed")
	}
	// waitFor drains changes until the snapshot shows what want checks.
	waitFor := func(what string, want func(*netmon.Snapshot) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			s, err := m.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if want(s) {
				return
			}
			select {
			case <-changes:
			case <-deadline:
				t.Fatalf("%s: not in the snapshot after 5 s: %+v", what, s.Links)
			}
		}
	}
	hasLink := func(s *netmon.Snapshot) *links.Link {
		for k := range s.Links {
			if s.Links[k].Name == "eth1" {
				return &s.Links[k]
			}
		}
		return nil
	}
	ns.AddNIC(t, "eth1", "fa:16:3e:00:00:01")
	waitFor("a new NIC", func(s *netmon.Snapshot) bool { return hasLink(s) != nil })
	ns.IP(t, "address", "add", "10.40.0.2/24", "dev", "eth1")
	ns.IP(t, "link", "set", "eth1", "up")
	waitFor("an address", func(s *netmon.Snapshot) bool {
		l := hasLink(s)
		return l != nil && slices.ContainsFunc(l.Addrs, func(a netip.Prefix) bool { return a.String() == "10.40.0.2/24" })
	})
	ns.IP(t, "route", "add", "default", "via", "10.40.0.1")
	waitFor("a default route", func(s *netmon.Snapshot) bool {
		l := hasLink(s)
		return l != nil && s.DefaultRoute[l.Index] && len(s.Gateways) == 1 && s.Gateways[0].Addr.String() == "10.40.0.1"
	})
	cancel()
	for range changes {
	}
	// Without a subscription, every snapshot is a new read.
	a, _ := m.Snapshot()
	b, _ := m.Snapshot()
	if a == b {
		t.Error("a snapshot was kept after the subscription ended")
	}
}
