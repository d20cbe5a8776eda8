// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemon

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// quietTimer is the poll timer on a timerfd, read in the runtime's poller
// with raw system calls. A time.Timer would do, but the runtime's monitor
// thread sleeps until the next Go timer and wakes with it, and a system
// call made through the syscall package wakes it from its sleep: either
// way it then polls every 20 µs for a millisecond, a dozen context
// switches per idle cycle. With the poll on a timerfd the monitor sleeps
// through idle cycles.
type quietTimer struct {
	c   chan time.Time
	fd  int
	raw syscall.RawConn
	f   *os.File
}

func newPollTimer(d time.Duration) pollTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return goTimer{time.NewTimer(d)}
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return goTimer{time.NewTimer(d)}
	}
	t := &quietTimer{c: make(chan time.Time, 1), fd: fd, raw: raw, f: f}
	go t.run()
	t.Reset(d)
	return t
}

func (t *quietTimer) C() <-chan time.Time { return t.c }

func (t *quietTimer) run() {
	var buf [8]byte
	for {
		var serr syscall.Errno
		err := t.raw.Read(func(fd uintptr) bool {
			for {
				_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false
				}
				serr = e
				return true
			}
		})
		if err != nil {
			return // closed
		}
		if serr != 0 {
			continue // ECANCELED after a clock change: read again
		}
		select {
		case t.c <- time.Now():
		default:
		}
	}
}

// Reset arms the timer to fire once after d (at once for d <= 0, as a
// time.Timer does).
func (t *quietTimer) Reset(d time.Duration) {
	select {
	case <-t.c: // a tick of the previous schedule, not consumed
	default:
	}
	t.set(max(d, time.Nanosecond))
}

// set arms the timerfd; a zero d disarms it.
func (t *quietTimer) set(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	t.raw.Control(func(fd uintptr) {
		unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	})
}

// Stop disarms the timer and releases it.
func (t *quietTimer) Stop() {
	t.set(0)
	t.f.Close()
}
