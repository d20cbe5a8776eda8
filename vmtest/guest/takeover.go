// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
)

// takeover starts the netplan phase on a node laid out exactly as the
// previous generation of multinic-agent leaves it (netplan is the one of
// its backends Debian runs): its files at the agent's paths, in its shape
// (netconftest.PreviousNetplan, the one internal/netplan's adoption tests
// and cmd/agent.TestTakeoverOfPreviousAgentNode use: no header, mode 0644),
// the rows at netplan_success=1, and the VM booted from them. Then the
// phase installs the agent, whose first cycle must adopt the files with
// no flap: the same links (ifindex), no address removed, no link set down,
// no carrier change, the rows still at 1, the previous files kept under
// reconcile.BackupDir. It costs one reboot.
var takeover = &before{
	name:          "the previous agent's node: its netplan files and rows, then a reboot into them",
	lay:           layPrevious,
	bootedName:    "after the reboot: the previous agent's files alone",
	booted:        previousBooted,
	planned:       plannedTakeover,
	installedName: "the takeover: the first cycle adopted its files with no flap",
	installed:     adopted,
}

// previousFile is the previous agent's file for a row.
func previousFile(r row) (string, []byte) {
	return netplan.Path(r.name), netconftest.PreviousNetplan(netconftest.Previous{Name: r.name, MAC: r.mac, Addr: r.addr, MTU: r.mtu})
}

func layPrevious(g *G, p phase) {
	ok := g.check("its files at the agent's paths (no header, mode 0644)", func() (string, error) {
		var out []string
		for _, r := range rows {
			path, data := previousFile(r)
			if exists(path) {
				return "", fmt.Errorf("%s is there already", path)
			}
			if err := write(path, string(data), 0o644); err != nil {
				return "", err
			}
			out = append(out, path)
		}
		return strings.Join(out, ", "), nil
	})
	ok = ok && g.check("its rows at netplan_success = 1", func() (string, error) {
		for _, r := range rows {
			if err := dbExec("UPDATE multi_interface SET netplan_success = 1 WHERE id = ?", r.id); err != nil {
				return "", err
			}
		}
		return allSuccess()
	})
	if !ok {
		g.abort("the previous agent's node could not be laid out")
	}
}

// The links as the previous agent's files left them, and the watch over
// them from before the install to the takeover's checks (one boot, one
// driver process).
var (
	prevLinks map[string]prevLink // by MAC
	flaps     *flapWatch
)

type prevLink struct {
	index          int
	name           string
	addrs          []string
	carrierChanges string
}

func previousBooted(g *G, p phase) {
	// What a boot makes of the files: names by netplan's .link, addresses
	// and MTUs by networkd from netplan's .network, as for the agent's own.
	fromFiles(g, p, "the previous agent's")
	g.check("the previous agent's files as it left them; no agent installed", func() (string, error) {
		for _, r := range rows {
			path, want := previousFile(r)
			got, err := os.ReadFile(path)
			if err != nil {
				return "", err
			}
			if !bytes.Equal(got, want) {
				return "", fmt.Errorf("%s changed:\n%s", path, got)
			}
		}
		for _, bin := range []string{"/usr/bin/multinic-agent", "/usr/local/bin/multinic-agent"} {
			if exists(bin) {
				return "", fmt.Errorf("%s is installed", bin)
			}
		}
		return "", nil
	})
	g.check("netplan_success = 1 in every row", allSuccess)
	ok := g.check("the links watched from now on (kernel events) and their state kept: ifindex, addresses, carrier_changes", func() (string, error) {
		ls, err := nics()
		if err != nil {
			return "", err
		}
		watched := map[int]string{}
		prevLinks = map[string]prevLink{}
		var out []string
		for _, r := range rows {
			l := byMAC(ls, r.mac)
			if l == nil {
				return "", fmt.Errorf("no NIC with MAC %s", r.mac)
			}
			watched[l.Index] = l.Name
			pl := prevLink{index: l.Index, name: l.Name, carrierChanges: carrierChanges(l.Name)}
			for _, a := range l.Addrs {
				pl.addrs = append(pl.addrs, a.String())
			}
			prevLinks[r.mac] = pl
			out = append(out, fmt.Sprintf("%s index %d carrier_changes %s", l.Name, l.Index, pl.carrierChanges))
		}
		// The management NIC too: systemctl enable's daemon-reload makes
		// netplan's generator write its .network again, and the agent's
		// first reload then makes networkd reconfigure it.
		mgmt, err := netlink.LinkByName("mgmt0")
		if err != nil {
			return "", fmt.Errorf("mgmt0: %w", err)
		}
		watched[mgmt.Attrs().Index] = "mgmt0"
		if flaps, err = watchFlaps(watched); err != nil {
			return "", err
		}
		return strings.Join(out, ", "), nil
	})
	if !ok {
		g.abort("the links could not be watched")
	}
}

