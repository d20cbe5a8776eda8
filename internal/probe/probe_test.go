// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/probe"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// node returns a namespace whose gateway 192.0.2.1 (in a second namespace)
// is on a veth that has no address yet: no route to it.
func node(t *testing.T) (n, gw *testenv.Netns) {
	n, gw = testenv.NewNetns(t), testenv.NewNetns(t)
	n.IP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "gw0", "netns", gw.Name)
	n.IP(t, "link", "set", "eth0", "up")
	gw.IP(t, "addr", "add", "192.0.2.1/24", "dev", "gw0")
	gw.IP(t, "link", "set", "gw0", "up")
	return n, gw
}

func echo(t *testing.T, n *testenv.Netns, within time.Duration) (time.Duration, error) {
	t.Helper()
	var err error
	start := time.Now()
	if derr := n.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		err = probe.Echo(ctx, netip.MustParseAddr("192.0.2.1"))
		return nil
	}); derr != nil {
		t.Fatal(derr)
	}
	return time.Since(start), err
}

// TestEchoWaitsForARouteThatComesBack: a network daemon reapplying the
// management NIC's configuration leaves it without its route for a moment
// (sendto: network is unreachable); the gateway still answers within the
// probe's time, so it answers.
func TestEchoWaitsForARouteThatComesBack(t *testing.T) {
	n, _ := node(t)
	added := make(chan error, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		out, err := exec.Command("ip", "-n", n.Name, "addr", "add", "192.0.2.10/24", "dev", "eth0").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		added <- err
	}()
	took, err := echo(t, n, 3*time.Second)
	if aerr := <-added; aerr != nil {
		t.Fatal(aerr)
	}
	if err != nil {
		t.Fatalf("the gateway answers once the route is back, yet: %v", err)
	}
	if took < 500*time.Millisecond {
		t.Errorf("answered after %s, before the route existed", took)
	}
}

// TestEchoFailsWhenTheRouteStaysAway: without a route for the whole time,
// the gateway does not answer, and the error says why.
func TestEchoFailsWhenTheRouteStaysAway(t *testing.T) {
	n, _ := node(t)
	took, err := echo(t, n, time.Second)
	if err == nil || !strings.Contains(err.Error(), "network is unreachable") {
		t.Fatalf("no route: %v", err)
	}
	if took < 900*time.Millisecond {
		t.Errorf("gave up after %s, before the probe's time was over", took)
	}
}

// TestEchoFailsWhenTheGatewayIsSilent: a route but nobody answering.
func TestEchoFailsWhenTheGatewayIsSilent(t *testing.T) {
	n, gw := node(t)
	n.IP(t, "addr", "add", "192.0.2.10/24", "dev", "eth0")
	gw.IP(t, "link", "set", "gw0", "down")
	if _, err := echo(t, n, time.Second); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("silent gateway: %v", err)
	}
}
