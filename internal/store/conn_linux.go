// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// quietConn is the database connection the agent reads and writes with
// raw non-blocking system calls, waiting for the socket in the runtime's
// poller as the net package does. The difference is the runtime's
// bookkeeping of a system call (entersyscall): on an idle process it
// wakes the runtime's monitor thread, which then polls every 20 µs for a
// millisecond or more, a dozen context switches per idle cycle that cost
// more than the cycle itself on a virtual machine. Socket calls on a
// non-blocking descriptor never block, which is what the raw form needs.
type quietConn struct {
	net.Conn
	raw syscall.RawConn

	mu sync.Mutex
	// last is the end of the last read or write: a connection idle for
	// longer than idleCheck is checked before it is written to again.
	last time.Time

	// stopped is set by conns.interrupt: every read and write fails from
	// then on, the one in flight too, whatever deadline the driver sets.
	stopped atomic.Bool
	owner   *conns
}

// idleCheck is how long a connection must have been idle before a write
// checks that the server has not closed it (the driver's own check,
// CheckConnLiveness, which needs a syscall.Conn, in the raw form): the
// cycles' connections wait in the pool for a poll interval, while the
// handshake's reads and writes follow each other at once.
const idleCheck = 500 * time.Millisecond

// conns are the connections a store has open: interrupt stops them all.
type conns struct {
	mu   sync.Mutex
	open map[*quietConn]struct{}
	// stopping refuses new connections while an interrupted statement
	// ends, so that database/sql does not retry it on a fresh one.
	stopping bool
}

func newConns() *conns { return &conns{open: map[*quietConn]struct{}{}} }

// errInterrupted is what reads and writes return once interrupted.
var errInterrupted = errors.New("database statement interrupted: the agent is stopping")

func (cs *conns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	cs.mu.Lock()
	stopping := cs.stopping
	cs.mu.Unlock()
	if stopping {
		return nil, errInterrupted
	}
	c, err := dialQuiet(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if q, ok := c.(*quietConn); ok {
		q.owner = cs
		cs.mu.Lock()
		cs.open[q] = struct{}{}
		if cs.stopping {
			q.stop()
		}
		cs.mu.Unlock()
	}
	return c, nil
}

// interrupt stops every open connection and refuses new ones until resume.
func (cs *conns) interrupt() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.stopping = true
	for c := range cs.open {
		c.stop()
	}
}

func (cs *conns) resume() {
	cs.mu.Lock()
	cs.stopping = false
	cs.mu.Unlock()
}

// rowsContext returns the context for a read of the rows and a function to
// call when the read is over, which returns ctx's error if ctx ended the
// read. The statement's context cannot be cancelled: database/sql would
// start a goroutine per statement to watch it, and the driver hand each
// statement to another, which are most of an idle cycle's scheduling.
// Each read and write is bounded by the driver's ReadTimeout and
// WriteTimeout; the end of ctx interrupts the connections instead.
func (s *Store) rowsContext(ctx context.Context) (context.Context, func() error) {
	if ctx.Done() == nil {
		return ctx, func() error { return nil }
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.conns.interrupt()
		close(done)
	})
	return context.WithoutCancel(ctx), func() error {
		if stop() {
			return nil
		}
		<-done
		s.conns.resume()
		return ctx.Err()
	}
}

// dialQuiet dials the server and returns a quietConn over the socket.
func dialQuiet(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAlive(true) // as the driver does for a *net.TCPConn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quietConn{Conn: c, raw: raw, last: time.Now()}, nil
}

// stop makes the read or write in flight, and every later one, fail.
func (c *quietConn) stop() {
	c.stopped.Store(true)
	c.Conn.SetDeadline(time.Unix(1, 0))
}

func (c *quietConn) SetDeadline(t time.Time) error {
	if c.stopped.Load() {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetDeadline(t)
}

func (c *quietConn) SetReadDeadline(t time.Time) error {
	if c.stopped.Load() {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *quietConn) SetWriteDeadline(t time.Time) error {
	if c.stopped.Load() {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *quietConn) Close() error {
	if c.owner != nil {
		c.owner.mu.Lock()
		delete(c.owner.open, c)
		c.owner.mu.Unlock()
	}
	return c.Conn.Close()
}

func (c *quietConn) touch() {
	c.mu.Lock()
	c.last = time.Now()
	c.mu.Unlock()
}

func (c *quietConn) Read(p []byte) (int, error) {
	if c.stopped.Load() {
		return 0, errInterrupted
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var serr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			k, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case 0:
				n = int(k)
				if n == 0 {
					serr = io.EOF
				}
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				serr = e
				return true
			}
		}
	})
	c.touch()
	if err != nil && c.stopped.Load() {
		return n, errInterrupted
	}
	if err != nil {
		return n, err
	}
	return n, serr
}

func (c *quietConn) Write(p []byte) (int, error) {
	if c.stopped.Load() {
		return 0, errInterrupted
	}
	c.mu.Lock()
	idle := time.Since(c.last) > idleCheck
	c.mu.Unlock()
	if idle {
		if err := c.check(); err != nil {
			// Nothing written: the driver takes the connection for a bad one
			// and database/sql retries on another.
			return 0, err
		}
	}
	n := 0
	var serr error
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			// sendto with MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE.
			k, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), unix.MSG_NOSIGNAL, 0, 0)
			switch e {
			case 0:
				n += int(k)
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				serr = e
				return true
			}
		}
		return true
	})
	c.touch()
	if err != nil && c.stopped.Load() {
		return n, errInterrupted
	}
	if err != nil {
		return n, err
	}
	return n, serr
}

// errUnexpectedRead means the server sent something on a connection that
// waited for a command: it is closing it.
var errUnexpectedRead = errors.New("unexpected data on an idle database connection")

// check peeks at an idle connection without blocking: the server closed it
// (EOF) or is closing it (data), or it is fine (nothing to read).
func (c *quietConn) check() error {
	var buf [1]byte
	var serr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			k, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				serr = nil
			case e != 0:
				serr = e
			case k == 0:
				serr = io.EOF
			default:
				serr = errUnexpectedRead
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return errors.Join(driver.ErrBadConn, serr)
	}
	return nil
}
