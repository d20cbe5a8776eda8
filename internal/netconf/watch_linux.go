// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// fileWatch is an inotify instance that says whether anything changed in
// the directories it watches since the last reset: a file created,
// written, closed after writing, renamed, deleted, or its mode or owner
// changed. A directory that does not exist yet is watched through its
// nearest ancestor that does, whose change (the directory created) counts
// too. Its events are read by a goroutine parked in the runtime's poller,
// so an idle agent spends no system call on it.
type fileWatch struct {
	f      *os.File
	fd     int
	dirty  atomic.Bool
	broken atomic.Bool
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

func newFileWatch() (*fileWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &fileWatch{f: os.NewFile(uintptr(fd), "inotify"), fd: fd}
	go w.read()
	return w, nil
}

func (w *fileWatch) read() {
	buf := make([]byte, 64<<10)
	for {
		if _, err := w.f.Read(buf); err != nil {
			// Events can no longer be read: every scan is a full one.
			w.broken.Store(true)
			w.dirty.Store(true)
			return
		}
		// Any event, an overflow of the queue included, means "look".
		w.dirty.Store(true)
	}
}

// changed reports whether something was reported since the last reset.
func (w *fileWatch) changed() bool { return w.dirty.Load() || w.broken.Load() }

// ok reports whether every directory asked for is watched.
func (w *fileWatch) ok() bool { return !w.broken.Load() && !w.dirty.Load() }

// reset forgets what was reported.
func (w *fileWatch) reset() { w.dirty.Store(false) }

// add watches dir, or its nearest existing ancestor (again at every full
// scan: a directory deleted and created again is a new inode to watch). A
// failure makes the next scan a full one.
func (w *fileWatch) add(dir string) {
	for p := dir; ; p = filepath.Dir(p) {
		_, err := unix.InotifyAddWatch(w.fd, p, watchMask)
		switch {
		case err == nil:
			return
		case (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) && p != filepath.Dir(p):
		default:
			w.dirty.Store(true)
			return
		}
	}
}