// plannedTakeover checks the canary's step of the migration guide
// (docs/daemon.md): before the start, plan shows only adoptions and, per
// NIC, router advertisements turned off; exit 2.
func plannedTakeover(g *G, p phase) {
	g.check("multinic-agent plan before the start: exit 2, only adopt and router advertisements off", func() (string, error) {
		cmd := exec.Command("multinic-agent", "plan")
		b, err := cmd.CombinedOutput()
		out := string(b)
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			return "", fmt.Errorf("exit %d (%v), want 2 (changes pending):\n%s", code, err, out)
		}
		adopt, ra := 0, 0
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "    ") {
				continue
			}
			a := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(a, "adopt "):
				adopt++
			case strings.HasPrefix(a, "stop learning from router advertisements"):
				ra++
			default:
				return "", fmt.Errorf("plan shows more than the takeover: %q\n%s", a, out)
			}
		}
		if adopt != len(rows) {
			return "", fmt.Errorf("%d adopt lines, want %d:\n%s", adopt, len(rows), out)
		}
		return fmt.Sprintf("%d adopt, %d router advertisements off", adopt, ra), nil
	})
}

func readOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func carrierChanges(name string) string {
	b, err := os.ReadFile("/sys/class/net/" + name + "/carrier_changes")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func adopted(g *G, p phase) {
	if flaps == nil {
		g.result("the takeover's watch", false, "the links were not watched before the install (the driver restarted?)", 0)
		return
	}
	// networkctl reload returns before networkd has reconfigured the links
	// whose files changed (well under a second): give it time, then check
	// that it runs them configured.
	time.Sleep(3 * time.Second)
	g.within("networkd runs each NIC configured again", time.Minute, func() (string, error) {
		var out []string
		for _, r := range rows {
			s, err := p.consumed(r.name)
			if err != nil {
				return "", fmt.Errorf("%s: %w", r.name, err)
			}
			out = append(out, s)
		}
		return strings.Join(out, "; "), nil
	})
	seen := flaps.stop()
	cur := g.val("cursor:" + p.name)
	log := agentLog(cur)
	var reconfigured []string
	for _, m := range journal(cur, "systemd-networkd") {
		if name, _, ok := strings.Cut(m, ": Reconfiguring with "); ok && strings.HasPrefix(name, "multinic") {
			reconfigured = append(reconfigured, name)
		}
	}
	networkd := "networkd reconfigured " + strings.Join(reconfigured, ", ")
	if len(reconfigured) == 0 {
		networkd = "networkd reconfigured none of them"
	}
	g.check("each of the previous agent's files adopted once (log and multinic_adopted_files_total)", func() (string, error) {
		var paths []string
		for _, e := range find(log, "adopted a file of the previous multinic-agent") {
			paths = append(paths, e.s("path"))
		}
		for _, r := range rows {
			path, _ := previousFile(r)
			if n := countOf(paths, path); n != 1 {
				return "", fmt.Errorf("%s adopted %d times (adoptions logged: %v)", path, n, paths)
			}
		}
		if len(paths) != len(rows) {
			return "", fmt.Errorf("adoptions logged: %v", paths)
		}
		_, m, err := get("/metrics")
		if err != nil {
			return "", err
		}
		if v := metric(m, "multinic_adopted_files_total"); v != fmt.Sprint(len(rows)) {
			return "", fmt.Errorf("multinic_adopted_files_total %q, want %d", v, len(rows))
		}
		return fmt.Sprintf("%d files, multinic_adopted_files_total %d", len(paths), len(rows)), nil
	})
	g.check("each file now the agent's own (header, mode 0600), the previous one kept byte for byte under "+reconcile.BackupDir, func() (string, error) {
		var out []string
		for _, r := range rows {
			path, prev := previousFile(r)
			if err := isOurs(path, 0o600); err != nil {
				return "", err
			}
			backup := reconcile.BackupDir + path
			b, err := os.ReadFile(backup)
			if err != nil {
				return "", err
			}
			if !bytes.Equal(b, prev) {
				return "", fmt.Errorf("%s is not the previous agent's file:\n%s", backup, b)
			}
			out = append(out, backup)
		}
		return strings.Join(out, ", "), nil
	})
	g.check("no live change but router advertisements off: no address, MTU, name or up/down applied", func() (string, error) {
		var ra int
		for _, e := range find(log, "applied") {
			a := e.s("action")
			if strings.HasPrefix(a, "stop learning from router advertisements") {
				ra++
				continue
			}
			return "", fmt.Errorf("%s: %s (drift %q)", e.s("name"), a, e.s("drift"))
		}
		return fmt.Sprintf("%d NICs stopped learning from router advertisements", ra), nil
	})
	g.check("no flap: same ifindex, no link set down, carrier_changes unchanged, every address there", func() (string, error) {
		ls, err := nics()
		if err != nil {
			return "", err
		}
		var bad []string
		for _, r := range rows {
			pl := prevLinks[r.mac]
			l := byMAC(ls, r.mac)
			if l == nil {
				bad = append(bad, r.mac+" gone")
				continue
			}
			if l.Index != pl.index || l.Name != pl.name {
				bad = append(bad, fmt.Sprintf("%s was %s index %d, now %s index %d", r.mac, pl.name, pl.index, l.Name, l.Index))
			}
			if c := carrierChanges(l.Name); c != pl.carrierChanges {
				bad = append(bad, fmt.Sprintf("%s carrier_changes %s -> %s", l.Name, pl.carrierChanges, c))
			}
			var now []string
			for _, a := range l.Addrs {
				now = append(now, a.String())
			}
			for _, a := range pl.addrs {
				if !slices.Contains(now, a) {
					bad = append(bad, fmt.Sprintf("%s lost %s", l.Name, a))
				}
			}
		}
		bad = append(bad, seen.links...)
		if len(bad) > 0 {
			return "", fmt.Errorf("%s (%s)", strings.Join(bad, "; "), networkd)
		}
		return fmt.Sprintf("%d links as before the install; %s", len(rows), networkd), nil
	})
	removed := seen.removed(func(l string) bool { return l != "mgmt0" })
	// Without the agent's KeepConfiguration=static drop-in, networkd 252
	// took the address off each link whose generated .network changed and
	// put it back about 100 ms later.
	g.check("no address removed from the adopted links (kernel events from before the install until now)", func() (string, error) {
		if len(removed) > 0 {
			return "", fmt.Errorf("%s (%s)", strings.Join(removed, "; "), networkd)
		}
		return networkd, nil
	})
	// The management NIC's generated file, written again by the generator
	// that the install's and systemctl enable's daemon-reloads run, would be
	// a changed file for networkd's next reload, the agent's first, and
	// networkd 252 would take its address off (seen: 256 ms): the agent
	// puts back the file networkd read, from the install's snapshot.
	mgmt := seen.removed(func(l string) bool { return l == "mgmt0" })
	g.check("no address removed from the management NIC", func() (string, error) {
		before, after := g.val("mgmt file before start:"+p.name), g.val("mgmt file after start:"+p.name)
		if len(mgmt) > 0 {
			return "", fmt.Errorf("%s (%s: %s before the start, %s after)", strings.Join(mgmt, "; "), mgmtGenerated, before, after)
		}
		return fmt.Sprintf("none (%s: %s before the start, %s after)", mgmtGenerated, before, after), nil
	})
	g.check("netplan_success = 1 in every row", allSuccess)
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// flapWatch records, from the kernel's events, what interrupts traffic on
// the watched links: a link set down or deleted, an address removed
// (link-local ones aside: they come and go with the carrier) and when it
// came back.
type flapWatch struct {
	mu      sync.Mutex
	start   time.Time
	watched map[int]string
	up      map[int]bool
	seen    flapsSeen
	done    chan struct{}
}

// flapsSeen is what a flapWatch saw.
type flapsSeen struct {
	links []string // links set down or deleted, subscription errors
	addrs []addrGone
}

type addrGone struct {
	link, addr string
	at, back   time.Duration // back is 0 while the address is away
}

// removed describes each address removal from a link that on accepts:
// when, and when it came back.
func (f flapsSeen) removed(on func(link string) bool) []string {
	var out []string
	for _, a := range f.addrs {
		if !on(a.link) {
			continue
		}
		s := fmt.Sprintf("%.1fs: %s removed from %s", a.at.Seconds(), a.addr, a.link)
		if a.back > 0 {
			s += fmt.Sprintf(", back %.0f ms later", (a.back-a.at).Seconds()*1000)
		} else {
			s += ", not back"
		}
		out = append(out, s)
	}
	return out
}

func watchFlaps(watched map[int]string) (*flapWatch, error) {
	w := &flapWatch{start: time.Now(), watched: watched, up: map[int]bool{}, done: make(chan struct{})}
	lch := make(chan netlink.LinkUpdate, 256)
	ach := make(chan netlink.AddrUpdate, 256)
	// Closing done closes the sockets, and a receive cut short that way
	// ends with EAGAIN: only an error before that is one.
	fail := func(err error) {
		select {
		case <-w.done:
		default:
			w.link("subscription error: %v", err)
		}
	}
	if err := netlink.LinkSubscribeWithOptions(lch, w.done, netlink.LinkSubscribeOptions{ErrorCallback: fail}); err != nil {
		close(w.done)
		return nil, err
	}
	if err := netlink.AddrSubscribeWithOptions(ach, w.done, netlink.AddrSubscribeOptions{ErrorCallback: fail}); err != nil {
		close(w.done)
		return nil, err
	}
	// The links' state after the subscriptions: nothing falls between.
	ls, err := netlink.LinkList()
	if err != nil {
		close(w.done)
		return nil, err
	}
	for _, l := range ls {
		w.up[l.Attrs().Index] = l.Attrs().Flags&net.FlagUp != 0
	}
	go func() {
		for {
			select {
			case u, ok := <-lch:
				if !ok {
					return
				}
				a := u.Attrs()
				if _, ok := w.watched[a.Index]; !ok {
					continue
				}
				up := a.Flags&net.FlagUp != 0
				w.mu.Lock()
				was := w.up[a.Index]
				w.up[a.Index] = up
				w.mu.Unlock()
				switch {
				case u.Header.Type == unix.RTM_DELLINK:
					w.link("link %s (index %d) deleted", a.Name, a.Index)
				case was && !up:
					w.link("link %s (index %d) set down", a.Name, a.Index)
				}
			case u, ok := <-ach:
				if !ok {
					return
				}
				name, ok := w.watched[u.LinkIndex]
				if !ok || u.LinkAddress.IP.IsLinkLocalUnicast() {
					continue
				}
				w.addr(name, u.LinkAddress.String(), u.NewAddr)
			}
		}
	}()
	return w, nil
}

func (w *flapWatch) link(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen.links = append(w.seen.links, fmt.Sprintf("%.1fs: ", time.Since(w.start).Seconds())+fmt.Sprintf(format, args...))
}

func (w *flapWatch) addr(link, addr string, added bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Since(w.start)
	if !added {
		w.seen.addrs = append(w.seen.addrs, addrGone{link: link, addr: addr, at: now})
		return
	}
	for k := range w.seen.addrs {
		if a := &w.seen.addrs[k]; a.link == link && a.addr == addr && a.back == 0 {
			a.back = now
		}
	}
}

// stop ends the watch and returns what it saw.
func (w *flapWatch) stop() flapsSeen {
	close(w.done)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}
