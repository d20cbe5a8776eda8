// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gsql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"
)

// dbName is the schema the agent reads (its DB_NAME default).
const dbName = "multinic"

// sqlServer is go-mysql-server with an in-memory database, serving the
// MySQL protocol on a unix socket: a socket is reachable from inside any
// network namespace, a TCP port on the host's loopback is not.
type sqlServer struct {
	Socket string
	srv    *server.Server
	done   chan struct{}
}

// startServer serves an empty "multinic" database on socket until Close.
func startServer(socket string) (*sqlServer, error) {
	logrus.SetLevel(logrus.ErrorLevel) // its per-connection lines would drown the tour
	pro := memory.NewDBProvider(memory.NewDatabase(dbName))
	engine := sqle.NewDefault(pro)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on the unix socket %s: %w", socket, err)
	}
	// Without user accounts of its own, go-mysql-server lets any user in
	// without a password: the agent connects as root.
	cfg := server.Config{Protocol: "unix", Address: socket, Listener: ln}
	srv, err := server.NewServer(cfg, engine, gsql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("cannot start go-mysql-server: %w", err)
	}
	s := &sqlServer{Socket: socket, srv: srv, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		srv.Start()
	}()
	return s, nil
}

// Close stops the server and removes its socket.
func (s *sqlServer) Close() {
	s.srv.Close()
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	os.Remove(s.Socket)
}

// openDB connects to the server through go-sql-driver, as the agent does.
func openDB(socket string) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", socket, dbName
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach the demo database on %s: %w", socket, err)
	}
	return db, nil
}

// loadSchema runs the shipped schema file, one statement at a time.
func loadSchema(db *sql.DB, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the schema (run from the repository root, or pass -schema): %w", err)
	}
	for _, stmt := range statements(string(b)) {
		if _, err := db.Exec(stmt); err != nil {
			return fmt.Errorf("loading %s into go-mysql-server: %w\n%s", path, err, stmt)
		}
	}
	return nil
}

// statements splits a SQL file on ";" after dropping "--" comment lines.
func statements(src string) []string {
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
