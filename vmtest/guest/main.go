// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Command guest is the VM test's driver inside the VM: a systemd unit runs
// it at every boot; it resumes where the last boot left off, runs the
// phases' steps (installing the agent, checking what it did, breaking
// things and watching it repair them), reports every check on the control
// port, reboots the VM when a step needs a reboot and powers it off at
// the end. It refuses to run anywhere but in the test's VM (proto.Guard on
// the kernel command line): it renames NICs, stops services and reboots.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/vmtest/proto"
)

const (
	stateDir    = "/var/lib/multinic-vmtest"
	statePath   = stateDir + "/state.json"
	resultsPath = stateDir + "/results.jsonl"
)

// state is what survives a reboot.
type state struct {
	Boot int `json:"boot"`
	// Next is the index of the next step to run. It is saved before a step
	// runs, so a step that crashes the VM is never run again.
	Next int `json:"next"`
	// Vals are values steps keep for later ones (the NICs' first names,
	// times, snapshots).
	Vals map[string]string `json:"vals"`
	// Aborted phases skip their remaining steps.
	Aborted map[string]string `json:"aborted"`
	Passed  int               `json:"passed"`
	Failed  int               `json:"failed"`
}

// G is the driver: the control port, the state and the check helpers.
type G struct {
	ctl   *proto.Conn
	st    state
	phase string
	reqID int
}

