// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/probe"
)

// The latencies a controller sees: a hot-plugged NIC to netplan_success=1
// with the node's default gateway answering, silent or absent; a database
// outage to the next successful read; a row written and a cycle requested
// to its result.

func randFloat() float64 { return rand.Float64() }

// HotplugRun is one hot-plug variant: what the node's default gateway does.
type HotplugRun struct {
	Gateway string    `json:"gateway"` // none, answering, silent
	AddrMs  []float64 `json:"addr_ms"`
	OKMs    []float64 `json:"success_ms"`
	// CycleMs is the duration_ms of the cycle that applied the NIC, from
	// the agent's log, and Phases its phases_ms (agents that log them).
	CycleMs []float64            `json:"cycle_ms"`
	Phases  []map[string]float64 `json:"phases_ms,omitempty"`
}

// phaseNames are the phases of a cycle the agent logs, in order.
var phaseNames = []string{"read", "gateways", "apply", "activate", "verify", "check", "report"}

// medianPhases is the median of each phase over the runs.
func (h *HotplugRun) medianPhases() string {
	if len(h.Phases) == 0 {
		return ""
	}
	var out []string
	for _, n := range phaseNames {
		var xs []float64
		for _, p := range h.Phases {
			xs = append(xs, p[n])
		}
		out = append(out, fmt.Sprintf("%s %s", n, fnum(median(xs), 1)))
	}
	return strings.Join(out, ", ")
}

// OutageRun is one database outage length: from the database's return to
// the agent's first successful read (its /readyz answering 200).
type OutageRun struct {
	OutageS    float64   `json:"outage_s"`
	IntervalS  float64   `json:"interval_s"`
	BackToOKMs []float64 `json:"back_to_ok_ms"`
	// Level is the backoff level when the database came back.
	Level []float64 `json:"level"`
}

// Latency is what one agent binary measured.
type Latency struct {
	Binary  string       `json:"binary"`
	Rev     string       `json:"rev,omitempty"`
	Hotplug []HotplugRun `json:"hotplug"`
	Outage  []OutageRun  `json:"outage"`
	// RequestMs is POST /reconcile after a row was written, to its
	// answer; RequestOK says whether the row was at 1 when it came.
	Idle *IdleRun `json:"idle,omitempty"`
	// Floor are windows of floorClient reading Idle's node's rows.
	Floor       []window  `json:"floor,omitempty"`
	RequestMs   []float64 `json:"request_ms,omitempty"`
	RequestOK   []bool    `json:"request_ok,omitempty"`
	RequestCmds []string  `json:"request_cycle_triggers,omitempty"`
}

func (l *Latency) hotplug(gw string) *HotplugRun {
	for k := range l.Hotplug {
		if l.Hotplug[k].Gateway == gw {
			return &l.Hotplug[k]
		}
	}
	return nil
}

// buildRev builds the agent of a git revision of this repository, as
// `make build` does, from `git archive` into dir (no worktree).
func buildRev(rev, dir string) (string, error) {
	src := filepath.Join(dir, "src-"+rev)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("git", "archive", rev)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin = pipe
	var aerr bytes.Buffer
	archive.Stderr = &aerr
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %v: %s", rev, err, aerr.String())
	}
	if err := untar.Wait(); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "multinic-agent-"+rev)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/agent")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", rev, err, b)
	}
	return out, nil
}

// addGateway gives the namespace an uplink with a default route through a
// gateway in a namespace of its own, which answers echo requests or not.
func addGateway(n *harness.Netns, answer bool) error {
	gw, err := newNamespace(n.Name + "g")
	if err != nil {
		return err
	}
	for _, c := range [][]string{
		{"-n", n.Name, "link", "add", "up0", "type", "veth", "peer", "name", "gw0", "netns", gw.Name},
		{"-n", n.Name, "addr", "add", "10.99.0.2/24", "dev", "up0"},
		{"-n", n.Name, "link", "set", "up0", "up"},
		{"-n", gw.Name, "addr", "add", "10.99.0.1/24", "dev", "gw0"},
		{"-n", gw.Name, "link", "set", "gw0", "up"},
		{"-n", n.Name, "route", "add", "default", "via", "10.99.0.1"},
	} {
		if _, err := run("ip", c...); err != nil {
			return err
		}
	}
	if !answer {
		if _, err := run("ip", "netns", "exec", gw.Name, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"); err != nil {
			return err
		}
	}
	// The gateway's address is resolved before the first run, and it
	// answers or not as asked.
	err = echo(n, netip.MustParseAddr("10.99.0.1"))
	switch {
	case answer && err != nil:
		return fmt.Errorf("the gateway does not answer: %w", err)
	case !answer && err == nil:
		return errors.New("the silent gateway answers")
	}
	return nil
}

