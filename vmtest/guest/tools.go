// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/multinic-agent/multinic-agent/internal/links"
)

// sh runs a command and returns its combined output; an exit status
// other than 0 is an error that carries the output.
func sh(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, lastLines(s, 8))
	}
	return s, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// prop reads one property of a unit.
func prop(unit, name string) string {
	out, _ := exec.Command("systemctl", "show", "-P", name, unit).Output()
	return strings.TrimSpace(string(out))
}

// cursor is the journal's current end, for reading what comes after it.
func cursor() string {
	out, _ := exec.Command("journalctl", "-n", "0", "--show-cursor", "-q").Output()
	_, c, _ := strings.Cut(string(out), "-- cursor: ")
	return strings.TrimSpace(c)
}

// entry is one line the agent logged; Raw is set when it was not JSON.
type entry struct {
	M   map[string]any
	Raw string
}

func (e entry) s(key string) string {
	if v, ok := e.M[key]; ok {
		switch v := v.(type) {
		case string:
			return v
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return ""
}

// journal returns the messages logged under a syslog identifier after the
// cursor, or since this boot when after is "". The identifier is matched
// here, not with journalctl -t: systemd 252's journalctl --after-cursor
// with a match skips the first matching entry when the cursor's own entry
// does not match.
func journal(after, identifier string) []string {
	args := []string{"-o", "json", "-q", "--no-pager"}
	if after != "" {
		args = append(args, "--after-cursor="+after)
	} else {
		args = append(args, "-b")
	}
	out, _ := exec.Command("journalctl", args...).Output()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var j struct {
			ID      string `json:"SYSLOG_IDENTIFIER"`
			Message any    `json:"MESSAGE"`
		}
		if json.Unmarshal([]byte(line), &j) != nil || j.ID != identifier {
			continue
		}
		msg, ok := j.Message.(string)
		if !ok {
			// journald stores a message that is not UTF-8 as bytes.
			b, _ := json.Marshal(j.Message)
			msg = string(b)
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

// agentLog returns what the agent printed (its stdout and stderr, by its
// SyslogIdentifier) after the cursor, or since this boot when after is "".
func agentLog(after string) []entry {
	var es []entry
	for _, msg := range journal(after, "multinic-agent") {
		var m map[string]any
		if json.Unmarshal([]byte(msg), &m) != nil {
			es = append(es, entry{Raw: msg})
			continue
		}
		es = append(es, entry{M: m})
	}
	return es
}

// find returns the entries whose msg starts with prefix.
func find(es []entry, prefix string) []entry {
	var out []entry
	for _, e := range es {
		if e.M != nil && strings.HasPrefix(e.s("msg"), prefix) {
			out = append(out, e)
		}
	}
	return out
}

// get fetches a path from the agent's health port inside the VM.
func get(path string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://127.0.0.1:8080" + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// healthDoc is the part of GET / the checks read.
type healthDoc struct {
	Status     string `json:"status"`
	DBOK       bool   `json:"database_connected"`
	Components struct {
		NetworkManager struct {
			Type string `json:"type"`
		} `json:"network_manager"`
	} `json:"components"`
	Interfaces []struct {
		ID      int64  `json:"id"`
		Name    string `json:"name"`
		MAC     string `json:"mac"`
		Address string `json:"address"`
		MTU     int    `json:"mtu"`
		State   string `json:"state"`
		Error   string `json:"error"`
	} `json:"interfaces"`
}

func parseHealth(body string) (healthDoc, error) {
	var h healthDoc
	err := json.Unmarshal([]byte(body), &h)
	return h, err
}

// states summarises the health document's interfaces: "3 configured".
func (h healthDoc) states() string {
	n := map[string]int{}
	var keys []string
	for _, i := range h.Interfaces {
		if n[i.State] == 0 {
			keys = append(keys, i.State)
		}
		n[i.State]++
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	return strings.Join(parts, ", ")
}

// metric returns the value of the first sample whose line starts with
// name (labels included), or "".
func metric(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, name))
		}
	}
	return ""
}

// db opens the VM's MariaDB as root over its socket.
func db() (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", "/run/mysqld/mysqld.sock", "multinic"
	c.MultiStatements = true
	c.Timeout = 5 * time.Second
	c.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

func dbExec(q string, args ...any) error {
	d, err := db()
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.Exec(q, args...)
	return err
}

// success returns each row's netplan_success by id.
func success() (map[int64]int, error) {
	d, err := db()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	rows, err := d.Query("SELECT id, netplan_success FROM multi_interface")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var v sql.NullInt64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = int(v.Int64)
	}
	return out, rows.Err()
}

// nics lists the VM's links.
func nics() ([]links.Link, error) {
	h, err := links.Open()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.List()
}

func byMAC(ls []links.Link, mac string) *links.Link {
	for k := range ls {
		if ls[k].MAC == mac {
			return &ls[k]
		}
	}
	return nil
}

// linkIs checks a NIC's live state: its name, MTU, addresses, up.
func linkIs(mac, name string, mtu int, addr string) (string, error) {
	ls, err := nics()
	if err != nil {
		return "", err
	}
	l := byMAC(ls, mac)
	if l == nil {
		return "", fmt.Errorf("no link with MAC %s", mac)
	}
	var addrs []string
	for _, a := range l.Addrs {
		addrs = append(addrs, a.String())
	}
	want := []string{}
	if addr != "" {
		want = []string{addr}
	}
	if addrs == nil {
		addrs = []string{}
	}
	got := fmt.Sprintf("%s mtu %d %v up=%v", l.Name, l.MTU, addrs, l.Up)
	if l.Name != name || l.MTU != mtu || !slices.Equal(addrs, want) || !l.Up {
		return "", fmt.Errorf("%s is %s, want %s mtu %d %v up", mac, got, name, mtu, want)
	}
	return got, nil
}

// mgmtOK checks that the management NIC kept its address and the default
// route: the agent must never touch it.
func mgmtOK() (string, error) {
	ls, err := nics()
	if err != nil {
		return "", err
	}
	l := byMAC(ls, mgmtMAC)
	if l == nil {
		return "", fmt.Errorf("no management NIC %s", mgmtMAC)
	}
	if l.Name != "mgmt0" || !slices.Contains(l.Addrs, netip.MustParsePrefix("10.0.2.15/24")) || !l.Up {
		return "", fmt.Errorf("management NIC is %s %v up=%v", l.Name, l.Addrs, l.Up)
	}
	out, err := sh("ip", "-4", "route", "show", "default")
	if err != nil || !strings.Contains(out, "via 10.0.2.2 dev mgmt0") {
		return "", fmt.Errorf("default route: %q %v", out, err)
	}
	return "mgmt0 10.0.2.15/24, " + out, nil
}

// managedFiles returns the agent's files (by their header) in the
// directories every backend writes, with a hash of each.
func managedFiles() map[string]string {
	out := map[string]string{}
	for _, dir := range configDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil || !bytes.HasPrefix(b, []byte("# Managed by multinic-agent")) {
				continue
			}
			h := sha256.Sum256(b)
			out[p] = hex.EncodeToString(h[:6])
		}
	}
	return out
}

var configDirs = []string{"/etc/netplan", "/etc/systemd/network", "/etc/NetworkManager/system-connections", "/etc/network/interfaces.d", "/etc/sysconfig/network-scripts"}

// snapshot is the node's state the agent must leave alone while the
// database is down: links (index, name, MTU, addresses, up) and files.
func snapshot() (string, error) {
	ls, err := nics()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%d %s %s %d %v %v\n", l.Index, l.Name, l.MAC, l.MTU, l.Addrs, l.Up)
	}
	files := managedFiles()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, files[k])
	}
	return b.String(), nil
}

// kernelRenames returns the kernel's "NEW: renamed from OLD" lines of this
// boot for the link now called name, oldest first.
func kernelRenames(name string) []string {
	out, _ := exec.Command("journalctl", "-k", "-b", "-o", "cat", "-q", "--no-pager", "--grep", "renamed from").Output()
	re := regexp.MustCompile(`(\S+): renamed from (\S+)`)
	var from []string
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil && m[1] == name {
			from = append(from, m[2])
		}
	}
	return from
}
