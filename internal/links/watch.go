// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package links

import (
	"context"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Change is a kernel event about a link or one of its addresses.
type Change struct {
	Index int
	Name  string // link events only
	MAC   string // link events only
	// MTU and Up (administrative) for link events: what the agent sets.
	// A change of carrier alone leaves them as they were.
	MTU int
	Up  bool
	// Gone is set when the link was deleted (a NIC unplugged).
	Gone bool
	// Addr is set for address events, Route for route events.
	Addr, Route bool
	// Lost means events may have been missed (the subscription broke or
	// the reader fell behind): treat everything as changed.
	Lost bool
}

// Watch delivers link, address and route changes in the handle's namespace
// until ctx ends, then closes the channel. A broken subscription is
// reported as a Lost change when it breaks and again once re-established.
func (h *Handle) Watch(ctx context.Context) (<-chan Change, error) {
	done := make(chan struct{})
	lch, ach, rch, err := h.subscribe(done)
	if err != nil {
		close(done)
		return nil, err
	}
	out := make(chan Change, 64)
	go func() {
		defer close(out)
		lost := false
		send := func(c Change) {
			if lost {
				select {
				case out <- Change{Lost: true}:
					lost = false
				default:
				}
			}
			select {
			case out <- c:
			default:
				lost = true
			}
		}
		for {
			select {
			case <-ctx.Done():
				close(done)
				return
			case u, ok := <-lch:
				if ok {
					a := u.Attrs()
					c := Change{Index: a.Index, Name: a.Name, MTU: a.MTU, Up: a.Flags&net.FlagUp != 0, Gone: u.Header.Type == unix.RTM_DELLINK}
					if len(a.HardwareAddr) == 6 {
						c.MAC = a.HardwareAddr.String()
					}
					send(c)
					continue
				}
			case u, ok := <-ach:
				if ok {
					// Link-local addresses come and go with the carrier; the
					// agent neither manages nor lists them.
					if !u.LinkAddress.IP.IsLinkLocalUnicast() {
						send(Change{Index: u.LinkIndex, Addr: true})
					}
					continue
				}
			case u, ok := <-rch:
				if ok {
					send(Change{Index: u.LinkIndex, Route: true})
					continue
				}
			}
			// A subscription ended: say so, then start them all again.
			send(Change{Lost: true})
			close(done)
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				done = make(chan struct{})
				if lch, ach, rch, err = h.subscribe(done); err == nil {
					break
				}
				close(done)
			}
			lost = false
			send(Change{Lost: true})
		}
	}()
	return out, nil
}

func (h *Handle) subscribe(done chan struct{}) (chan netlink.LinkUpdate, chan netlink.AddrUpdate, chan netlink.RouteUpdate, error) {
	ns := h.ns
	lch := make(chan netlink.LinkUpdate, 64)
	ach := make(chan netlink.AddrUpdate, 64)
	rch := make(chan netlink.RouteUpdate, 64)
	ignore := func(error) {} // a fatal error closes the channel, which Watch handles
	if err := netlink.LinkSubscribeWithOptions(lch, done, netlink.LinkSubscribeOptions{Namespace: &ns, ErrorCallback: ignore}); err != nil {
		return nil, nil, nil, err
	}
	if err := netlink.AddrSubscribeWithOptions(ach, done, netlink.AddrSubscribeOptions{Namespace: &ns, ErrorCallback: ignore}); err != nil {
		return nil, nil, nil, err
	}
	if err := netlink.RouteSubscribeWithOptions(rch, done, netlink.RouteSubscribeOptions{Namespace: &ns, ErrorCallback: ignore}); err != nil {
		return nil, nil, nil, err
	}
	return lch, ach, rch, nil
}
