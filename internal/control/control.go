// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package control is the running daemon's local channel: `multinic-agent
// reconcile` asks it, over a unix socket next to the lock file that only
// root can use, for a cycle now and reads that cycle's result.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multinic-agent/multinic-agent/internal/health"
)

// request is the one line a client sends.
const request = "reconcile\n"

// maxClients bounds the connections served at once; the rest wait in the
// listen backlog.
const maxClients = 64

// SocketPath is the socket of the daemon holding lockPath (both under
// ROOT_DIR): /run/multinic-agent.lock → /run/multinic-agent.sock.
func SocketPath(lockPath string) string {
	return strings.TrimSuffix(lockPath, ".lock") + ".sock"
}

// Listen creates the socket at path, mode 0600 and owned by root, replacing
// one a dead daemon left (the caller holds the single-instance lock). A
// file there that is not a socket is an error, never removed.
func Listen(path string) (*net.UnixListener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	// Created with no permission for group and others, so that no one
	// else can connect between the bind and the chmod.
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Lchown(path, 0, 0); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// Serve answers each client with the result of a cycle that trigger starts
// after its request, until ln is closed. Only root's connections are
// served (the socket's mode already keeps others out).
func Serve(ln *net.UnixListener, trigger health.Trigger, log *slog.Logger) error {
	slots := make(chan struct{}, maxClients)
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of descriptors, say: wait rather than spin.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			defer c.Close()
			serve(c, trigger, log)
		}()
	}
}

func serve(c *net.UnixConn, trigger health.Trigger, log *slog.Logger) {
	uid, err := peerUID(c)
	if err != nil || uid != 0 {
		log.Warn("reconcile request refused: not from root", "uid", uid, "error", err)
		fmt.Fprintf(c, "%s\n", mustJSON(map[string]any{"error": "only root may ask the agent to reconcile", "exit": 2}))
		return
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != request {
		fmt.Fprintf(c, "%s\n", mustJSON(map[string]any{"error": "unknown request", "exit": 2}))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), health.MaxReconcileWait)
	defer cancel()
	res, err := trigger(ctx)
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err != nil {
		fmt.Fprintf(c, "%s\n", mustJSON(map[string]any{"error": err.Error(), "exit": 2}))
		return
	}
	fmt.Fprintf(c, "%s\n", mustJSON(res))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

// ErrNoDaemon means no daemon listens on the socket.
var ErrNoDaemon = errors.New("no multinic-agent daemon is running")

// Ask sends a request on the socket at path and returns the result of the
// cycle that served it.
func Ask(ctx context.Context, path string) (health.CycleResult, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return health.CycleResult{}, fmt.Errorf("%w (no daemon answers on %s): start it (systemctl start multinic-agent), or run multinic-agent once", ErrNoDaemon, path)
	case errors.Is(err, fs.ErrPermission):
		return health.CycleResult{}, fmt.Errorf("only root may ask the agent to reconcile (%s is root's): run it with sudo", path)
	case err != nil:
		return health.CycleResult{}, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write([]byte(request)); err != nil {
		return health.CycleResult{}, err
	}
	var res health.CycleResult
	b, err := bufio.NewReader(c).ReadBytes('\n')
	if ctx.Err() != nil {
		return health.CycleResult{}, fmt.Errorf("no result from the daemon: %w", ctx.Err())
	}
	if err != nil {
		return health.CycleResult{}, fmt.Errorf("no result from the daemon: %w", err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return health.CycleResult{}, fmt.Errorf("the daemon's answer is not a result: %w", err)
	}
	if res.Started.IsZero() {
		// Refused, or the daemon stopped before a cycle served it.
		return res, errors.New(res.Error)
	}
	return res, nil
}
