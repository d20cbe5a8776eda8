// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/multinic-agent/multinic-agent/schema"
)

// server is the MariaDB the harness measures against: by default a private
// mariadbd started for the run (so that SHOW GLOBAL STATUS and the server's
// CPU count nothing but the agent or the fleet), or an existing one.
type server struct {
	Socket  string
	PID     int
	Private bool
	// Args is the private server's command line.
	Args  string
	dir   string
	args  []string
	extra []string // of the current start
	cmd   *exec.Cmd
	admin *sql.DB
}

// startPrivate initialises a data directory under dir and starts mariadbd on
// a socket there, with no TCP listener and Debian's server character set.
func startPrivate(dir string) (*server, error) {
	mysqld := "/usr/sbin/mariadbd"
	if _, err := os.Stat(mysqld); err != nil {
		p, err := exec.LookPath("mariadbd")
		if err != nil {
			return nil, errors.New("mariadbd is not installed (scripts/test.sh installs mariadb-server)")
		}
		mysqld = p
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		return nil, fmt.Errorf("no mysql user (install mariadb-server): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	data, rundir := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{data, rundir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return nil, err
		}
	}
	if _, err := run("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=mysql",
		"--skip-test-db", "--auth-root-authentication-method=socket"); err != nil {
		return nil, err
	}
	s := &server{Socket: filepath.Join(rundir, "mysqld.sock"), Private: true, dir: dir,
		args: []string{mysqld, "--no-defaults", "--datadir=" + data, "--socket=" + filepath.Join(rundir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(rundir, "mysqld.pid"), "--skip-networking", "--user=mysql",
			"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
			"--open-files-limit=20000", "--skip-log-bin"}}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs mariadbd with the server's arguments and extra ones (which
// last until the next start) and waits until it answers.
func (s *server) start(extra ...string) error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "mariadbd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.extra = extra
	s.cmd = exec.Command(s.args[0], append(s.args[1:], extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.PID = s.cmd.Process.Pid
	s.Args = strings.Join(append([]string{"mariadbd"}, append(s.args[1:], extra...)...), " ")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := s.connect(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(filepath.Join(s.dir, "mariadbd.log"))
			return fmt.Errorf("private mariadbd did not answer within 60s:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restart stops a private server and starts it again with extra options,
// as an operator changing my.cnf would.
func (s *server) restart(extra ...string) error {
	s.Stop()
	return s.start(extra...)
}

// useExisting measures against a running server (its counters then include
// every other client's statements).
func useExisting(socket string) (*server, error) {
	s := &server{Socket: socket}
	if err := s.connect(); err != nil {
		return nil, fmt.Errorf("cannot reach MariaDB as root on %s: %w", socket, err)
	}
	out, err := exec.Command("pidof", "mariadbd").Output()
	if err == nil {
		if f := strings.Fields(string(out)); len(f) == 1 {
			s.PID, _ = strconv.Atoi(f[0])
		}
	}
	return s, nil
}

func (s *server) connect() error {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "unix", s.Socket
	c.MultiStatements = true
	c.Timeout = 5 * time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return err
	}
	// One connection: the status queries of the harness are then one
	// known session's.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return err
	}
	s.admin = db
	return nil
}

// Stop ends a private server (an existing one is left alone).
func (s *server) Stop() {
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	if s.cmd != nil && s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
}

func (s *server) exec(q string, args ...any) error {
	_, err := s.admin.Exec(q, args...)
	if err != nil {
		return fmt.Errorf("%.80s: %w", q, err)
	}
	return nil
}

func (s *server) version() string {
	var v string
	s.admin.QueryRow("SELECT VERSION()").Scan(&v)
	return v
}

// variable is a global system variable's value (name is a constant of
// the harness, never input).
func (s *server) variable(name string) string {
	var v sql.NullString
	s.admin.QueryRow("SELECT @@GLOBAL." + name).Scan(&v)
	return v.String
}

// createDB creates a database with the shipped schema.
func (s *server) createDB(name string) error {
	if err := s.exec("DROP DATABASE IF EXISTS " + name); err != nil {
		return err
	}
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		return err
	}
	if !s.Private {
		atExit(func() { s.exec("DROP DATABASE IF EXISTS " + name) })
	}
	ctx := context.Background()
	conn, err := s.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE "+name); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, schema.SQL); err != nil {
		return fmt.Errorf("loading schema/schema.sql: %w", err)
	}
	// Leave the session without a default database, so that the agent's
	// connections are the only ones PROCESSLIST shows in it.
	_, err = conn.ExecContext(ctx, "USE mysql")
	return err
}

// status is one SHOW GLOBAL STATUS.
type status map[string]float64

func (s *server) status() (status, error) {
	rows, err := s.admin.Query("SHOW GLOBAL STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := status{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out, rows.Err()
}

// statusVars are the counters the harness reports.
var statusVars = []string{"Questions", "Com_select", "Com_stmt_prepare", "Com_stmt_execute", "Com_stmt_close",
	"Com_update", "Com_insert", "Com_delete", "Com_admin_commands", "Connections", "Bytes_received", "Bytes_sent",
	"Handler_read_key", "Handler_read_next", "Handler_read_rnd_next", "Handler_write", "Handler_update"}

func (a status) minus(b status) status {
	d := status{}
	for k, v := range a {
		d[k] = v - b[k]
	}
	return d
}

// overhead measures what a SHOW GLOBAL STATUS pair adds to the counters by
// itself: the deltas between back-to-back snapshots with nothing else
// running, the median of n pairs.
func (s *server) overhead(n int) (status, error) {
	var ds []status
	prev, err := s.status()
	if err != nil {
		return nil, err
	}
	for range n {
		cur, err := s.status()
		if err != nil {
			return nil, err
		}
		ds = append(ds, cur.minus(prev))
		prev = cur
	}
	out := status{}
	for _, k := range statusVars {
		var xs []float64
		for _, d := range ds {
			xs = append(xs, d[k])
		}
		out[k] = median(xs)
	}
	return out, nil
}

// serverCPU is mariadbd's user+system time in seconds.
func (s *server) cpu() float64 {
	if s.PID == 0 {
		return 0
	}
	st, err := readProcStat(s.PID)
	if err != nil {
		return 0
	}
	return float64(st.Utime+st.Stime) / float64(clockTicks)
}
