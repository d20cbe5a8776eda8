// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/store"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func open(t *testing.T, db *testenv.DB, nodes ...string) *store.Store {
	t.Helper()
	s, err := store.Open(store.Options{Socket: db.Socket, User: "root", Name: db.Name, MaxOpen: 2, MaxIdle: 1, MaxLifetime: time.Minute}, nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRowsReadsThisNodeOnly(t *testing.T) {
	db := testenv.NewDB(t)
	db.AddSubnet(t, "s4", "10.0.0.0/24")
	a := db.AddRow(t, "node1", "fa:16:3e:00:00:01", "s4", "10.0.0.5", 9000)
	b := db.AddRow(t, "node1.novalocal", "fa:16:3e:00:00:02", "missing-subnet", nil, nil)
	db.AddRow(t, "node10", "fa:16:3e:00:00:03", "s4", "10.0.0.6", 1500)
	db.Exec(t, "UPDATE multi_interface SET deleted_at=NOW(), netplan_success=1 WHERE id=?", b)

	rows, err := open(t, db, "node1.novalocal", "node1").Rows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2 (short and full name, deleted_at ignored): %+v", len(rows), rows)
	}
	if r := rows[0]; r.ID != a || r.MAC != "fa:16:3e:00:00:01" || r.Address != "10.0.0.5" || r.CIDR != "10.0.0.0/24" || !r.HasMTU || r.MTU != 9000 || r.Success {
		t.Errorf("row a: %+v", r)
	}
	if r := rows[1]; r.ID != b || r.Address != "" || r.CIDR != "" || r.HasMTU || !r.Success || r.Node != "node1.novalocal" {
		t.Errorf("row b (NULLs): %+v", r)
	}
}

func TestSetSuccess(t *testing.T) {
	db := testenv.NewDB(t)
	id := db.AddRow(t, "node1", "fa:16:3e:00:00:01", "s4", nil, nil)
	other := db.AddRow(t, "node2", "fa:16:3e:00:00:02", "s4", nil, nil)
	s := open(t, db, "node1")
	ctx := context.Background()
	if err := s.SetSuccess(ctx, id, true); err != nil || db.Success(t, id) != 1 {
		t.Fatalf("set 1: %v", err)
	}
	// Writing the value it already has matches the row: not "row gone".
	if err := s.SetSuccess(ctx, id, true); err != nil {
		t.Errorf("unchanged update: %v", err)
	}
	if err := s.SetSuccess(ctx, other, true); !errors.Is(err, store.ErrRowGone) || db.Success(t, other) != 0 {
		t.Errorf("another node's row: %v, success %d", err, db.Success(t, other))
	}
}

