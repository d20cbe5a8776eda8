// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"
)

// nodeName is the attached_node_name of the demo's rows and the agent's
// NODE_NAME.
const nodeName = "demo-node"

// subnets are the multi_subnet rows.
var subnets = []struct{ id, cidr string }{
	{"subnet-v4", "10.20.0.0/24"},
	{"subnet-v6", "2001:db8:20::/64"},
}

// sample is a multi_interface row as the demo inserts it; nic is the name
// the NIC with that MAC has before the agent renames it.
type sample struct {
	port, subnet, mac string
	address           any // string or nil (NULL)
	mtu               any // int or nil (NULL)
	nic               string
}

// samples are the rows loaded at the start: an IPv4 NIC with jumbo
// frames, an IPv6 NIC, and a NIC without an address.
var samples = []sample{
	{"port-0001", "subnet-v4", "fa:16:3e:de:00:01", "10.20.0.11", 9000, "ens4"},
	{"port-0002", "subnet-v6", "fa:16:3e:de:00:02", "2001:db8:20::12", 1400, "ens5"},
	{"port-0003", "subnet-v4", "fa:16:3e:de:00:03", nil, 1500, "ens6"},
}

// hotplug is the row and NIC added while the agent runs.
var hotplug = sample{"port-0004", "subnet-v4", "fa:16:3e:de:00:04", "10.20.0.14", 1500, "ens7"}

// row is a multi_interface row joined with its subnet, as the agent reads it.
type row struct {
	ID      int64
	MAC     string
	Address sql.NullString
	CIDR    sql.NullString
	MTU     sql.NullInt64
	Success sql.NullInt64
}

// Prefix is the address the row asks for, with the subnet's prefix length
// ("" for a NULL address).
func (r row) Prefix() string {
	if !r.Address.Valid || r.Address.String == "" {
		return ""
	}
	a, err1 := netip.ParseAddr(r.Address.String)
	p, err2 := netip.ParsePrefix(r.CIDR.String)
	if err1 != nil || err2 != nil {
		return r.Address.String + "/?"
	}
	return netip.PrefixFrom(a, p.Bits()).String()
}

func insertSubnets(ctx context.Context, db *sql.DB) error {
	for _, s := range subnets {
		if _, err := db.ExecContext(ctx, "INSERT INTO multi_subnet (subnet_id, cidr) VALUES (?, ?)", s.id, s.cidr); err != nil {
			return fmt.Errorf("inserting subnet %s: %w", s.id, err)
		}
	}
	return nil
}

func insertRow(ctx context.Context, db *sql.DB, s sample) (int64, error) {
	r, err := db.ExecContext(ctx, `INSERT INTO multi_interface (port_id, subnet_id, macaddress, attached_node_name, address, mtu)
VALUES (?, ?, ?, ?, ?, ?)`, s.port, s.subnet, s.mac, nodeName, s.address, s.mtu)
	if err != nil {
		return 0, fmt.Errorf("inserting the row for %s: %w", s.mac, err)
	}
	return r.LastInsertId()
}

// readRows reads the node's rows with the agent's LEFT JOIN.
func readRows(ctx context.Context, db *sql.DB) ([]row, error) {
	rs, err := db.QueryContext(ctx, `SELECT i.id, i.macaddress, i.address, s.cidr, i.mtu, i.netplan_success
FROM multi_interface i LEFT JOIN multi_subnet s ON s.subnet_id = i.subnet_id
WHERE i.attached_node_name = ? ORDER BY i.id`, nodeName)
	if err != nil {
		return nil, fmt.Errorf("reading the rows back: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.ID, &r.MAC, &r.Address, &r.CIDR, &r.MTU, &r.Success); err != nil {
			return nil, fmt.Errorf("reading the rows back: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func nullable[T any](v T, ok bool) string {
	if !ok {
		return "NULL"
	}
	return fmt.Sprint(v)
}

func printRows(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  id\tmacaddress\taddress\tsubnet cidr\tmtu\tnetplan_success")
	for _, r := range rows {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.MAC,
			nullable(r.Address.String, r.Address.Valid), nullable(r.CIDR.String, r.CIDR.Valid),
			nullable(r.MTU.Int64, r.MTU.Valid), nullable(r.Success.Int64, r.Success.Valid))
	}
	tw.Flush()
}
