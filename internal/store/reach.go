// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Unreachable reports whether err means that the server could not be
// reached at all: no connection could be made (refused, no route, no
// socket, a timeout while dialing) or its name did not resolve. A server
// that answered and refused (a login, too many connections, a statement)
// is reachable.
func Unreachable(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	return errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

// Reachable dials the server and reads its greeting, the first packet it
// sends to every client, then hangs up: no login, no statement, no
// TLS. It returns nil when a MySQL/MariaDB server greets, and an error when
// none answers or the server refuses new clients (too many connections, a
// blocked host): a cheap probe of whether a cycle could read the rows.
//
// The server counts a client that hangs up before logging in as a
// handshake error of its host (max_connect_errors, 100 by default, blocks
// it), until the host's next successful login: the agent probes only
// while no connection can be made, and follows a greeting at once with a
// cycle, whose login clears the count.
func (s *Store) Reachable(ctx context.Context) error {
	timeout := min(s.timeout, 3*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, s.network, s.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return fmt.Errorf("no greeting from %s: %w", s.addr, err)
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	if n == 0 || n > 1<<16 {
		return fmt.Errorf("%s does not speak the MySQL protocol (a first packet of %d bytes)", s.addr, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return fmt.Errorf("no greeting from %s: %w", s.addr, err)
	}
	switch body[0] {
	case 10: // protocol version 10: a greeting
		return nil
	case 0xff: // an error instead: code, then the message
		if len(body) < 3 {
			return fmt.Errorf("%s refuses new clients", s.addr)
		}
		code, msg := binary.LittleEndian.Uint16(body[1:3]), body[3:]
		if len(msg) > 0 && msg[0] == '#' && len(msg) >= 6 {
			msg = msg[6:]
		}
		return fmt.Errorf("%s refuses new clients: Error %d: %s", s.addr, code, msg)
	}
	return fmt.Errorf("%s does not speak the MySQL protocol (first byte %#x)", s.addr, body[0])
}
