// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sys/unix"
)

// floorQuery is the agent's statement (store.Open) for one node name,
// with the name in it as the driver's interpolation puts it.
const floorQuery = `SELECT i.id, i.port_id, i.subnet_id, i.macaddress, i.attached_node_name,
	i.netplan_success, i.address, i.mtu, s.cidr
FROM multi_interface i LEFT JOIN multi_subnet s ON s.subnet_id = i.subnet_id
WHERE i.attached_node_name IN ('%s') ORDER BY i.id`

// floorClient is `bench floor-client`: the floor under an idle cycle. A Go
// process (GOMAXPROCS=1, as the agent) wakes once a second on a timerfd
// and sends the agent's SELECT in one round trip through the runtime's
// poller, with raw system calls, and does nothing else: no database/sql,
// no parsing of the reply, no plan. The driver only logs in.
func floorClient(args []string) error {
	fs := flag.NewFlagSet("bench floor-client", flag.ContinueOnError)
	socket := fs.String("socket", "", "the server's unix socket")
	db := fs.String("db", "", "database")
	node := fs.String("node", "", "node name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runtime.GOMAXPROCS(1)
	var conn net.Conn
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", *socket, *db
	c.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		conn = nc
		return nc, err
	}
	connector, err := mysql.NewConnector(c)
	if err != nil {
		return err
	}
	pool := sql.OpenDB(connector)
	pool.SetMaxIdleConns(1)
	if err := pool.Ping(); err != nil {
		return err
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("the connection has no file descriptor")
	}
	sock, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	q := fmt.Sprintf(floorQuery, *node)
	pkt := binary.LittleEndian.AppendUint32(nil, uint32(1+len(q))) // length, then sequence 0
	pkt = append(append(pkt, 3), q...)                             // COM_QUERY
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	timer, err := os.NewFile(uintptr(tfd), "timerfd").SyscallConn()
	if err != nil {
		return err
	}
	sec := unix.NsecToTimespec(int64(time.Second))
	if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Value: sec, Interval: sec}, nil); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	size := 0 // of the reply, learnt from the first one
	for {
		timer.Read(func(fd uintptr) bool {
			_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), 8)
			return e != unix.EAGAIN
		})
		sock.Write(func(fd uintptr) bool {
			unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&pkt[0])), uintptr(len(pkt)), unix.MSG_NOSIGNAL, 0, 0)
			return true
		})
		if size == 0 {
			// The whole first reply, to learn its size: the rows do not
			// change, so every later one is as long.
			time.Sleep(100 * time.Millisecond)
		}
		got := 0
		var rerr error
		sock.Read(func(fd uintptr) bool {
			for {
				n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[got])), uintptr(len(buf)-got))
				switch {
				case e == unix.EAGAIN && size == 0:
					size = got
					return true
				case e == unix.EAGAIN:
					return false
				case e != 0 || n == 0:
					rerr = fmt.Errorf("reading the reply: %v", e)
					return true
				}
				got += int(n)
				if got == size {
					return true
				}
			}
		})
		if rerr != nil {
			return rerr
		}
	}
}

// floorOf measures floorClient as idleOf measures an agent: windows of
// schedstat over every thread, one round trip a second.
func (g *rig) floorOf(node string) ([]window, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "floor-client", "-socket", g.srv.Socket, "-db", g.db, "-node", node)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	atExit(func() { cmd.Process.Kill() })
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	time.Sleep(g.o.Settle)
	var out []window
	for range g.o.Runs {
		s0, _, err := schedCPU(cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("the floor client exited: %w", err)
		}
		x0 := ctxSwitches(cmd.Process.Pid)
		start := time.Now()
		time.Sleep(g.o.Window)
		s1, _, err := schedCPU(cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("the floor client exited: %w", err)
		}
		secs := time.Since(start).Seconds()
		w := window{Seconds: secs, Cycles: secs, CPUNs: s1 - s0, CtxSw: ctxSwitches(cmd.Process.Pid) - x0}
		logf("floor: %.3f ms CPU per round trip, %.1f context switches", float64(w.CPUNs)/1e6/w.Cycles, float64(w.CtxSw)/w.Cycles)
		out = append(out, w)
	}
	return out, nil
}
