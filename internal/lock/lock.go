// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package lock keeps a single agent per host with an advisory file lock.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; it is released by Release or when the process exits.
type Lock struct{ f *os.File }

// Acquire takes the lock at path without waiting. If another process holds
// it, the error says so and names its pid.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the lock directory: %w", err)
	}
	// Never through a symbolic link: the agent writes its pid into the file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("the lock file %s is a symbolic link; the agent locks only a file of its own: remove the link or set LOCK_FILE", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("the lock file %s is not a regular file: remove it or set LOCK_FILE", path)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		data, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another multinic-agent instance (%s) holds the lock %s; stop it first (systemctl stop multinic-agent, or remove the DaemonSet from this node)", holder(st.Ino, string(data)), path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

// holder names the process that holds the lock on the file with inode ino:
// the kernel's list of locks says which it is (in this process's PID
// namespace); the pid the holder wrote into the file is only a fallback,
// since another namespace (a pod) numbers its processes otherwise.
func holder(ino uint64, written string) string {
	data, _ := os.ReadFile("/proc/locks")
	for _, line := range strings.Split(string(data), "\n") {
		// 1: FLOCK  ADVISORY  WRITE 4242 00:1b:1234 0 EOF
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(f[5], ":")
		if n, err := strconv.ParseUint(dev[len(dev)-1], 10, 64); err != nil || n != ino {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 {
			break
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return fmt.Sprintf("pid %d, %s", pid, strings.TrimSpace(string(comm)))
	}
	if w := strings.TrimSpace(written); w != "" {
		return "pid " + w + " as it wrote in the file, in its own PID namespace"
	}
	return "a process this one cannot see"
}
