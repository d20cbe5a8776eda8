// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package links reads and changes the kernel's network links through
// netlink. It never runs or parses ip(8).
package links

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"

	"github.com/vishvananda/netlink"

	"github.com/multinic-agent/multinic-agent/internal/plan"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Link is what the kernel says of a link: the planner's type.
type Link = plan.Link

// Handle is a netlink socket bound to one network namespace.
type Handle struct {
	nl *netlink.Handle
	// ns is the namespace for subscriptions; netns.None() means the
	// process's own.
	ns netns.NsHandle
	// sysctl is where IPv6 settings are read and written ("" for /proc/sys).
	sysctl string
}

// Open returns a handle in the calling thread's network namespace.
func Open() (*Handle, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket: %w", err)
	}
	return &Handle{nl: h, ns: netns.None()}, nil
}

// OpenNamespace returns a handle in the namespace at path (for example
// /run/netns/NAME), without moving the calling thread.
func OpenNamespace(path string) (*Handle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("opening netlink socket in %s: %w", path, err)
	}
	return &Handle{nl: h, ns: ns}, nil
}

// Close releases the socket.
func (h *Handle) Close() {
	h.nl.Close()
	if h.ns.IsOpen() {
		h.ns.Close()
	}
}

// retry repeats a netlink dump the kernel interrupted because the table
// changed under it; the partial result of an interrupted dump is discarded.
func retry[T any](f func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range 5 {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("netlink dump kept being interrupted: %w", err)
}

// List returns every link with its managed addresses, sorted by index.
func (h *Handle) List() ([]Link, error) {
	nls, err := retry(h.nl.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	addrs, err := retry(func() ([]netlink.Addr, error) { return h.nl.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	byIndex := map[int][]netip.Prefix{}
	dadFailed := map[int][]netip.Prefix{}
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok {
			byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], p)
			if a.Flags&unix.IFA_F_DADFAILED != 0 {
				dadFailed[a.LinkIndex] = append(dadFailed[a.LinkIndex], p)
			}
		}
	}
	out := make([]Link, 0, len(nls))
	for _, l := range nls {
		a := l.Attrs()
		link := Link{
			Index:     a.Index,
			Name:      a.Name,
			MTU:       a.MTU,
			Up:        a.Flags&net.FlagUp != 0,
			Kind:      l.Type(),
			Master:    a.MasterIndex,
			Parent:    a.ParentIndex,
			Loopback:  a.Flags&net.FlagLoopback != 0,
			Addrs:     byIndex[a.Index],
			DADFailed: dadFailed[a.Index],
		}
		if len(a.HardwareAddr) == 6 {
			link.MAC = a.HardwareAddr.String()
		}
		sortPrefixes(link.Addrs)
		out = append(out, link)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	// Addresses from DHCP or router advertisements have lifetimes; the
	// agent manages only permanent ones (its own and those added by hand).
	if ip.IsLinkLocalUnicast() || a.Flags&unix.IFA_F_PERMANENT == 0 {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip, ones), true
}

func sortPrefixes(ps []netip.Prefix) {
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
}

// DefaultRoutes returns the links that carry a default route (IPv4 or
// IPv6, including multipath next hops) in the main table, and the routes'
// gateways. Default routes in other tables belong to policy routing, often
// set up for the secondary NICs themselves, and do not make a link the
// node's uplink.
func (h *Handle) DefaultRoutes() (map[int]bool, []Gateway, error) {
	on := map[int]bool{}
	var gws []Gateway
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := retry(func() ([]netlink.Route, error) { return h.nl.RouteList(nil, fam) })
		if err != nil {
			return nil, nil, fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones != 0 {
					continue
				}
			}
			hops := []Gateway{{Link: r.LinkIndex}}
			hops[0].Addr, _ = netip.AddrFromSlice(r.Gw)
			for _, nh := range r.MultiPath {
				g := Gateway{Link: nh.LinkIndex}
				g.Addr, _ = netip.AddrFromSlice(nh.Gw)
				hops = append(hops, g)
			}
			for _, g := range hops {
				if g.Link > 0 {
					on[g.Link] = true
				}
				g.Addr = g.Addr.Unmap()
				if g.Addr.IsValid() && !slices.Contains(gws, g) {
					gws = append(gws, g)
				}
			}
		}
	}
	return on, gws, nil
}

// Gateway is a default route's next hop.
type Gateway struct {
	Addr netip.Addr
	Link int // the link it is reached through
}

// RouteLink returns the index of the link the kernel would use to reach ip.
func (h *Handle) RouteLink(ip netip.Addr) (int, error) {
	routes, err := h.nl.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, fmt.Errorf("looking up the route to %s: %w", ip, err)
	}
	if len(routes) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	return routes[0].LinkIndex, nil
}

func (h *Handle) link(index int) (netlink.Link, error) {
	l, err := h.nl.LinkByIndex(index)
	if err != nil {
		return nil, fmt.Errorf("link %d: %w", index, err)
	}
	return l, nil
}

// Rename sets the link down and renames it. The caller brings it up.
func (h *Handle) Rename(index int, name string) error {
	l, err := h.link(index)
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetDown(l); err != nil {
		return fmt.Errorf("setting %s down to rename it: %w", l.Attrs().Name, err)
	}
	if err := h.nl.LinkSetName(l, name); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", l.Attrs().Name, name, err)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (h *Handle) SetMTU(index, mtu int) error {
	l, err := h.link(index)
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetMTU(l, mtu); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("setting MTU %d on %s: the NIC refuses it, it is outside the range its driver supports (%w); lower the row's mtu", mtu, l.Attrs().Name, err)
		}
		return fmt.Errorf("setting MTU %d on %s: %w", mtu, l.Attrs().Name, err)
	}
	return nil
}

// SetUp sets the link administratively up or down.
func (h *Handle) SetUp(index int, up bool) error {
	l, err := h.link(index)
	if err != nil {
		return err
	}
	if up {
		err = h.nl.LinkSetUp(l)
	} else {
		err = h.nl.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("setting %s up=%v: %w", l.Attrs().Name, up, err)
	}
	return nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}}
}

// AddAddr adds an address to the link; one that is already there is not an error.
func (h *Handle) AddAddr(index int, p netip.Prefix) error {
	l, err := h.link(index)
	if err != nil {
		return err
	}
	if err := h.nl.AddrAdd(l, nlAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding %s to %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

// DelAddr removes an address from the link; one that is already gone is not an error.
func (h *Handle) DelAddr(index int, p netip.Prefix) error {
	l, err := h.link(index)
	if err != nil {
		return err
	}
	if err := h.nl.AddrDel(l, nlAddr(p)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("removing %s from %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}
