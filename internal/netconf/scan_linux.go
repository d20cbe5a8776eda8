// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Scanner reads the files the backends own under Root. A file is read and
// parsed again only when its inode, size, modification or change time
// moved, so an idle cycle costs a directory listing and a stat per file.
type Scanner struct {
	Root     rootfs.Root
	Backends []Backend
	// Other, when set, picks files in the backends' directories that no
	// backend owns, and Extra names more such files: they are read (with
	// the same cache) and returned by Others, unparsed.
	Other func(path string) bool
	Extra []string
	// Watch, set by a long-running caller (the daemon), has the kernel
	// report changes under the directories (inotify): a Scan with nothing
	// reported since the last one returns that one's result without a
	// single system call (see fileWatch).
	Watch    bool
	cache    map[string]cached
	listings map[string]listing
	others   []Owned

	watch *fileWatch
	// last is the last full scan's result, valid for reuse while nothing
	// was reported since (and every entry of it was settled), until
	// fullScanEvery has passed.
	last     []Owned
	lastOK   bool
	lastFull time.Time
	// gen counts the scans that read the directories: the same gen, the
	// same files.
	gen uint64
}

// Generation changes with every Scan that read the directories again; a
// Scan that reused its last result leaves it.
func (s *Scanner) Generation() uint64 { return s.gen }

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

// fullScanEvery bounds how long a Watch scanner trusts its last result:
// a change the kernel cannot report (a file changed through another mount
// of its file system, say) is seen within that time.
const fullScanEvery = 5 * time.Minute

// Scan returns every regular file at a path one of the backends owns,
// sorted by path. The slice may be the one the last Scan returned: callers
// read it and never modify it.
func (s *Scanner) Scan() ([]Owned, error) {
	if !s.Watch {
		return s.scan()
	}
	if s.watch == nil {
		w, err := newFileWatch()
		if err != nil {
			s.Watch = false // stat every file, as without Watch
			return s.scan()
		}
		s.watch = w
	}
	if s.lastOK && !s.watch.changed() && time.Since(s.lastFull) < fullScanEvery {
		return s.last, nil
	}
	// Watched before the scan reads anything: a change during the scan is
	// reported to the next one.
	s.watch.reset()
	for _, d := range s.watchedDirs() {
		s.watch.add(s.Root.Path(d))
	}
	start := time.Now()
	out, err := s.scan()
	s.lastOK = err == nil && s.settled() && s.watch.ok()
	s.last, s.lastFull = out, start
	return out, err
}

// watchedDirs are the directories whose changes a Scan must see: the
// backends' and those of the Extra files.
func (s *Scanner) watchedDirs() []string {
	var dirs []string
	for _, b := range s.Backends {
		for _, d := range b.Dirs() {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	for _, p := range s.Extra {
		if d := filepath.Dir(p); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// settled reports whether every entry of the last scan can be trusted to
// change with the next write (see fileKey.settled), and every directory
// that exists has its listing cached.
func (s *Scanner) settled() bool {
	for _, c := range s.cache {
		if c.key == (fileKey{}) {
			return false
		}
	}
	for _, b := range s.Backends {
		for _, d := range b.Dirs() {
			if _, ok := s.listings[d]; !ok {
				if _, err := os.Lstat(s.Root.Path(d)); err == nil {
					return false
				}
			}
		}
	}
	return true
}

func (s *Scanner) scan() ([]Owned, error) {
	s.gen++
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
	full := s.Root.Path(dir)
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
	full := s.Root.Path(p)
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
