// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package store reads this node's interface rows from the controller's
// MySQL/MariaDB schema and writes back netplan_success. It never writes any
// other column, never touches other nodes' rows and never changes the schema.
package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/multinic-agent/multinic-agent/internal/plan"
)

// Row is one multi_interface row joined with its subnet: the planner's type.
type Row = plan.Row

// Options are the connection settings the store needs.
type Options struct {
	Host, Socket, User, Password, Name string
	Port                               int
	TLS, TLSCA                         string
	MaxOpen, MaxIdle                   int
	MaxLifetime                        time.Duration
	// Timeout bounds dialing, each read and write on a connection, and
	// each statement but the read of the rows, which its context ends.
	Timeout time.Duration
	// Observe, when set, is told how long each statement took, by kind
	// (select_rows, update_success, ping).
	Observe func(kind string, d time.Duration)
	// Log, when set, receives the driver's own messages (a connection
	// closed under it, a bad packet) as warnings, instead of the driver's
	// plain "[mysql] ..." lines on stderr.
	Log *slog.Logger
}

// driverLog is go-sql-driver's Logger writing to the agent's log.
type driverLog struct{ log *slog.Logger }

// Print implements mysql.Logger. The driver passes "file.go:123 " first,
// then the error or message.
func (d driverLog) Print(v ...any) {
	msg := strings.TrimSpace(fmt.Sprint(v...))
	where, rest, ok := strings.Cut(msg, " ")
	if !ok || !strings.Contains(where, ".go:") {
		where, rest = "", msg
	}
	d.log.Warn("database driver", "error", strings.TrimSpace(rest), "at", where)
}

// Store is a connection pool bound to this node's names.
type Store struct {
	db     *sql.DB
	socket bool
	// network and addr are where the server listens (Reachable dials it).
	network, addr string
	nodes         []string
	nodeArgs      []any // nodes, as the statements' arguments
	timeout       time.Duration
	query         string
	update        string
	observe       func(string, time.Duration)
	conns         *conns
	// raw is the last result's columns as Rows encodes them, lastRaw and
	// rows those of the last result it parsed.
	mu           sync.Mutex
	raw, lastRaw []byte
	rows         []Row
	// cols receive a row's columns through dest, kept from one read to
	// the next.
	cols [9]sql.RawBytes
	dest []any
}

func (s *Store) took(kind string, start time.Time) {
	if s.observe != nil {
		s.observe(kind, time.Since(start))
	}
}

