// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteReplacesWholeFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "netplan", "90-multinic0.yaml")
	if err := Write(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (the mode of the write, not the old file's)", st.Mode())
	}
	if got := entries(t, filepath.Dir(path)); !slices.Equal(got, []string{"90-multinic0.yaml"}) {
		t.Errorf("directory holds %v: a temporary file was left", got)
	}
}

func TestWriteReplacesASymlinkInsteadOfFollowingIt(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "90-multinic0.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("ours\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Errorf("path is %v (%v), want a regular file", st.Mode(), err)
	}
}

func TestAFailedWriteLeavesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "90-multinic0.yaml")
	if err := Write(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A path under a regular file fails for root too (ENOTDIR).
	if err := Write(filepath.Join(path, "x"), []byte("new\n"), 0o600); err == nil {
		t.Fatal("a write under a regular file succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("content %q after a failed write", b)
	}
}

func TestTemporaryFilesAreHiddenAndCleaned(t *testing.T) {
	dir := t.TempDir()
	// What an interrupted Write leaves, beside someone else's files.
	for _, n := range []string{".90-multinic0.yaml.tmp-123", ".50-cloud-init.yaml.tmp-9", "50-cloud-init.yaml", "90-multinic1.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Tools read *.yaml: a temporary file never matches.
	if m, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(m) != 2 {
		t.Errorf("*.yaml matches %v", m)
	}
	CleanTemp(dir)
	want := []string{".50-cloud-init.yaml.tmp-9", "50-cloud-init.yaml", "90-multinic1.yaml"}
	if got := entries(t, dir); !slices.Equal(got, want) {
		t.Errorf("after CleanTemp %v, want %v (only the agent's temporary files go)", got, want)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "90-multinic0.yaml")
	if err := Write(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}