// echo sends an ICMP echo request from inside the namespace and waits a
// second for the reply, as the agent's gateway probe does.
func echo(n *harness.Netns, addr netip.Addr) error {
	return n.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return probe.Echo(ctx, addr)
	})
}

// hotplugVariants measures a NIC hot-plugged after its row with each kind
// of default gateway.
func (g *rig) hotplugVariants(bin string, lat *Latency, prefix string) error {
	for k, gw := range []string{"none", "answering", "silent"} {
		hr, err := g.hotplugWith(bin, fmt.Sprintf("%sh%d", prefix, k), gw, 0xc3+k)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", gw, err)
		}
		lat.Hotplug = append(lat.Hotplug, *hr)
	}
	return nil
}

// hotplugWith: POLL_INTERVAL=60s, so that only the netlink event explains
// a fast convergence; each run inserts a row, waits 0.5 s, then creates
// the veth with the row's MAC.
func (g *rig) hotplugWith(bin, nsName, gw string, group int) (*HotplugRun, error) {
	const interval = 60 * time.Second
	node := "bench-" + nsName
	ns, err := newNamespace(nsName)
	if err != nil {
		return nil, err
	}
	defer ns.Delete()
	if gw != "none" {
		if err := addGateway(ns, gw == "answering"); err != nil {
			return nil, err
		}
	}
	e := g.env(node, filepath.Join(g.o.Dir, "root-"+nsName), interval.String(), "info")
	e.Binary = bin
	a, err := startAgent(ns, e)
	if err != nil {
		return nil, err
	}
	defer a.Stop(stopWithin)
	if err := a.firstCycle(); err != nil {
		return nil, err
	}
	hr := &HotplugRun{Gateway: gw}
	for k := 1; k <= min(g.o.Runs, g.o.NICs); k++ {
		m := mac(group, k)
		id, err := g.insertRow(node, m, "s6", fmt.Sprintf("10.40.0.%d", 10+k), 1500)
		if err != nil {
			return nil, err
		}
		time.Sleep(500 * time.Millisecond)
		from := a.LineCount()
		start := time.Now()
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), m); err != nil {
			return nil, err
		}
		addrAt, okAt, err := g.plugged(ns, m, fmt.Sprintf("10.40.0.%d/24", 10+k), id, start, 5*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("hot-plugged NIC %s: %w\n%s", m, err, a.Tail(20))
		}
		time.Sleep(time.Second) // the cycle's log line, and the cycles its own changes trigger
		cycle := -1.0
		var phases map[string]float64
		for _, line := range a.Lines(from) {
			var l struct {
				Msg        string             `json:"msg"`
				Changed    bool               `json:"changed"`
				DurationMs float64            `json:"duration_ms"`
				Phases     map[string]float64 `json:"phases_ms"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "reconcile finished" && l.Changed && cycle < 0 {
				cycle, phases = l.DurationMs, l.Phases
			}
		}
		if phases != nil {
			hr.Phases = append(hr.Phases, phases)
		}
		hr.AddrMs, hr.OKMs, hr.CycleMs = append(hr.AddrMs, ms(addrAt)), append(hr.OKMs, ms(okAt)), append(hr.CycleMs, cycle)
		logf("hot-plug (%s, gateway %s) %s: address after %.0f ms, netplan_success=1 after %.0f ms, its cycle %.0f ms", filepath.Base(bin), gw, m, ms(addrAt), ms(okAt), cycle)
	}
	return hr, nil
}

// outage takes the database away from one agent (POLL_INTERVAL=5s) for
// each length, runs times, and measures from its return to the agent's
// first successful read.
func (g *rig) outage(bin, nsName string, lengths []time.Duration, runs int) ([]OutageRun, error) {
	const interval = 5 * time.Second
	node := "bench-" + nsName
	ns, err := newNamespace(nsName)
	if err != nil {
		return nil, err
	}
	defer ns.Delete()
	if err := ns.AddNIC("eth1", mac(0xc9, 1)); err != nil {
		return nil, err
	}
	if _, err := g.insertRow(node, mac(0xc9, 1), "s6", "10.40.0.99", 1500); err != nil {
		return nil, err
	}
	px, err := harness.NewProxy(filepath.Join(g.o.Dir, nsName+".sock"), g.srv.Socket)
	if err != nil {
		return nil, err
	}
	defer px.Cut()
	e := g.env(node, filepath.Join(g.o.Dir, "root-"+nsName), interval.String(), "info")
	e.Binary, e.Socket = bin, px.Path
	e.Extra = append(slices.Clone(e.Extra), "POLL_JITTER=10%")
	a, err := startAgent(ns, e)
	if err != nil {
		return nil, err
	}
	defer a.Stop(stopWithin)
	ready := func() (bool, error) {
		body, err := get(ns, g.port, "/readyz")
		return err == nil && strings.HasPrefix(body, "ok"), nil
	}
	var out []OutageRun
	for _, l := range lengths {
		or := OutageRun{OutageS: l.Seconds(), IntervalS: interval.Seconds()}
		for range runs {
			if err := waitFor(2*time.Minute, 20*time.Millisecond, ready); err != nil {
				return nil, fmt.Errorf("not ready before the outage: %w\n%s", err, a.Tail(20))
			}
			// A random phase against the agent's polls.
			time.Sleep(time.Duration(float64(interval) * randFloat()))
			px.Cut()
			time.Sleep(l)
			level, _ := metric(a.ns, g.port, "multinic_polling_backoff_level")
			if err := px.Restore(); err != nil {
				return nil, err
			}
			back := time.Now()
			if err := waitFor(10*time.Minute, 10*time.Millisecond, ready); err != nil {
				return nil, fmt.Errorf("not ready after the outage: %w\n%s", err, a.Tail(20))
			}
			took := ms(time.Since(back))
			or.BackToOKMs, or.Level = append(or.BackToOKMs, took), append(or.Level, level)
			logf("outage (%s) of %s at POLL_INTERVAL=%s: backoff level %.0f, a successful read %.0f ms after the database came back", filepath.Base(bin), l, interval, level, took)
		}
		out = append(out, or)
	}
	return out, nil
}

// request: a row written for a NIC already present, then POST /reconcile,
// with POLL_INTERVAL=60s: the answer's latency, and whether the row was at
// netplan_success=1 when it came.
func (g *rig) request(lat *Latency, nsName string) error {
	const node, interval = "bench-request", 60 * time.Second
	const token = "bench-token-0123456789abcdef"
	ns, err := newNamespace(nsName)
	if err != nil {
		return err
	}
	defer ns.Delete()
	for k := 1; k <= g.o.NICs; k++ {
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), mac(0xca, k)); err != nil {
			return err
		}
	}
	e := g.env(node, filepath.Join(g.o.Dir, "root-"+nsName), interval.String(), "info")
	e.Extra = append(slices.Clone(e.Extra), "RECONCILE_TOKEN="+token)
	a, err := startAgent(ns, e)
	if err != nil {
		return err
	}
	defer a.Stop(stopWithin)
	if err := a.firstCycle(); err != nil {
		return err
	}
	c := ns.HTTPClient()
	c.Timeout = time.Minute
	for k := 1; k <= min(g.o.Runs, g.o.NICs); k++ {
		time.Sleep(1500 * time.Millisecond) // past the request gap and the last change's events
		id, err := g.insertRow(node, mac(0xca, k), "s5", fmt.Sprintf("10.30.0.%d", 100+k), 1500)
		if err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/reconcile", g.port), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := ms(time.Since(start))
		ok, err := g.success(id)
		if err != nil {
			return err
		}
		var res struct {
			Trigger string `json:"trigger"`
			Exit    int    `json:"exit"`
		}
		json.Unmarshal(body, &res)
		if resp.StatusCode != http.StatusOK || res.Exit != 0 {
			return fmt.Errorf("POST /reconcile: %d %s", resp.StatusCode, body)
		}
		lat.RequestMs, lat.RequestOK, lat.RequestCmds = append(lat.RequestMs, took), append(lat.RequestOK, ok), append(lat.RequestCmds, res.Trigger)
		logf("row %d written, POST /reconcile answered after %.0f ms (cycle: %s), netplan_success=1 then: %v", id, took, res.Trigger, ok)
	}
	return nil
}

// IdleRun is one binary's idle cost, measured the same way for each: 10
// converged NICs at POLL_INTERVAL=1s, windows of schedstat over every
// thread, memory after them, and the system calls of 10 s of cycles.
type IdleRun struct {
	Windows []window  `json:"windows"`
	Mem     memStatus `json:"mem"`
	// Syscalls per idle cycle, by name, from `strace -c -f`.
	Syscalls map[string]float64 `json:"syscalls_per_cycle"`
}

func (r *IdleRun) perCycle() (cpuMs, ctxsw []float64) {
	for _, w := range r.Windows {
		if w.Cycles > 0 {
			cpuMs = append(cpuMs, float64(w.CPUNs)/1e6/w.Cycles)
			ctxsw = append(ctxsw, float64(w.CtxSw)/w.Cycles)
		}
	}
	return
}

func (r *IdleRun) syscallTotal() float64 {
	t := 0.0
	for _, v := range r.Syscalls {
		t += v
	}
	return t
}

// idleOf measures bin's idle cost on a node of its own.
func (g *rig) idleOf(bin, nsName string, group int) (*IdleRun, error) {
	node := "bench-" + nsName
	ns, err := newNamespace(nsName)
	if err != nil {
		return nil, err
	}
	defer ns.Delete()
	for k := 1; k <= g.o.NICs; k++ {
		if err := ns.AddNIC(fmt.Sprintf("eth%d", k), mac(group, k)); err != nil {
			return nil, err
		}
		if _, err := g.insertRow(node, mac(group, k), "s4", fmt.Sprintf("10.20.0.%d", 10+k), 1500); err != nil {
			return nil, err
		}
	}
	e := g.env(node, filepath.Join(g.o.Dir, "root-"+nsName), "1s", "warn")
	e.Binary = bin
	a, err := startAgent(ns, e)
	if err != nil {
		return nil, err
	}
	defer a.Stop(stopWithin)
	if err := g.waitConverged(a, node, g.o.NICs, 60*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(g.o.Settle)
	ir := &IdleRun{}
	for range g.o.Runs {
		w, err := g.window(a, g.o.Window, true)
		if err != nil {
			return nil, err
		}
		ir.Windows = append(ir.Windows, w)
		logf("idle (%s): %.0f cycles, %.3f ms CPU/cycle, %.1f context switches/cycle", filepath.Base(bin), w.Cycles, float64(w.CPUNs)/1e6/w.Cycles, float64(w.CtxSw)/w.Cycles)
	}
	if ir.Mem, err = readMem(a.PID); err != nil {
		return nil, err
	}
	if ir.Syscalls, err = countSyscalls(a, 10*time.Second); err != nil {
		return nil, err
	}
	return ir, nil
}

// countSyscalls counts the agent's system calls (every thread) over d with
// `strace -c -f`, per cycle.
func countSyscalls(a *agentProc, d time.Duration) (map[string]float64, error) {
	if err := ensureStrace(); err != nil {
		return nil, err
	}
	c0, err := a.cycles()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("strace", "-c", "-f", "-p", fmt.Sprint(a.PID))
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	time.Sleep(d)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	c1, err := a.cycles()
	if err != nil {
		return nil, err
	}
	cycles := c1 - c0
	if cycles <= 0 {
		return nil, errors.New("no cycle while counting system calls")
	}
	// The two scrapes of the cycle counter are the harness's: their
	// accept, reads and writes are counted too, and left in (a handful).
	res := map[string]float64{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "total" || f[len(f)-1] == "syscall" {
			continue
		}
		var calls float64
		if _, err := fmt.Sscan(f[3], &calls); err != nil {
			continue
		}
		res[f[len(f)-1]] = calls / cycles
	}
	return res, nil
}
