// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// testBackend owns /etc/test/N.conf (interface multinicN) and /etc/other/N.conf.
type testBackend struct{ dirs []string }

func (b testBackend) Name() string   { return "test" }
func (b testBackend) Dirs() []string { return b.dirs }
func (b testBackend) Owns(p string) (string, bool) {
	for _, d := range b.dirs {
		if n, ok := strings.CutPrefix(p, d+"/"); ok && strings.HasSuffix(n, ".conf") && len(n) == 6 {
			return "multinic" + n[:1], true
		}
	}
	return "", false
}
func (testBackend) Render(Iface) []File { return nil }
func (testBackend) Parse(p string, c []byte) (Iface, error) {
	_, v, _ := strings.Cut(string(c), "\n")
	return Iface{Name: v}, nil
}
func (testBackend) Activate(context.Context, rootfs.Root, []string) error { return nil }

// TestWatchingScannerSeesEveryChange: the daemon's scanner, which reuses
// its last result while the kernel reports no change, still sees a file
// created, rewritten in place, chmod'ed, renamed over and deleted, a
// missing directory created with a file in it, and a directory deleted
// and created again.
func TestWatchingScannerSeesEveryChange(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/test"), 0o755)
	s := &Scanner{Root: rootfs.Root(root), Backends: []Backend{testBackend{dirs: []string{"/etc/test", "/etc/other"}}}, Watch: true}
	file := func(p string) string { return filepath.Join(root, p) }
	// Files older than a second are settled: the scanner may reuse them.
	age := func(p string) {
		old := time.Now().Add(-10 * time.Second)
		os.Chtimes(file(p), old, old)
	}
	seen := func(what string, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			out, err := s.Scan()
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, o := range out {
				parts = append(parts, fmt.Sprintf("%s=%s:%o", filepath.Base(o.Path), o.Iface.Name, o.Mode))
			}
			if got = strings.Join(parts, " "); got == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: the scan shows %q, want %q", what, got, want)
	}
	seen("empty", "")
	os.WriteFile(file("etc/test/1.conf"), []byte(Marker+"\na"), 0o600)
	seen("created", "1.conf=a:600")
	age("etc/test/1.conf")
	seen("settled", "1.conf=a:600")
	// Rewritten in place, same size: only the kernel's event says so
	// while the cached entry is settled.
	f, _ := os.OpenFile(file("etc/test/1.conf"), os.O_WRONLY, 0)
	f.WriteAt([]byte("b"), int64(len(Marker)+1))
	f.Close()
	age("etc/test/1.conf")
	seen("rewritten in place", "1.conf=b:600")
	os.Chmod(file("etc/test/1.conf"), 0o644)
	seen("chmod", "1.conf=b:644")
	os.WriteFile(file("etc/test/.tmp"), []byte(Marker+"\nc"), 0o600)
	os.Rename(file("etc/test/.tmp"), file("etc/test/1.conf"))
	seen("renamed over", "1.conf=c:600")
	os.MkdirAll(file("etc/other"), 0o755)
	os.WriteFile(file("etc/other/2.conf"), []byte(Marker+"\nd"), 0o600)
	seen("a missing directory created", "2.conf=d:600 1.conf=c:600")
	os.Remove(file("etc/test/1.conf"))
	seen("deleted", "2.conf=d:600")
	os.RemoveAll(file("etc/other"))
	seen("directory deleted", "")
	os.MkdirAll(file("etc/other"), 0o755)
	os.WriteFile(file("etc/other/3.conf"), []byte(Marker+"\ne"), 0o600)
	age("etc/other/3.conf")
	seen("directory created again", "3.conf=e:600")
	f, _ = os.OpenFile(file("etc/other/3.conf"), os.O_WRONLY, 0)
	f.WriteAt([]byte("f"), int64(len(Marker)+1))
	f.Close()
	age("etc/other/3.conf")
	seen("rewritten in the new directory", "3.conf=f:600")
}
