// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package proto is what the VM test's host side and its guest driver say
// to each other over the VM's control port (a virtio-serial port the host
// holds the other end of): one JSON object per line.
package proto

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Port is the name of the virtio-serial port; the guest sees it as
// /dev/virtio-ports/<Port>.
const Port = "multinic.ctl"

// Guard is on the guest kernel's command line. The guest driver renames
// NICs, stops services and reboots: it refuses to run where it is absent.
const Guard = "multinic.vmtest=1"

// PhasesArg, followed by phase names separated by commas, on the guest
// kernel's command line makes the driver run only those phases (in their
// own order) after the setup: MULTINIC_VMTEST_PHASES on the host.
const PhasesArg = "multinic.vmtest.phases="

// Message types.
const (
	Hello  = "hello"  // guest: the driver started (Boot, Uptime)
	Step   = "step"   // guest: a step begins (Phase, Name)
	Check  = "check"  // guest: one check's result (Phase, Name, OK, Detail, Seconds)
	Note   = "note"   // guest: something worth showing (Detail)
	Reboot = "reboot" // guest: rebooting now (Detail says why)
	Done   = "done"   // guest: every step ran; powering off
	Req    = "req"    // guest: asks the host to act (ID, Verb, Args)
	Res    = "res"    // host: the answer to a request (ID, Code, Body, Err)
)

// Host verbs.
const (
	// HotplugAdd plugs a virtio NIC: Args are the device id and its MAC.
	HotplugAdd = "hotplug-add"
	// HotplugDel unplugs the device with the id in Args[0] and waits until
	// the guest released it.
	HotplugDel = "hotplug-del"
	// HTTPGet fetches Args[0] (a path) from the agent's health port through
	// the VM's host forward; Code and Body are the answer.
	HTTPGet = "http-get"
)

// Msg is one line on the control port.
type Msg struct {
	Type    string   `json:"type"`
	Boot    int      `json:"boot,omitempty"`
	Uptime  float64  `json:"uptime,omitempty"`
	Phase   string   `json:"phase,omitempty"`
	Name    string   `json:"name,omitempty"`
	OK      bool     `json:"ok,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Seconds float64  `json:"seconds,omitempty"`
	ID      int      `json:"id,omitempty"`
	Verb    string   `json:"verb,omitempty"`
	Args    []string `json:"args,omitempty"`
	Code    int      `json:"code,omitempty"`
	Body    string   `json:"body,omitempty"`
	Err     string   `json:"err,omitempty"`
}

// Conn reads and writes messages.
type Conn struct {
	mu sync.Mutex
	w  io.Writer
	r  *bufio.Reader
}

// NewConn wraps a stream.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{w: rw, r: bufio.NewReaderSize(rw, 1<<20)}
}

// Send writes m as one line.
func (c *Conn) Send(m Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.w.Write(append(b, '\n'))
	return err
}

// Recv reads the next message. Lines that are not messages (noise on a
// port that was just opened) are skipped.
func (c *Conn) Recv() (Msg, error) {
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			return Msg{}, err
		}
		var m Msg
		if json.Unmarshal(line, &m) == nil && m.Type != "" {
			return m, nil
		}
	}
}

// String is a message as the host prints it.
func (m Msg) String() string {
	switch m.Type {
	case Check:
		verdict := "PASS"
		if !m.OK {
			verdict = "FAIL"
		}
		return fmt.Sprintf("%s %-8s %s (%.1fs)%s", verdict, m.Phase, m.Name, m.Seconds, detail(m.Detail))
	case Step:
		return fmt.Sprintf("---- %s: %s", m.Phase, m.Name)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}
