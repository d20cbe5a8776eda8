// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package probe asks whether a neighbour (the default gateway) answers,
// with an ICMP echo request.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Echo sends ICMP echo requests to addr until one is answered or ctx ends.
// A request the kernel cannot send (no route for a moment, while a network
// daemon reapplies a link's configuration) is tried again until ctx ends:
// only a gateway that stays silent for the whole time does not answer. It
// needs a raw socket (root or CAP_NET_RAW).
func Echo(ctx context.Context, addr netip.Addr) error {
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	var reply icmp.Type = ipv4.ICMPTypeEchoReply
	if addr.Is6() {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		typ, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	c, err := icmp.ListenPacket(network, listen)
	if err != nil {
		return fmt.Errorf("opening an ICMP socket: %w", err)
	}
	defer c.Close()
	// Cancelled, not only past its deadline: the read in hand ends now.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	id := os.Getpid() & 0xffff
	dst := &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	buf := make([]byte, 1500)
	var sendErr error
	for seq := 1; ; seq++ {
		if ctx.Err() != nil {
			if sendErr != nil {
				return sendErr
			}
			return fmt.Errorf("%s does not answer echo requests", addr)
		}
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("multinic-agent")}}
		wb, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(300 * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if _, err := c.WriteTo(wb, dst); err != nil {
			sendErr = fmt.Errorf("sending an echo request to %s: %w", addr, err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(deadline)):
			}
			continue
		}
		sendErr = nil
		c.SetReadDeadline(deadline)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return err
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
				if ip, ok := from.(*net.IPAddr); ok && ip.IP.Equal(dst.IP) {
					return nil
				}
			}
		}
	}
}