func TestUnreachableServer(t *testing.T) {
	s, err := store.Open(store.Options{Host: "127.0.0.1", Port: 1, User: "x", Password: "hunter2", Name: "multinic", MaxOpen: 1, Timeout: 2 * time.Second}, []string{"n"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Rows(context.Background())
	if err == nil {
		t.Fatal("read from a closed port succeeded")
	}
	if msg := err.Error(); len(msg) == 0 || strings.Contains(msg, "hunter2") {
		t.Errorf("error %q", msg)
	}
}

// TestErrorsNameTheSettingAtFault connects to the real server with one
// setting wrong at a time: each error names that setting alone, not the
// five database keys, and never the password.
func TestErrorsNameTheSettingAtFault(t *testing.T) {
	db := testenv.NewDB(t)
	user := "mnt_key" + strings.TrimPrefix(db.Name, "mnt_")
	db.Exec(t, "CREATE USER '"+user+"'@'localhost' IDENTIFIED BY 'right-pw-1'")
	t.Cleanup(func() { db.DB.Exec("DROP USER '" + user + "'@'localhost'") })
	db.Exec(t, "GRANT SELECT ON "+db.Name+".multi_interface TO '"+user+"'@'localhost'")

	// A TCP port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	keys := []string{"DB_HOST", "DB_PORT", "DB_SOCKET", "DB_USER", "DB_PASSWORD", "DB_NAME"}
	for _, c := range []struct {
		name string
		o    store.Options
		want []string // the keys named, all others must be absent
	}{
		{"wrong password", store.Options{Socket: db.Socket, User: user, Password: "wrong-pw-2", Name: db.Name}, []string{"DB_USER", "DB_PASSWORD"}},
		{"unknown user", store.Options{Socket: db.Socket, User: user + "x", Password: "right-pw-1", Name: db.Name}, []string{"DB_USER", "DB_PASSWORD"}},
		{"unknown database as root", store.Options{Socket: db.Socket, User: "root", Name: db.Name + "_nope"}, []string{"DB_NAME"}},
		{"unknown database as the agent's user", store.Options{Socket: db.Socket, User: user, Password: "right-pw-1", Name: db.Name + "_nope"}, []string{"DB_NAME", "DB_USER"}},
		{"no server at the socket", store.Options{Socket: filepath.Join(t.TempDir(), "mysqld.sock"), User: user, Password: "right-pw-1", Name: db.Name}, []string{"DB_SOCKET"}},
		{"no server at host and port", store.Options{Host: "127.0.0.1", Port: closedPort, User: user, Password: "right-pw-1", Name: db.Name}, []string{"DB_HOST", "DB_PORT"}},
	} {
		c.o.MaxOpen, c.o.MaxIdle, c.o.MaxLifetime, c.o.Timeout = 1, 1, time.Minute, 5*time.Second
		s, err := store.Open(c.o, []string{"node1"})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Ping(context.Background())
		s.Close()
		if err == nil {
			t.Errorf("%s: Ping succeeded", c.name)
			continue
		}
		msg := err.Error()
		_, hint, ok := strings.Cut(msg, "; check ")
		if !ok {
			t.Errorf("%s: %q names no setting to check", c.name, msg)
			continue
		}
		for _, k := range keys {
			named := strings.Contains(hint, k)
			if slices.Contains(c.want, k) && !named {
				t.Errorf("%s: %q does not name %s", c.name, msg, k)
			}
			if !slices.Contains(c.want, k) && named {
				t.Errorf("%s: %q names %s, which is not at fault", c.name, msg, k)
			}
		}
		if strings.Contains(msg, "right-pw-1") || strings.Contains(msg, "wrong-pw-2") {
			t.Errorf("%s: the password is in the error: %q", c.name, msg)
		}
		t.Logf("%s: %s", c.name, msg)
	}

	// The same hint reaches the reconcile's read.
	s, err := store.Open(store.Options{Socket: db.Socket, User: user, Password: "wrong-pw-2", Name: db.Name, MaxOpen: 1, MaxLifetime: time.Minute}, []string{"node1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Rows(context.Background()); err == nil || !strings.HasSuffix(err.Error(), "; check DB_USER and DB_PASSWORD") {
		t.Errorf("Rows with a wrong password: %v", err)
	}
}

// TestDriverMessagesGoToTheLog: go-sql-driver's own messages (here: a
// connection whose server side went away) are warnings in the agent's
// JSON log, not "[mysql] ..." text on stderr.
func TestDriverMessagesGoToTheLog(t *testing.T) {
	db := testenv.NewDB(t)
	proxy := testenv.NewProxy(t, db.Socket)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	s, err := store.Open(store.Options{Socket: proxy.Path, User: "root", Name: db.Name, MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute, Log: log}, []string{"node1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// The pooled connection loses its server; the next statement finds
	// it dead, the driver says so and the pool dials again.
	proxy.Cut()
	proxy.Restore()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after the connection was cut: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "database driver" {
			found = true
			// "broken pipe" from packets.go, or "closing bad idle
			// connection" from connection.go, depending on who sees it first.
			if m["level"] != "WARN" || m["error"] == "" || !regexp.MustCompile(`^\w+\.go:\d+$`).MatchString(m["at"]) {
				t.Errorf("driver message: %q", line)
			}
		}
	}
	if !found {
		t.Errorf("the driver's message did not reach the log; log:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestReachableTellsADownServerFromARefusingOne: the probe the daemon runs
// while the database cannot be reached says yes for a server that greets,
// no for no listener, a listener that hangs up, and a server that refuses
// new clients with an error packet; failures of a read are "unreachable"
// only when no connection could be made.
func TestReachableTellsADownServerFromARefusingOne(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	if err := open(t, db, "node1").Reachable(ctx); err != nil {
		t.Errorf("the test server: %v", err)
	}

	dir := t.TempDir()
	gone := filepath.Join(dir, "gone.sock")
	s, _ := store.Open(store.Options{Socket: gone, User: "root", Name: db.Name, MaxOpen: 1, Timeout: 2 * time.Second}, []string{"node1"})
	defer s.Close()
	if err := s.Reachable(ctx); err == nil {
		t.Error("no socket: reachable")
	}
	if _, err := s.Rows(ctx); !store.Unreachable(err) {
		t.Errorf("no socket: %v is not unreachable", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tcp, _ := store.Open(store.Options{Host: "127.0.0.1", Port: port, User: "root", Name: db.Name, MaxOpen: 1, Timeout: 2 * time.Second}, []string{"node1"})
	defer tcp.Close()
	if _, err := tcp.Rows(ctx); !store.Unreachable(err) {
		t.Errorf("a closed TCP port: %v is not unreachable", err)
	}

	serve := func(name string, reply []byte) *store.Store {
		p := filepath.Join(dir, name)
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write(reply)
				c.Close()
			}
		}()
		s, _ := store.Open(store.Options{Socket: p, User: "root", Name: db.Name, MaxOpen: 1, Timeout: 2 * time.Second}, []string{"node1"})
		t.Cleanup(func() { s.Close() })
		return s
	}
	msg := "#08004Too many connections"
	full := append([]byte{byte(3 + len(msg)), 0, 0, 0, 0xff, 0x10, 0x04}, msg...)
	if err := serve("full.sock", full).Reachable(ctx); err == nil || !strings.Contains(err.Error(), "Error 1040: Too many connections") {
		t.Errorf("a server refusing new clients: %v", err)
	}
	if err := serve("hangup.sock", nil).Reachable(ctx); err == nil || !strings.Contains(err.Error(), "no greeting") {
		t.Errorf("a listener that hangs up: %v", err)
	}
	refusing := serve("refusing.sock", full)
	if _, err := refusing.Rows(ctx); err == nil || store.Unreachable(err) {
		t.Errorf("a server that answered with an error: %v counts as unreachable", err)
	}
}

// TestAConnectionTheServerClosedIsReplaced: the pooled connection is
// killed by the server between two reads (a restart, wait_timeout); the
// next read notices before writing (the connection's own liveness check)
// and goes on a new connection instead of failing.
func TestAConnectionTheServerClosedIsReplaced(t *testing.T) {
	db := testenv.NewDB(t)
	db.AddRow(t, "node1", "fa:16:3e:00:00:01", "s4", nil, nil)
	s := open(t, db, "node1")
	ctx := context.Background()
	if _, err := s.Rows(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", db.Name)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatal("no pooled connection to kill")
	}
	for _, id := range ids {
		db.Exec(t, fmt.Sprintf("KILL CONNECTION %d", id))
	}
	time.Sleep(time.Second) // the connection has been idle: it is checked
	for k := range 3 {
		if got, err := s.Rows(ctx); err != nil || len(got) != 1 {
			t.Fatalf("read %d after the server closed the connection: %v %v", k+1, got, err)
		}
	}
}

// A read that waits on the server (here, another session's table lock)
// ends as soon as its context does, with the context's error, and the
// store reads again once the server answers: the read's statement is not
// cancellable itself (rowsContext), the end of the context interrupts it.
func TestRowsEndWithTheirContext(t *testing.T) {
	db := testenv.NewDB(t)
	db.AddRow(t, "node1", "fa:16:3e:00:00:01", "s4", "10.0.0.5", 1500)
	s, err := store.Open(store.Options{Socket: db.Socket, User: "root", Name: db.Name, MaxOpen: 2, MaxIdle: 2, Timeout: 30 * time.Second}, []string{"node1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A pooled connection first, so that the interrupt meets an idle one
	// as well as the one in flight.
	if _, err := s.Rows(context.Background()); err != nil {
		t.Fatal(err)
	}
	lock, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "LOCK TABLES multi_interface WRITE, multi_subnet WRITE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := s.Rows(ctx)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the read did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("interrupted read: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read went on after its context ended (the store's timeout is 30 s)")
	}
	if _, err := lock.ExecContext(context.Background(), "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Rows(context.Background())
	if err != nil || len(rows) != 1 {
		t.Fatalf("after the interrupt: %d rows, %v", len(rows), err)
	}
	// A context that has ended reads nothing.
	if _, err := s.Rows(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("read with an ended context: %v", err)
	}
}
