// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package netconf holds what every configuration backend shares: the
// interface description they render from, the files they own and the
// Backend interface the reconciler drives.
package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"

	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// MaxInterfaces is the number of names multinic0..multinic9.
const MaxInterfaces = 10

// Marker starts the first line of every file the agent writes; a file
// without it is never read as ours, rewritten or deleted.
const Marker = "# Managed by multinic-agent"

// HasMarker reports whether content starts with the marker: a file the
// agent wrote.
func HasMarker(content []byte) bool { return bytes.HasPrefix(content, []byte(Marker)) }

// Header is the first line of every owned file.
func Header(rowID int64) string {
	return fmt.Sprintf("%s (row %d). Local edits are overwritten; delete the row to remove this file.\n", Marker, rowID)
}

// Iface is one interface as the backends render it.
type Iface struct {
	RowID int64
	Name  string // multinicN
	MAC   string // lower case, colon separated
	// Addr is the address with the subnet's prefix length; the zero value
	// means no address.
	Addr netip.Prefix
	// MTU is 0 when the row leaves the MTU alone.
	MTU int
}

// File is a file a backend wants on the node. Path is absolute on the node
// (ROOT_DIR is added by whoever writes it).
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

// Owned is a file found on the node at one of the agent's paths.
type Owned struct {
	Path    string
	Name    string // multinicN, from the path
	Content []byte
	Mode    fs.FileMode
	// Iface is what the file describes; MAC is empty when it could not be
	// parsed (Err says why).
	Iface Iface
	Err   error
	// Foreign is set when the file lacks the marker: someone else's file at
	// our path, which the agent must not touch. Err then says why it is
	// not the previous agent's either, when the backend knows that shape.
	Foreign bool
	// Legacy is set when the file lacks the marker but is exactly what the
	// previous generation of multinic-agent wrote there: it is adopted
	// (backed up, rewritten as ours) like an owned file.
	Legacy bool
	// Unreadable is set when the file could not be read (Err says why):
	// whose it is cannot be known, so it is never changed.
	Unreadable bool
}

// Backend renders, parses and activates one family of configuration files.
type Backend interface {
	// Name is the NETWORK_BACKEND value (netplan, ifcfg, keyfile, networkd).
	Name() string
	// Render returns the files that make iface persistent.
	Render(iface Iface) []File
	// Owns reports whether path (absolute on the node) is one the backend
	// writes, and for which interface name.
	Owns(path string) (name string, ok bool)
	// Dirs lists the directories holding those paths.
	Dirs() []string
	// Parse reads back a file the backend rendered.
	Parse(path string, content []byte) (Iface, error)
	// Activate makes the changed interfaces' files take effect (root is
	// ROOT_DIR). It is called once per cycle, only when files changed.
	Activate(ctx context.Context, root rootfs.Root, changed []string) error
}

// LegacyParser is implemented by the backends whose paths the previous
// generation of multinic-agent also wrote, without the marker.
type LegacyParser interface {
	// ParseLegacy reads a file without the marker. It succeeds only for the
	// shape the previous agent wrote, describing only the interface that
	// the path names; the error says what differs.
	ParseLegacy(path string, content []byte) (Iface, error)
}

// Marked is implemented by backends whose files carry the agent's mark in
// a setting too, because the tool that owns the format drops comments when
// it rewrites a file (NetworkManager).
type Marked interface {
	// HasMark reports whether content carries the agent's mark.
	HasMark(content []byte) bool
}

// ReadTogether is implemented by backends whose activation reads all of
// some files at once (netplan's generator reads every file of
// /etc/netplan): while one of them cannot be read, every activation fails.
type ReadTogether interface {
	ReadTogether(path string) bool
}

// Canonical is implemented by backends whose files the tool that owns the
// format rewrites in its own layout (keys reordered, defaults left out):
// two contents with the same canonical form say the same thing.
type Canonical interface {
	Canonical(path string, content []byte) []byte
}

// Same reports whether a file's content says what want says, for backend b.
func Same(b Backend, path string, content, want []byte) bool {
	if bytes.Equal(content, want) {
		return true
	}
	c, ok := b.(Canonical)
	return ok && bytes.Equal(c.Canonical(path, content), c.Canonical(path, want))
}

// ErrUnavailable wraps an Activate error meaning the backend's tool or
// daemon is not there: the files still hold and the netlink state is what
// takes effect now.
var ErrUnavailable = errors.New("activation skipped")

// DaemonRuns reports whether a daemon runs on the system at root, judged
// by its runtime directory (for example /run/NetworkManager). Tools that
// talk to a daemon are only run when it reads root's files: never against
// the host's daemon from a test's temporary ROOT_DIR.
func DaemonRuns(root rootfs.Root, runDir string) bool {
	_, err := root.Stat(runDir)
	return err == nil
}
