// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package testenv gives tests the real things they run against: a MariaDB
// database of their own (dropped afterwards) and throwaway network
// namespaces with veth pairs standing in for a VM's NICs. Nothing here
// touches the host's own links or files.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/schema"
)

// StrictEnv, when set to 1 (as .ci/run does), turns every skip for a
// missing privilege or tool into a failure.
const StrictEnv = "MULTINIC_REQUIRE_PRIVILEGED"

// Socket is the MariaDB socket the tests use; TEST_DB_SOCKET overrides it.
func Socket() string {
	if s := os.Getenv("TEST_DB_SOCKET"); s != "" {
		return s
	}
	return "/run/mysqld/mysqld.sock"
}

// Skip skips the test with reason, or fails it in strict mode.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(StrictEnv) == "1" {
		t.Fatalf("%s (%s=1 forbids skipping)", reason, StrictEnv)
	}
	t.Skip(reason)
}

// RequireRoot skips unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root for network namespaces and netlink changes")
	}
}

// RequireTool skips unless name is on PATH.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, name+" is not installed (scripts/test.sh installs it)")
	}
	return p
}

var seq atomic.Int64

func unique(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, os.Getpid()%100000, seq.Add(1))
}

// DB is a database of the test's own, with the shipped schema loaded.
type DB struct {
	*sql.DB
	Name   string
	Socket string
}

// NewDB creates a fresh database and drops it when the test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "unix", Socket()
	c.MultiStatements = true
	c.Timeout = 5 * time.Second
	admin, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Ping(); err != nil {
		admin.Close()
		Skip(t, fmt.Sprintf("MariaDB is not reachable as root on %s (%v); scripts/test.sh starts it", c.Addr, err))
	}
	name := unique("mnt_")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		admin.Close()
	})
	c.DBName = name
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema.SQL); err != nil {
		t.Fatalf("loading schema: %v", err)
	}
	// Count every UPDATE statement that reaches a row, even one that
	// changes nothing, so tests can prove the agent did not write.
	if _, err := db.Exec(`CREATE TABLE update_count (n INT NOT NULL);
INSERT INTO update_count VALUES (0);
CREATE TRIGGER count_updates BEFORE UPDATE ON multi_interface FOR EACH ROW UPDATE update_count SET n = n + 1`); err != nil {
		t.Fatalf("creating update counter: %v", err)
	}
	return &DB{DB: db, Name: name, Socket: Socket()}
}

// Exec runs a statement or fails the test.
func (d *DB) Exec(t testing.TB, q string, args ...any) sql.Result {
	t.Helper()
	r, err := d.DB.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

// AddSubnet inserts a multi_subnet row.
func (d *DB) AddSubnet(t testing.TB, id, cidr string) {
	t.Helper()
	d.Exec(t, "INSERT INTO multi_subnet (subnet_id, cidr) VALUES (?, ?)", id, cidr)
}

// AddRow inserts a multi_interface row; address and mtu may be nil (NULL).
func (d *DB) AddRow(t testing.TB, node, mac, subnet string, address, mtu any) int64 {
	t.Helper()
	r := d.Exec(t, `INSERT INTO multi_interface (port_id, subnet_id, macaddress, attached_node_name, address, mtu)
VALUES (?, ?, ?, ?, ?, ?)`, "port-"+mac, subnet, mac, node, address, mtu)
	id, err := r.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Success returns a row's netplan_success.
func (d *DB) Success(t testing.TB, id int64) int {
	t.Helper()
	var v sql.NullInt64
	if err := d.QueryRow("SELECT netplan_success FROM multi_interface WHERE id = ?", id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return int(v.Int64)
}

// Updates returns how many row updates multi_interface has seen.
func (d *DB) Updates(t testing.TB) int {
	t.Helper()
	var n int
	if err := d.QueryRow("SELECT n FROM update_count").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Netns is a throwaway network namespace (harness.Netns) whose methods
// fail the test instead of returning errors.
type Netns struct {
	*harness.Netns
}

// NewNetns creates a namespace with lo up, deleted when the test ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "ip")
	h, err := harness.NewNetns(unique("mnt"))
	if err != nil {
		Skip(t, err.Error())
	}
	t.Cleanup(func() { h.Delete() })
	return &Netns{h}
}

// IP runs `ip -n NS args...` and fails the test on error.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Netns.IP(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// AddNIC creates a veth named name with the given MAC; its peer p<name>
// stays in the namespace, up, so the NIC gets carrier once it is up.
func (n *Netns) AddNIC(t testing.TB, name, mac string) {
	t.Helper()
	if err := n.Netns.AddNIC(name, mac); err != nil {
		t.Fatal(err)
	}
}

// Handle opens a netlink handle inside the namespace.
func (n *Netns) Handle(t testing.TB) *links.Handle {
	t.Helper()
	h, err := n.Netns.Handle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// Link returns the namespace's link called name, failing the test if absent.
func (n *Netns) Link(t testing.TB, name string) links.Link {
	t.Helper()
	l, ok := n.Find(t, name)
	if !ok {
		t.Fatalf("no link %s in namespace %s:\n%s", name, n.Name, n.IP(t, "-br", "link"))
	}
	return l
}

// Find returns the namespace's link called name, if any.
func (n *Netns) Find(t testing.TB, name string) (links.Link, bool) {
	t.Helper()
	ls, err := n.Links()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Name == name {
			return l, true
		}
	}
	return links.Link{}, false
}

// Exec runs a command inside the namespace (ip netns exec) with only PATH
// and env in its environment.
func (n *Netns) Exec(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	return n.Command(ctx, env, name, args...)
}

// Connect joins n and other with a veth pair: name in n with address
// addr, peer in other with peerAddr (both CIDR), both up.
func (n *Netns) Connect(t testing.TB, name, addr string, other *Netns, peer, peerAddr string) {
	t.Helper()
	if err := n.Netns.Connect(name, addr, other.Netns, peer, peerAddr); err != nil {
		t.Fatal(err)
	}
}

// Listen opens a listener inside the namespace.
func (n *Netns) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := n.Netns.Listen(network, addr)
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, n.Name, err)
	}
	return ln
}