// Open prepares a pool; it does not connect until the first query.
func Open(o Options, nodes []string) (*Store, error) {
	if len(nodes) == 0 {
		return nil, errors.New("store: no node name given")
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	c := mysql.NewConfig()
	c.User = o.User
	c.Passwd = o.Password
	c.DBName = o.Name
	if o.Socket != "" {
		c.Net, c.Addr = "unix", o.Socket
	} else {
		c.Net, c.Addr = "tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	}
	// One round trip per statement: no server-side prepare for each poll.
	c.InterpolateParams = true
	// RowsAffected counts matched rows, so an UPDATE to the same value is
	// not mistaken for a missing row.
	c.ClientFoundRows = true
	c.Timeout = o.Timeout
	// On Linux the connection's reads and writes skip the runtime's
	// system-call bookkeeping, and the end of a read's context interrupts
	// them (conn_linux.go).
	cs := newConns()
	c.DialFunc = cs.dial
	c.ReadTimeout = o.Timeout
	c.WriteTimeout = o.Timeout
	if o.Log != nil {
		c.Logger = driverLog{o.Log}
	}
	if err := setTLS(c, o); err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(o.MaxOpen)
	db.SetMaxIdleConns(o.MaxIdle)
	db.SetConnMaxLifetime(o.MaxLifetime)

	in := strings.TrimSuffix(strings.Repeat("?,", len(nodes)), ",")
	nodeArgs := make([]any, len(nodes))
	for k, n := range nodes {
		nodeArgs[k] = n
	}
	return &Store{
		db:       db,
		socket:   o.Socket != "",
		network:  c.Net,
		addr:     c.Addr,
		nodes:    nodes,
		nodeArgs: nodeArgs,
		timeout:  o.Timeout,
		observe:  o.Observe,
		conns:    cs,
		query: `SELECT i.id, i.port_id, i.subnet_id, i.macaddress, i.attached_node_name,
	i.netplan_success, i.address, i.mtu, s.cidr
FROM multi_interface i LEFT JOIN multi_subnet s ON s.subnet_id = i.subnet_id
WHERE i.attached_node_name IN (` + in + `) ORDER BY i.id`,
		update: `UPDATE multi_interface SET netplan_success = ? WHERE id = ? AND attached_node_name IN (` + in + `)`,
	}, nil
}

func setTLS(c *mysql.Config, o Options) error {
	switch o.TLS {
	case "", "false":
	case "skip-verify", "preferred":
		c.TLSConfig = o.TLS
	case "true":
		if o.TLSCA == "" {
			c.TLSConfig = "true"
			return nil
		}
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return fmt.Errorf("cannot read DB_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("DB_TLS_CA %s holds no PEM certificate", o.TLSCA)
		}
		c.TLS = &tls.Config{RootCAs: pool, ServerName: o.Host, MinVersion: tls.VersionTLS12}
	default:
		return fmt.Errorf("unknown DB_TLS mode %q", o.TLS)
	}
	return nil
}

// Close releases the pool.
func (s *Store) Close() error { return s.db.Close() }

// Timeout is how long one statement may take.
func (s *Store) Timeout() time.Duration { return s.timeout }

// Nodes returns the node names whose rows this store reads.
func (s *Store) Nodes() []string { return s.nodes }

// args are the statement's arguments: extra, then the node names.
func (s *Store) args(extra ...any) []any { return append(extra, s.nodeArgs...) }

// Rows reads this node's rows, ordered by id, in one statement. An
// unchanged result is the slice the last call returned: callers read it
// and never modify it.
func (s *Store) Rows(ctx context.Context) (_ []Row, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading multi_interface rows: %w", err)
	}
	qctx, done := s.rowsContext(ctx)
	defer func() {
		if cerr := done(); cerr != nil {
			err = fmt.Errorf("reading multi_interface rows: %w", cerr)
		}
	}()
	defer s.took("select_rows", time.Now())
	rs, err := s.db.QueryContext(qctx, s.query, s.nodeArgs...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading multi_interface rows: %w", err))
	}
	defer rs.Close()
	// The columns are read as the driver's bytes, which an unchanged
	// result (an idle cycle's) compares equal to the last one without
	// allocating: the rows built then are returned again.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dest == nil {
		s.dest = make([]any, len(s.cols))
		for k := range s.cols {
			s.dest[k] = &s.cols[k]
		}
	}
	raw := s.raw[:0]
	n := 0
	for rs.Next() {
		if err := rs.Scan(s.dest...); err != nil {
			return nil, fmt.Errorf("reading multi_interface rows: %w", err)
		}
		for _, c := range s.cols {
			if c == nil {
				raw = append(raw, 0)
				continue
			}
			raw = binary.AppendUvarint(append(raw, 1), uint64(len(c)))
			raw = append(raw, c...)
		}
		n++
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading multi_interface rows: %w", err)
	}
	s.raw = raw
	if s.rows != nil && n == len(s.rows) && bytes.Equal(raw, s.lastRaw) {
		return s.rows, nil
	}
	out, err := parseRows(raw, n)
	if err != nil {
		return nil, fmt.Errorf("reading multi_interface rows: %w", err)
	}
	s.lastRaw, s.rows = append(s.lastRaw[:0], raw...), out
	return out, nil
}

// parseRows builds n rows from the columns Rows encoded in raw: for each
// column 0 (NULL), or 1, its length and its bytes.
func parseRows(raw []byte, n int) ([]Row, error) {
	out := make([]Row, 0, n)
	next := func() (string, bool, error) {
		if len(raw) == 0 {
			return "", false, errors.New("short result")
		}
		null := raw[0] == 0
		raw = raw[1:]
		if null {
			return "", false, nil
		}
		l, k := binary.Uvarint(raw)
		if k <= 0 || uint64(len(raw)-k) < l {
			return "", false, errors.New("short result")
		}
		v := string(raw[k : k+int(l)])
		raw = raw[k+int(l):]
		return v, true, nil
	}
	for range n {
		var (
			r   Row
			v   [9]string
			set [9]bool
		)
		for k := range v {
			var err error
			if v[k], set[k], err = next(); err != nil {
				return nil, err
			}
		}
		id, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("id %q: %w", v[0], err)
		}
		r.ID = id
		r.PortID, r.SubnetID, r.MAC, r.Node = v[1], v[2], v[3], v[4]
		if set[5] {
			ok, err := strconv.ParseInt(v[5], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("netplan_success %q: %w", v[5], err)
			}
			r.Success = ok != 0
		}
		r.Address = v[6]
		if set[7] {
			if r.MTU, err = strconv.ParseInt(v[7], 10, 64); err != nil {
				return nil, fmt.Errorf("mtu %q: %w", v[7], err)
			}
			r.HasMTU = true
		}
		r.CIDR = v[8]
		out = append(out, r)
	}
	return out, nil
}

// ErrRowGone means the row was deleted or moved to another node between the
// read and the write.
var ErrRowGone = errors.New("row no longer belongs to this node")

