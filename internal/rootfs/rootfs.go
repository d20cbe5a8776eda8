// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package rootfs is the node's file system as the agent reaches it: "/" on
// a host, the host's / mounted at /host in a DaemonSet, a temporary
// directory in tests (ROOT_DIR). Paths given to it are the node's own
// (/etc/netplan/...); it alone puts the prefix in front of them.
package rootfs

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
)

// Root is a ROOT_DIR.
type Root string

// Path returns the node's path p under the root.
func (r Root) Path(p string) string { return filepath.Join(string(r), p) }

// Host reports whether the root is the running system's own /.
func (r Root) Host() bool { return filepath.Clean(string(r)) == "/" }

// ReadFile reads the node's file p.
func (r Root) ReadFile(p string) ([]byte, error) { return os.ReadFile(r.Path(p)) }

// Stat describes the node's file p.
func (r Root) Stat(p string) (fs.FileInfo, error) { return os.Stat(r.Path(p)) }

// Exists reports whether the node's path p exists.
func (r Root) Exists(p string) bool {
	_, err := os.Stat(r.Path(p))
	return err == nil
}

// WriteFile replaces the node's file p atomically (atomicfile.Write).
func (r Root) WriteFile(p string, data []byte, mode fs.FileMode) error {
	return atomicfile.Write(r.Path(p), data, mode)
}

// Remove deletes the node's file p, durably; a missing file is no error.
func (r Root) Remove(p string) error { return atomicfile.Remove(r.Path(p)) }
