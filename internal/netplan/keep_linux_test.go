// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKeepUnchanged: after a generator that rewrites every file, a file
// with the same bytes and mode is the file it was (inode and mtime); a
// changed, a new, a removed file, and one whose mode alone changed are
// as the generator left them.
func TestKeepUnchanged(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "run/systemd/network")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	stat := func(name string) os.FileInfo {
		st, _ := os.Stat(filepath.Join(dir, name))
		return st
	}
	write("same.network", "A", 0o644)
	write("changed.network", "B", 0o644)
	write("removed.network", "C", 0o644)
	write("mode.network", "D", 0o644)
	before := map[string]os.FileInfo{}
	for _, n := range []string{"same.network", "changed.network", "mode.network"} {
		before[n] = stat(n)
	}
	err := keepUnchanged(root, func() error {
		for _, n := range []string{"same.network", "changed.network", "removed.network", "mode.network"} {
			os.Remove(filepath.Join(dir, n))
		}
		write("same.network", "A", 0o644)
		write("changed.network", "B2", 0o644)
		write("mode.network", "D", 0o600)
		write("new.network", "E", 0o644)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, kept := range map[string]bool{"same.network": true, "changed.network": false, "mode.network": false} {
		if got := os.SameFile(before[name], stat(name)); got != kept {
			t.Errorf("%s is the file it was: %v, want %v", name, got, kept)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "changed.network")); string(b) != "B2" {
		t.Errorf("changed.network: %q", b)
	}
	if stat("removed.network") != nil || stat("new.network") == nil {
		t.Error("a removed file came back, or a new one went")
	}
	if left, _ := filepath.Glob(filepath.Join(root, "run/.multinic-agent-netplan-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestInstallSnapshotPutsBackUnchangedFiles: after a daemon-reload had
// netplan's generator write /run/systemd/network again, the install's
// snapshot puts back each file it holds with the same bytes and mode
// (the inode networkd read), leaves changed and new files as they are,
// serves once, and not at all when older than snapshotFresh.
func TestInstallSnapshotPutsBackUnchangedFiles(t *testing.T) {
	for _, c := range []struct {
		name    string
		age     time.Duration
		restore bool
	}{{"fresh", time.Minute, true}, {"stale", snapshotFresh + time.Minute, false}} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, generatedDir)
			snap := filepath.Join(root, installSnapshot)
			for _, d := range []string{dir, snap} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			file := func(name, content string) string {
				t.Helper()
				p := filepath.Join(dir, name)
				os.Remove(p)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			old := map[string]os.FileInfo{}
			for name, content := range map[string]string{"10-netplan-mgmt0.network": "A", "10-netplan-mgmt0.link": "B", "10-netplan-gone.network": "C"} {
				p := file(name, content)
				if err := os.Link(p, filepath.Join(snap, name)); err != nil {
					t.Fatal(err)
				}
				old[name], _ = os.Stat(p)
			}
			// The daemon-reload's generator: every file again, one changed,
			// one gone, one new.
			os.Remove(filepath.Join(dir, "10-netplan-gone.network"))
			file("10-netplan-mgmt0.network", "A")
			file("10-netplan-mgmt0.link", "B2")
			file("10-netplan-new.network", "D")
			when := time.Now().Add(-c.age)
			if err := os.Chtimes(snap, when, when); err != nil {
				t.Fatal(err)
			}
			restoreInstalled(root)
			st, _ := os.Stat(filepath.Join(dir, "10-netplan-mgmt0.network"))
			if put := os.SameFile(st, old["10-netplan-mgmt0.network"]); put != c.restore {
				t.Errorf("the unchanged file is the one networkd read: %v, want %v", put, c.restore)
			}
			if st, _ := os.Stat(filepath.Join(dir, "10-netplan-mgmt0.link")); os.SameFile(st, old["10-netplan-mgmt0.link"]) {
				t.Error("the changed file was put back as it was")
			}
			if _, err := os.Stat(filepath.Join(dir, "10-netplan-gone.network")); err == nil {
				t.Error("a file the generator no longer writes came back")
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "10-netplan-new.network")); string(b) != "D" {
				t.Errorf("the new file: %q", b)
			}
			if _, err := os.Stat(snap); err == nil {
				t.Error("the snapshot is still there")
			}
		})
	}
}
