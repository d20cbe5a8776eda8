// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/lock"
	"github.com/multinic-agent/multinic-agent/internal/prevagent"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

const doctorSummary = "Check what the agent needs, one pass/fail line each: the config file and its permissions, the database and its grants, the node name and its rows (with near-miss names), the OS and backend, CAP_NET_ADMIN, netlink, the config directories, the health port; exit 0 when nothing fails, 1 otherwise"

type report struct {
	w      io.Writer
	failed bool
}

func (r *report) line(status, check, detail string) {
	if status == "FAIL" {
		r.failed = true
	}
	fmt.Fprintf(r.w, "%-4s  %-14s  %s\n", status, check, detail)
}

func (r *report) pass(check, format string, a ...any) {
	r.line("PASS", check, fmt.Sprintf(format, a...))
}
func (r *report) warn(check, format string, a ...any) {
	r.line("WARN", check, fmt.Sprintf(format, a...))
}
func (r *report) fail(check, format string, a ...any) {
	r.line("FAIL", check, fmt.Sprintf(format, a...))
}

func runDoctor(args []string, stdout, stderr io.Writer) int {
	r := &report{w: stdout}
	cfg, err := loadConfig("doctor", doctorSummary, args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		r.fail("configuration", "%v", err)
		return 1
	}
	ctx := context.Background()
	checkConfigFile(r, cfg)

	if caps, err := effectiveCaps(); err != nil {
		r.fail("privileges", "cannot read the process capabilities: %v", err)
	} else if caps&(1<<unix.CAP_NET_ADMIN) == 0 {
		r.fail("privileges", "no CAP_NET_ADMIN (uid %d): run as root (sudo multinic-agent doctor) or with the capability", os.Geteuid())
	} else {
		r.pass("privileges", "CAP_NET_ADMIN held (uid %d)", os.Geteuid())
	}

	st, err := networkStack(cfg)
	backend := st.backend
	switch {
	case err != nil:
		r.fail("os/backend", "%v", err)
	default:
		r.pass("os/backend", "%s → %s (NETWORK_BACKEND=%s: %s)", orDash(st.os.PrettyName, "unknown OS"), backend.Name(), cfg.NetworkBackend, st.evidence)
		if st.atBoot != nil {
			r.fail("at boot", "%v", st.atBoot)
		} else {
			r.pass("at boot", "the %s files are read at the next boot", backend.Name())
		}
	}

	if h, err := links.Open(); err != nil {
		r.fail("netlink", "%v", err)
	} else {
		ls, err := h.List()
		h.Close()
		if err != nil {
			r.fail("netlink", "%v", err)
		} else {
			r.pass("netlink", "%d links readable", len(ls))
		}
	}

	if checkDatabase(ctx, r, cfg) {
		checkClaims(ctx, r, cfg)
	}

	if backend != nil {
		for _, d := range backend.Dirs() {
			checkWritable(r, cfg.RootDir.Path(d))
		}
	}
	checkWritable(r, cfg.RootDir.Path("/var/lib/multinic-agent"))
	checkHealthPort(r, cfg)
	if err := previousAgent(); err != nil {
		r.fail("instance", "%v", err)
	}
	if lk, err := lock.Acquire(cfg.RootDir.Path(cfg.LockFile)); err != nil {
		r.warn("instance", "%v", err)
	} else {
		lk.Release()
		r.pass("instance", "no other agent holds %s", cfg.RootDir.Path(cfg.LockFile))
	}
	if r.failed {
		return 1
	}
	return 0
}

func checkConfigFile(r *report, cfg *config.Config) {
	if cfg.File == "" {
		r.warn("config file", "none at %s; settings come from the environment and defaults (copy deployments/systemd/config.env.template there)", config.DefaultFile)
		return
	}
	st, err := os.Stat(cfg.File)
	if err != nil {
		r.fail("config file", "%v", err)
		return
	}
	perm := st.Mode().Perm()
	owner := st.Sys().(*syscall.Stat_t).Uid
	switch {
	case perm&0o077 != 0:
		r.fail("config file", "%s is mode %04o and holds DB_PASSWORD: run chmod 600 %s", cfg.File, perm, cfg.File)
	case owner != 0:
		r.fail("config file", "%s is owned by uid %d: run chown root: %s", cfg.File, owner, cfg.File)
	case len(cfg.Unknown) > 0:
		r.fail("config file", "%s has unknown keys %s: check their spelling against deployments/systemd/config.env.template", cfg.File, strings.Join(cfg.Unknown, ", "))
	default:
		r.pass("config file", "%s, mode %04o, owner root", cfg.File, perm)
	}
	for _, why := range cfg.Ignored {
		r.fail("config file", "%s: make it KEY=VALUE or a comment", why)
	}
	for _, k := range cfg.Previous {
		r.warn("config file", "%s is a key of the previous multinic-agent, ignored (%s): delete its line from %s", k, config.PreviousKeys[k], cfg.File)
	}
}

