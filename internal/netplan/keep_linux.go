// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"bytes"
	"os"
	"path/filepath"
	"time"
)

// outputDirs are where netplan's generator writes (node paths, under the
// root), networkd's directory first.
var outputDirs = []string{generatedDir, "/run/NetworkManager/system-connections", "/run/udev/rules.d"}

// keepUnchanged runs gen, which rewrites every file it generates, then
// puts back the previous file (its inode and mtime) wherever gen wrote the
// same bytes with the same mode again. systemd-networkd's reload takes a
// .network file with a new inode or mtime for a changed one and
// reconfigures its link: without this, every activation of one NIC would
// reconfigure every netplan link, the management NIC's too, whose routes
// go for a moment.
//
// The previous files are kept as hard links in a directory under ROOT/run
// (the same file system, so a rename puts them back atomically). Where a
// link or a rename is refused, the generator's file stays, as it would
// without this. The install's snapshot, when there is one, goes back
// first (restoreInstalled).
func keepUnchanged(root string, gen func() error) error {
	restoreInstalled(root)
	keep, err := os.MkdirTemp(filepath.Join(root, "run"), ".multinic-agent-netplan-")
	if err != nil {
		return gen()
	}
	defer os.RemoveAll(keep)
	type kept struct{ path, link string }
	var prev []kept
	for k, dir := range outputDirs {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(root, dir, e.Name())
			l := filepath.Join(keep, string(rune('a'+k))+"-"+e.Name())
			if os.Link(p, l) == nil {
				prev = append(prev, kept{p, l})
			}
		}
	}
	if err := gen(); err != nil {
		return err
	}
	for _, f := range prev {
		if same(f.path, f.link) {
			os.Rename(f.link, f.path)
		}
	}
	return nil
}

// same reports whether path is a new file with the bytes and mode of old.
func same(path, old string) bool {
	a, err := os.Lstat(path)
	if err != nil || !a.Mode().IsRegular() {
		return false
	}
	b, err := os.Lstat(old)
	if err != nil || os.SameFile(a, b) || a.Mode() != b.Mode() || a.Size() != b.Size() {
		return false
	}
	x, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	y, err := os.ReadFile(old)
	return err == nil && bytes.Equal(x, y)
}

// installSnapshot holds hard links to the files of /run/systemd/network as
// they were before the daemon-reload of the package's postinst or of
// scripts/install-daemon.sh, which make it (see restoreInstalled).
const installSnapshot = "/run/.multinic-agent-netplan-install"

// snapshotFresh is how long after the install its snapshot is used.
const snapshotFresh = 15 * time.Minute

// restoreInstalled puts back, inode and mtime, each file of
// /run/systemd/network that the install's snapshot holds with the same
// bytes and mode, then removes the snapshot. A daemon-reload (the
// install's, and `systemctl enable`'s after it) runs netplan's systemd
// generator, which writes every file there again; networkd's next reload,
// the agent's first, would take each one for changed and reconfigure its
// link, the management NIC's too, whose address goes for a moment (seen in
// the VM). The snapshot serves once, and only while fresh: the longer
// since the install, the likelier that someone else's reload has made
// networkd read the new files, and putting the old ones back would then
// be the change.
func restoreInstalled(root string) {
	dir := filepath.Join(root, installSnapshot)
	st, err := os.Stat(dir)
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	if time.Since(st.ModTime()) > snapshotFresh {
		return
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		old := filepath.Join(dir, e.Name())
		if p := filepath.Join(root, generatedDir, e.Name()); same(p, old) {
			os.Rename(old, p)
		}
	}
}
