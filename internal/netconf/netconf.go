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
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"
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
	Activate(ctx context.Context, root string, changed []string) error
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
func DaemonRuns(root, runDir string) bool {
	_, err := os.Stat(filepath.Join(root, runDir))
	return err == nil
}

// Scanner reads the files the backends own under Root. A file is read and
// parsed again only when its inode, size, modification or change time
// moved, so an idle cycle costs a directory listing and a stat per file.
type Scanner struct {
	Root     string
	Backends []Backend
	// Other, when set, picks files in the backends' directories that no
	// backend owns, and Extra names more such files: they are read (with
	// the same cache) and returned by Others, unparsed.
	Other    func(path string) bool
	Extra    []string
	cache    map[string]cached
	listings map[string]listing
	others   []Owned
}

// Others returns the files Other picked in the last Scan.
func (s *Scanner) Others() []Owned { return s.others }

// listing is a directory's regular files, valid while the directory's own
// inode and times are unchanged (creating, deleting or renaming an entry
// changes them).
type listing struct {
	key   fileKey
	names []string
}

type cached struct {
	key   fileKey
	owned Owned
}

type fileKey struct {
	ino, size    uint64
	mtime, ctime int64
}

func keyOf(st os.FileInfo) fileKey {
	sys := st.Sys().(*syscall.Stat_t)
	return fileKey{ino: sys.Ino, size: uint64(sys.Size), mtime: sys.Mtim.Nano(), ctime: sys.Ctim.Nano()}
}

// settled reports whether k can be trusted to change with the next write:
// file times tick at the kernel's clock resolution, so a change within the
// same tick as the one we saw could keep the same times (as git's "racily
// clean" entries). Entries changed in the last second are not cached.
func (k fileKey) settled() bool {
	return time.Since(time.Unix(0, max(k.mtime, k.ctime))) > time.Second
}

// Scan returns every regular file at a path one of the backends owns,
// sorted by path.
func (s *Scanner) Scan() ([]Owned, error) {
	var dirs []string
	for _, b := range s.Backends {
		for _, d := range b.Dirs() {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	next := make(map[string]cached, len(s.cache))
	var out []Owned
	s.others = s.others[:0]
	other := func(p string) {
		// Someone else's file: one that cannot be read claims nothing here.
		if c, err := s.read(p, "", nil); err == nil {
			next[p] = c
			s.others = append(s.others, c.owned)
		}
	}
	for _, dir := range dirs {
		names, err := s.list(dir)
		if err != nil {
			return nil, err
		}
	files:
		for _, base := range names {
			p := filepath.Join(dir, base)
			for _, b := range s.Backends {
				name, ok := b.Owns(p)
				if !ok {
					continue
				}
				c, err := s.read(p, name, b)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					continue files // removed since the listing
				case err != nil:
					// One file the agent cannot read stops only the row that
					// would write it.
					out = append(out, Owned{Path: p, Name: name, Err: err, Unreadable: true})
					continue files
				}
				next[p] = c
				out = append(out, c.owned)
				continue files
			}
			if s.Other != nil && s.Other(p) {
				other(p)
			}
		}
	}
	for _, p := range s.Extra {
		other(p)
	}
	s.cache = next
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// list returns the names of the regular files in dir.
func (s *Scanner) list(dir string) ([]string, error) {
	full := filepath.Join(s.Root, dir)
	st, err := os.Stat(full)
	if os.IsNotExist(err) {
		delete(s.listings, dir)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", full, err)
	}
	key := keyOf(st)
	if l, ok := s.listings[dir]; ok && l.key == key {
		return l.names, nil
	}
	entries, err := os.ReadDir(full)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", full, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	if s.listings == nil {
		s.listings = map[string]listing{}
	}
	// A directory changed during the listing (or just before it) is listed
	// again next time.
	if st2, err := os.Stat(full); err == nil && keyOf(st2) == key && key.settled() {
		s.listings[dir] = listing{key: key, names: names}
	}
	return names, nil
}

func (s *Scanner) read(p, name string, b Backend) (cached, error) {
	full := filepath.Join(s.Root, p)
	st, err := os.Lstat(full)
	if err != nil {
		return cached{}, fmt.Errorf("reading %s: %w", full, err)
	}
	key := keyOf(st)
	if c, ok := s.cache[p]; ok && c.key == key {
		return c, nil
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return cached{}, fmt.Errorf("reading %s: %w", full, err)
	}
	o := Owned{Path: p, Name: name, Content: data, Mode: st.Mode().Perm()}
	marked, isMarked := b.(Marked)
	switch lp, ok := b.(LegacyParser); {
	case b == nil:
		o.Foreign = true
	case HasMarker(data), isMarked && marked.HasMark(data):
		o.Iface, o.Err = b.Parse(p, data)
	case ok:
		if o.Iface, o.Err = lp.ParseLegacy(p, data); o.Err == nil {
			o.Legacy = true
		} else {
			o.Foreign, o.Iface = true, Iface{}
		}
	default:
		o.Foreign = true
	}
	// A file changed between the stat and the read, or just before, is read
	// again next time.
	if st2, err := os.Lstat(full); err != nil || keyOf(st2) != key || int64(len(data)) != st.Size() || !key.settled() {
		key = fileKey{}
	}
	return cached{key: key, owned: o}, nil
}