// checkDatabase reports on the database and this node's rows; it returns
// whether the rows could be read.
func checkDatabase(ctx context.Context, r *report, cfg *config.Config) bool {
	nodes, err := cfg.NodeNames()
	if err != nil {
		r.fail("node name", "%v", err)
		return false
	}
	if err := cfg.CheckDatabase(); err != nil {
		r.fail("database", "%v", err)
		return false
	}
	target := net.JoinHostPort(cfg.DBHost, strconv.Itoa(cfg.DBPort))
	if cfg.DBSocket != "" {
		target = cfg.DBSocket
	}
	st, err := store.Open(store.Options{
		Host: cfg.DBHost, Port: cfg.DBPort, Socket: cfg.DBSocket, User: cfg.DBUser, Password: cfg.DBPassword,
		Name: cfg.DBName, TLS: cfg.DBTLS, TLSCA: cfg.DBTLSCA, MaxOpen: 1, MaxLifetime: cfg.DBMaxLifetime,
	}, nodes)
	if err != nil {
		r.fail("database", "%v", err)
		return false
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		// The store's error names the one setting at fault.
		r.fail("database", "%s as %q, database %q: %v", target, cfg.DBUser, cfg.DBName, err)
		return false
	}
	r.pass("database", "%s as %q, database %q answers", target, cfg.DBUser, cfg.DBName)
	if err := st.CheckAccess(ctx); err != nil {
		r.fail("grants", "%v; grant SELECT ON %s.multi_interface and %s.multi_subnet, and UPDATE (netplan_success) ON %s.multi_interface, to %q", err, cfg.DBName, cfg.DBName, cfg.DBName, cfg.DBUser)
		return false
	}
	r.pass("grants", "SELECT on multi_interface and multi_subnet, UPDATE of netplan_success")
	rows, err := st.Rows(ctx)
	if err != nil {
		r.fail("node rows", "%v", err)
		return false
	}
	if len(rows) > 0 {
		r.pass("node rows", "%d rows for %s", len(rows), strings.Join(nodes, " / "))
		return true
	}
	all, err := st.AllNodeNames(ctx, 5000)
	if err != nil {
		r.fail("node rows", "no rows for %s (%v)", strings.Join(nodes, " / "), err)
		return false
	}
	hint := "set NODE_NAME to the attached_node_name the controller uses"
	if near := nearMisses(nodes, all); len(near) > 0 {
		hint = fmt.Sprintf("names in the table that look close: %s; %s", strings.Join(near, ", "), hint)
	}
	r.fail("node rows", "no rows for %s; %s", strings.Join(nodes, " / "), hint)
	return false
}

// nearMisses returns names that differ from one of ours only by case, by
// the domain part, or by at most two edits.
func nearMisses(ours, all []string) []string {
	var out []string
	for _, n := range all {
		for _, o := range ours {
			ln, lo := strings.ToLower(n), strings.ToLower(o)
			sn, _, _ := strings.Cut(ln, ".")
			so, _, _ := strings.Cut(lo, ".")
			if ln == lo || sn == so || editDistance(ln, lo) <= 2 {
				out = append(out, strconv.Quote(n))
				break
			}
		}
		if len(out) == 5 {
			break
		}
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// checkWritable tells whether the agent could write in dir (or create it)
// without writing anything: access(2) reports read-only mounts too.
func checkWritable(r *report, dir string) {
	p := dir
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := unix.Access(p, unix.W_OK); err != nil {
		r.fail("config dir", "%s is not writable (%v): the unit's ReadWritePaths= or the mount must allow it", dir, err)
		return
	}
	if p != dir {
		r.pass("config dir", "%s can be created (under %s)", dir, p)
		return
	}
	r.pass("config dir", "%s writable", dir)
}

func checkHealthPort(r *report, cfg *config.Config) {
	if cfg.HealthPort == 0 {
		r.pass("health port", "HEALTH_PORT=0: no listener")
		return
	}
	addr := net.JoinHostPort(cfg.HealthAddr, strconv.Itoa(cfg.HealthPort))
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		r.pass("health port", "%s free", addr)
		return
	}
	if p, ok := prevagent.Holder("/proc", cfg.HealthPort); ok {
		r.fail("health port", "%s is taken: %s", addr, p.Sentence())
		return
	}
	if daemonInterfaces(cfg) != nil {
		r.pass("health port", "%s served by the running multinic-agent", addr)
		return
	}
	r.fail("health port", "%s is taken by another program (%v): free it or set HEALTH_PORT", addr, err)
}

func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// checkClaims lists the configuration that is not the agent's and claims
// one of this node's NICs: FAIL where it takes effect (the row fails too),
// WARN where nothing on this node reads it.
func checkClaims(ctx context.Context, r *report, cfg *config.Config) {
	a, err := newAgent(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		r.fail("other configs", "%v", err)
		return
	}
	defer a.Close()
	p, err := a.rec.Plan(ctx)
	if err != nil {
		r.fail("other configs", "%v", err)
		return
	}
	found := false
	for _, it := range p.Ifaces {
		for _, c := range it.Claims {
			found = true
			if c.TakesEffect {
				r.fail("other configs", "row %d (%s): %s also configures this NIC and takes effect on this node: remove that entry", it.Row.ID, it.Want.Name, c)
			} else {
				r.warn("other configs", "row %d (%s): %s also configures this NIC; nothing on this node reads it now", it.Row.ID, it.Want.Name, c)
			}
		}
	}
	if !found {
		r.pass("other configs", "no configuration but the agent's claims this node's NICs")
	}
}
