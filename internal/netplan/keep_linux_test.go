// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"os"
	"path/filepath"
	"testing"
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