// SetSuccess writes netplan_success for one of this node's rows.
func (s *Store) SetSuccess(ctx context.Context, id int64, ok bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v := 0
	if ok {
		v = 1
	}
	defer s.took("update_success", time.Now())
	res, err := s.db.ExecContext(ctx, s.update, s.args(v, id)...)
	if err != nil {
		return s.explain(fmt.Errorf("writing netplan_success=%d to row %d: %w", v, id, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("writing netplan_success=%d to row %d: %w", v, id, err)
	}
	if n == 0 {
		return fmt.Errorf("writing netplan_success=%d to row %d: %w", v, id, ErrRowGone)
	}
	return nil
}

// Ping checks that the server answers, within 3 s: it decides whether a
// cycle's link changes cut the node off, so it must not wait long.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.timeout, 3*time.Second))
	defer cancel()
	defer s.took("ping", time.Now())
	err := s.db.PingContext(ctx)
	if errors.Is(err, driver.ErrBadConn) {
		// database/sql retries a statement on a connection found dead,
		// but not a ping: the pooled connection was closed by the server
		// (a restart, wait_timeout), which says nothing of a new one.
		err = s.db.PingContext(ctx)
	}
	return s.explain(err)
}

// CheckAccess proves the privileges the agent needs without changing
// anything: the read, and an UPDATE of netplan_success that matches no row.
func (s *Store) CheckAccess(ctx context.Context) error {
	if _, err := s.Rows(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, "UPDATE multi_interface SET netplan_success = netplan_success WHERE 1 = 0"); err != nil {
		return s.explain(fmt.Errorf("checking UPDATE (netplan_success) on multi_interface: %w", err))
	}
	return nil
}

// AllNodeNames lists the distinct attached_node_name values (at most
// limit), for telling an operator which names exist when theirs has no rows.
func (s *Store) AllNodeNames(ctx context.Context, limit int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rs, err := s.db.QueryContext(ctx, "SELECT DISTINCT attached_node_name FROM multi_interface WHERE attached_node_name IS NOT NULL LIMIT ?", limit)
	if err != nil {
		return nil, s.explain(fmt.Errorf("listing node names: %w", err))
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			return nil, fmt.Errorf("listing node names: %w", err)
		}
		out = append(out, n)
	}
	return out, rs.Err()
}

// explain adds to a database error the setting to check, when one setting
// is at fault: "access denied" is DB_USER and DB_PASSWORD, an unknown
// database DB_NAME, a server that does not answer DB_HOST and DB_PORT (or
// DB_SOCKET). Errors that no setting explains are returned as they are.
func (s *Store) explain(err error) error {
	if err == nil {
		return nil
	}
	if key := s.keyAtFault(err); key != "" {
		return fmt.Errorf("%w; check %s", err, key)
	}
	return err
}

// Server error numbers (MySQL and MariaDB share them).
const (
	erDBAccessDenied      = 1044 // access denied for user to database
	erAccessDenied        = 1045 // access denied for user (using password: ...)
	erBadDB               = 1049 // unknown database
	erHostNotPrivileged   = 1130 // host is not allowed to connect
	erTableAccessDenied   = 1142 // command denied to user for table
	erColumnAccessDenied  = 1143 // command denied to user for column
	erNoSuchTable         = 1146 // table doesn't exist
	erAccessDeniedNoPassw = 1698 // access denied (a socket-authenticated user over TCP)
)

func (s *Store) keyAtFault(err error) string {
	server := "DB_HOST and DB_PORT"
	if s.socket {
		server = "DB_SOCKET"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erAccessDenied, erAccessDeniedNoPassw:
			return "DB_USER and DB_PASSWORD"
		case erDBAccessDenied:
			return "DB_NAME (the database must exist and DB_USER needs its grants there)"
		case erBadDB:
			return "DB_NAME"
		case erNoSuchTable:
			return "DB_NAME (it must be the controller's schema, with multi_interface and multi_subnet)"
		case erHostNotPrivileged:
			return "DB_USER (the server has no such user for this node's address)"
		case erTableAccessDenied, erColumnAccessDenied:
			return "the grants of DB_USER"
		}
		return ""
	}
	var x509Unknown x509.UnknownAuthorityError
	var x509Host x509.HostnameError
	var x509Invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, mysql.ErrNoTLS):
		return "DB_TLS (the server does not offer TLS)"
	case errors.As(err, &x509Unknown):
		return "DB_TLS_CA"
	case errors.As(err, &x509Host):
		return "DB_HOST (the name must be one the server's certificate holds)"
	case errors.As(err, &x509Invalid):
		return "DB_TLS_CA"
	case errors.As(err, &dnsErr):
		return "DB_HOST"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return server
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return server + " (the server did not answer in time)"
	}
	return ""
}