func main() {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	if !strings.Contains(string(cmdline), proto.Guard) {
		fmt.Fprintf(os.Stderr, "guest: %q is not on the kernel command line: this is not the VM test's VM; refusing to run\n", proto.Guard)
		os.Exit(2)
	}
	port := "/dev/virtio-ports/" + proto.Port
	var f *os.File
	for i := 0; ; i++ {
		var err error
		if f, err = os.OpenFile(port, os.O_RDWR, 0); err == nil {
			break
		}
		if i == 600 {
			fmt.Fprintf(os.Stderr, "guest: cannot open the control port %s: %v\n", port, err)
			os.Exit(1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	g := &G{ctl: proto.NewConn(f)}
	g.load()
	g.st.Boot++
	g.save()
	g.send(proto.Msg{Type: proto.Hello, Boot: g.st.Boot, Uptime: uptime()})

	steps := allSteps()
	for g.st.Next < len(steps) {
		s := steps[g.st.Next]
		g.st.Next++
		g.save()
		g.phase = s.phase
		why, ok := g.st.Aborted[s.phase]
		if all, aborted := g.st.Aborted["*"]; aborted {
			why, ok = all, true
		}
		if ok {
			if s.reboot {
				g.note("%s: skipping %q (%s)", s.phase, s.name, why)
			}
			continue
		}
		g.send(proto.Msg{Type: proto.Step, Phase: s.phase, Name: s.name})
		s.run(g)
		if s.reboot {
			g.reboot(s.name)
		}
	}
	g.send(proto.Msg{Type: proto.Done, Detail: fmt.Sprintf("%d passed, %d failed", g.st.Passed, g.st.Failed)})
	syncDisks()
	exec.Command("systemctl", "poweroff").Run()
	waitForTheEnd()
}

// step is one part of a phase; reboot makes the VM reboot after it.
type step struct {
	phase, name string
	run         func(*G)
	reboot      bool
}

func (g *G) load() {
	g.st = state{}
	if b, err := os.ReadFile(statePath); err == nil {
		json.Unmarshal(b, &g.st)
	}
	if g.st.Vals == nil {
		g.st.Vals = map[string]string{}
	}
	if g.st.Aborted == nil {
		g.st.Aborted = map[string]string{}
	}
}

func (g *G) save() {
	os.MkdirAll(stateDir, 0o700)
	b, _ := json.Marshal(g.st)
	tmp := statePath + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return
	}
	f.Write(b)
	f.Sync()
	f.Close()
	os.Rename(tmp, statePath)
}

func (g *G) send(m proto.Msg) {
	if err := g.ctl.Send(m); err != nil {
		fmt.Fprintf(os.Stderr, "guest: control port: %v\n", err)
	}
}

func (g *G) note(format string, args ...any) {
	g.send(proto.Msg{Type: proto.Note, Phase: g.phase, Detail: fmt.Sprintf(format, args...)})
}

// result records one check: on the control port, in the results file
// (read back from the image after power-off) and in the counts.
func (g *G) result(name string, ok bool, detail string, took time.Duration) bool {
	m := proto.Msg{Type: proto.Check, Phase: g.phase, Name: name, OK: ok, Detail: detail, Seconds: took.Seconds()}
	if ok {
		g.st.Passed++
	} else {
		g.st.Failed++
	}
	g.save()
	if f, err := os.OpenFile(resultsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
		b, _ := json.Marshal(m)
		f.Write(append(b, '\n'))
		f.Sync()
		f.Close()
	}
	fmt.Println(m.String())
	g.send(m)
	return ok
}

// check runs f once: it passes when f returns no error, with f's detail.
func (g *G) check(name string, f func() (string, error)) bool {
	start := time.Now()
	detail, err := f()
	if err != nil {
		return g.result(name, false, err.Error(), time.Since(start))
	}
	return g.result(name, true, detail, time.Since(start))
}

// within retries f every 250 ms until it returns no error or d is over;
// the detail says how long it took.
func (g *G) within(name string, d time.Duration, f func() (string, error)) bool {
	start := time.Now()
	for {
		detail, err := f()
		took := time.Since(start)
		if err == nil {
			if detail != "" {
				detail += ", "
			}
			return g.result(name, true, fmt.Sprintf("%safter %.1fs", detail, took.Seconds()), took)
		}
		if took > d {
			return g.result(name, false, fmt.Sprintf("not within %s: %v", d, err), took)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// abort skips the rest of the current phase.
func (g *G) abort(why string) {
	g.st.Aborted[g.phase] = why
	g.save()
	g.result("phase aborted", false, why, 0)
}

// abortAll skips every step left.
func (g *G) abortAll(why string) {
	g.st.Aborted["*"] = why
	g.save()
	g.result("test aborted", false, why, 0)
}

// host asks the host to act and waits for its answer.
func (g *G) host(verb string, args ...string) (proto.Msg, error) {
	g.reqID++
	id := g.st.Boot*10000 + g.reqID
	g.send(proto.Msg{Type: proto.Req, ID: id, Verb: verb, Args: args})
	for {
		m, err := g.ctl.Recv()
		if err != nil {
			return proto.Msg{}, fmt.Errorf("control port: %w", err)
		}
		if m.Type == proto.Res && m.ID == id {
			if m.Err != "" {
				return m, fmt.Errorf("host: %s", m.Err)
			}
			return m, nil
		}
	}
}

func (g *G) reboot(why string) {
	g.send(proto.Msg{Type: proto.Reboot, Phase: g.phase, Detail: why})
	syncDisks()
	if out, err := exec.Command("systemctl", "reboot").CombinedOutput(); err != nil {
		g.result("reboot", false, fmt.Sprintf("systemctl reboot: %v: %s", err, out), 0)
	}
	waitForTheEnd()
}

// waitForTheEnd waits for systemd to stop the driver on the way down. Not
// select {}: with no other goroutine the runtime takes that for a
// deadlock and crashes the driver (a stack trace on the console at every
// reboot).
func waitForTheEnd() {
	for {
		time.Sleep(time.Hour)
	}
}

func syncDisks() {
	exec.Command("sync").Run()
}

func uptime() float64 {
	b, _ := os.ReadFile("/proc/uptime")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func (g *G) val(key string) string    { return g.st.Vals[key] }
func (g *G) setVal(key, value string) { g.st.Vals[key] = value; g.save() }
func exists(path string) bool         { _, err := os.Stat(path); return err == nil }
