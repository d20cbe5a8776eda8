// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package deployments

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// The Debian chroot the packages are installed into: debootstrap's minbase
// with systemd (not running: as in an image build), cached as a tar named
// by what it holds, and unpacked afresh for each test.
const (
	chrootSuite   = "bookworm"
	chrootVariant = "minbase"
	chrootCache   = "/var/cache/multinic-pkgtest"
)

var chrootInclude = []string{"systemd"}

// debianMirror is the host's Debian mirror (the URIs of its deb822 sources,
// or its sources.list), deb.debian.org when none is found.
func debianMirror() string {
	if data, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "URIs:"); ok && !strings.Contains(v, "security") {
				if f := strings.Fields(v); len(f) > 0 {
					return f[0]
				}
			}
		}
	}
	if data, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && !strings.HasPrefix(f[1], "[") && !strings.Contains(f[1], "security") {
				return f[1]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// debianChroot returns a fresh Debian root file system, unpacked from the
// cached tar, which it makes first when absent (debootstrap: a few minutes).
func debianChroot(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"debootstrap", "tar", "chroot", "unshare"} {
		testenv.RequireTool(t, tool)
	}
	mirror := debianMirror()
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join([]string{chrootSuite, chrootVariant, strings.Join(chrootInclude, ","), mirror}, "\n"))))[:12]
	tarball := filepath.Join(chrootCache, fmt.Sprintf("debian-%s-%s-%s.tar", chrootSuite, chrootVariant, key))
	if err := os.MkdirAll(chrootCache, 0o755); err != nil {
		t.Fatal(err)
	}
	// One debootstrap at a time on this machine; the others wait for it.
	lock, err := os.OpenFile(filepath.Join(chrootCache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tarball); errors.Is(err, fs.ErrNotExist) {
		build := filepath.Join(chrootCache, "build-"+key)
		os.RemoveAll(build)
		defer os.RemoveAll(build)
		start := time.Now()
		t.Logf("no cached chroot at %s: debootstrap --variant=%s --include=%s %s from %s", tarball, chrootVariant, strings.Join(chrootInclude, ","), chrootSuite, mirror)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "debootstrap", "--variant="+chrootVariant, "--include="+strings.Join(chrootInclude, ","),
			chrootSuite, build, mirror).CombinedOutput(); err != nil {
			t.Fatalf("debootstrap: %v\n%s", err, tail(out, 3000))
		}
		if out, err := exec.Command("tar", "-C", build, "-cf", tarball+".tmp", ".").CombinedOutput(); err != nil {
			os.Remove(tarball + ".tmp")
			t.Fatalf("tar: %v\n%s", err, out)
		}
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap and cache took %s", time.Since(start).Round(time.Second))
	} else if err != nil {
		t.Fatal(err)
	}
	root, err := os.MkdirTemp("", "multinic-chroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if out, err := exec.Command("tar", "-C", root, "-xf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	return root
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// inChroot runs a shell command in root, in a mount namespace of its own
// with /proc mounted, no standard input and a minimal environment. It
// returns the exit status and the combined output.
func inChroot(t *testing.T, root, command string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-ec",
		`mount -t proc proc "$1/proc"; exec chroot "$1" /bin/sh -c "$2"`, "sh", root, command)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
	cmd.Stdin = nil // /dev/null: a prompt would fail instead of waiting
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("chroot %s: %v\n%s", command, err, out)
	}
	return 0, string(out)
}

// mustChroot runs command in root and fails the test unless it exits 0.
func mustChroot(t *testing.T, root, command string) string {
	t.Helper()
	code, out := inChroot(t, root, command)
	if code != 0 {
		t.Fatalf("in the chroot, %s: exit %d\n%s", command, code, out)
	}
	return out
}

// rootTree maps every path of the chroot to its type and mode, and, under
// /etc and /usr/local, a hash of the content; dpkg's and the kernel's own
// bookkeeping is left out.
func rootTree(t *testing.T, root string) map[string]string {
	t.Helper()
	skip := []string{"proc", "dev", "sys", "run", "tmp", "var/lib/dpkg", "var/log", "var/cache/debconf", "var/cache/ldconfig"}
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() && slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			v += " -> " + target
		case info.Mode().IsRegular() && (strings.HasPrefix(rel, "etc/") || strings.HasPrefix(rel, "usr/local/")):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(data))
		case info.Mode().IsRegular():
			v += fmt.Sprintf(" %d bytes", info.Size())
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// treeDiff lists what differs between two rootTree results.
func treeDiff(before, after map[string]string) []string {
	var out []string
	for p, v := range after {
		if w, ok := before[p]; !ok {
			out = append(out, "added "+p+" ("+v+")")
		} else if w != v {
			out = append(out, "changed "+p+" ("+w+" -> "+v+")")
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, "removed "+p)
		}
	}
	slices.Sort(out)
	return out
}

func subtree(tr map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for p, v := range tr {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			out[p] = v
		}
	}
	return out
}

// installs lists the multinic-agent unit files and binaries in the chroot:
// a node must have exactly one of each.
func installs(t *testing.T, root string) (units, binaries []string) {
	t.Helper()
	for _, d := range []string{"etc/systemd/system", "usr/lib/systemd/system", "usr/local/lib/systemd/system", "run/systemd/system"} {
		p := filepath.Join(root, d, "multinic-agent.service")
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			units = append(units, "/"+d+"/multinic-agent.service")
		}
	}
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"} {
		p := filepath.Join(root, d, "multinic-agent")
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			binaries = append(binaries, "/"+d+"/multinic-agent")
		}
	}
	return units, binaries
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

const wantsLink = "etc/systemd/system/multi-user.target.wants/multinic-agent.service"

// TestDebLifecycleInDebianChroot installs the .deb into a debootstrapped
// Debian 12 with systemd installed but not running (an image build, a
// chroot), as an operator's fleet tooling would, non-interactively: install,
// enable as an image build does, edit config.env, upgrade to a build with a
// changed template, remove, purge. Then the two mixed cases: the package
// over a script install, and the script over the package.
func TestDebLifecycleInDebianChroot(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	root := debianChroot(t)
	// The upgrade's template differs, as a new release's would: with a
	// conffile, this is where dpkg would stop at its prompt.
	changed := changedTemplate(t)
	v1 := buildPackages(t, "0.0.1", templateFile)
	v2 := buildPackages(t, "0.0.2", changed)
	for name, src := range map[string]string{"v1.deb": v1.deb, "v2.deb": v2.deb, "multinic-agent": agentBinary(t)} {
		data := readFile(t, src)
		if err := os.WriteFile(filepath.Join(root, "tmp", name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(root, "etc/multinic-agent/config.env")
	before := rootTree(t, root)
	usrLocal := subtree(before, "usr/local")
	if len(usrLocal) == 0 {
		t.Fatal("the chroot has no /usr/local to check")
	}
	status := func() string {
		return strings.TrimSpace(mustChroot(t, root, `dpkg-query -W -f '${db:Status-Abbrev}${Version}' multinic-agent 2>/dev/null || true`))
	}

	// Install.
	out := mustChroot(t, root, "dpkg -i /tmp/v1.deb")
	if got := status(); got != "ii 0.0.1-1" {
		t.Fatalf("after dpkg -i: status %q\n%s", got, out)
	}
	if !strings.Contains(out, "created /etc/multinic-agent/config.env (0600)") {
		t.Errorf("the postinst did not say it created config.env:\n%s", out)
	}
	if readFile(t, conf) != readFile(t, templateFile) || mode(t, conf) != 0o600 {
		t.Errorf("config.env: mode %04o, want 0600, and the template's content", mode(t, conf))
	}
	if got := mustChroot(t, root, "multinic-agent version"); !strings.Contains(got, "v0.0.1-test") {
		t.Errorf("multinic-agent version in the chroot: %s", got)
	}
	if units, bins := installs(t, root); !slices.Equal(units, []string{"/usr/lib/systemd/system/multinic-agent.service"}) || !slices.Equal(bins, []string{pkgBin}) {
		t.Errorf("after install: units %v, binaries %v", units, bins)
	}
	if exists(filepath.Join(root, wantsLink)) {
		t.Error("a first install enabled the service, which cannot start before config.env is set")
	}
	if got := mustChroot(t, root, "dpkg-query -W -f '${Conffiles}' multinic-agent"); strings.TrimSpace(got) != "" {
		t.Errorf("conffiles %q: config.env must not be one", got)
	}

	// An image build enables it (systemctl works on the files offline),
	// and the operator sets the database.
	mustChroot(t, root, "systemctl enable multinic-agent.service")
	if !exists(filepath.Join(root, wantsLink)) {
		t.Fatal("systemctl enable made no link")
	}
	edited := readFile(t, conf) + "DB_HOST=db.example.internal\nDB_USER=multinic_agent\nDB_PASSWORD=s3cret\n"
	if err := os.WriteFile(conf, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "var/lib/multinic-agent")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "state.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Upgrade, with no terminal and no --force-conf* option.
	out = mustChroot(t, root, "dpkg -i /tmp/v2.deb")
	if got := status(); got != "ii 0.0.2-1" {
		t.Fatalf("after the upgrade: status %q\n%s", got, out)
	}
	if strings.Contains(out, "Configuration file") || strings.Contains(out, "conffile") {
		t.Errorf("the upgrade asked about a configuration file:\n%s", out)
	}
	if readFile(t, conf) != edited || mode(t, conf) != 0o600 {
		t.Errorf("the upgrade changed config.env (mode %04o):\n%s", mode(t, conf), readFile(t, conf))
	}
	if readFile(t, filepath.Join(root, pkgTemplate)) != readFile(t, changed) {
		t.Error("the upgrade did not install the new template")
	}
	if !exists(filepath.Join(root, wantsLink)) {
		t.Error("the upgrade disabled the service")
	}

	// Remove: config.env, the state and the enabled state stay.
	mustChroot(t, root, "dpkg -r multinic-agent")
	if got := status(); got != "rc 0.0.2-1" {
		t.Errorf("after dpkg -r: status %q, want rc (config-files)", got)
	}
	if exists(filepath.Join(root, pkgBin)) || exists(filepath.Join(root, pkgUnit)) {
		t.Error("dpkg -r left the binary or the unit")
	}
	if readFile(t, conf) != edited {
		t.Error("dpkg -r did not keep config.env")
	}
	if d := treeDiff(usrLocal, subtree(rootTree(t, root), "usr/local")); len(d) > 0 {
		t.Errorf("dpkg -r changed /usr/local: %v", d)
	}

	// Purge: nothing of the package is left.
	mustChroot(t, root, "dpkg -P multinic-agent")
	if got := status(); got != "" && !strings.HasPrefix(got, "un") {
		t.Errorf("after dpkg -P: status %q", got)
	}
	if d := treeDiff(before, rootTree(t, root)); len(d) > 0 {
		t.Errorf("dpkg -P left the system different from before the install:\n%s", strings.Join(d, "\n"))
	}

	// The package over a script install: it takes the script's files over,
	// keeps its config.env and its enabled state.
	mustChroot(t, root, "mkdir -p /tmp/src")
	copyTree(t, filepath.Join(repoRoot, "scripts"), filepath.Join(root, "tmp/src/scripts"))
	copyTree(t, "systemd", filepath.Join(root, "tmp/src/deployments/systemd"))
	out = mustChroot(t, root, "/tmp/src/scripts/install-daemon.sh --binary /tmp/multinic-agent")
	if !strings.Contains(out, "ran systemctl enable multinic-agent.service (offline") {
		t.Errorf("the script did not enable the unit offline:\n%s", out)
	}
	if units, bins := installs(t, root); !slices.Equal(units, []string{"/etc/systemd/system/multinic-agent.service"}) || !slices.Equal(bins, []string{installedBin}) {
		t.Fatalf("after the script install: units %v, binaries %v", units, bins)
	}
	scriptConf := readFile(t, conf) + "DB_HOST=db2.example.internal\n"
	if err := os.WriteFile(conf, []byte(scriptConf), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustChroot(t, root, "dpkg -i /tmp/v1.deb")
	if !strings.Contains(out, "taking over the install of scripts/install-daemon.sh") {
		t.Errorf("the postinst did not say it took the script install over:\n%s", out)
	}
	if units, bins := installs(t, root); !slices.Equal(units, []string{"/usr/lib/systemd/system/multinic-agent.service"}) || !slices.Equal(bins, []string{pkgBin}) {
		t.Errorf("the package over a script install: units %v, binaries %v, want the package's one each", units, bins)
	}
	if exists(filepath.Join(root, "usr/local/share/multinic-agent")) {
		t.Error("the script's template directory is left in /usr/local/share")
	}
	if readFile(t, conf) != scriptConf {
		t.Error("the package did not keep the script install's config.env")
	}
	if target, err := os.Readlink(filepath.Join(root, wantsLink)); err != nil || !strings.HasSuffix(target, "/lib/systemd/system/multinic-agent.service") {
		t.Errorf("the script's enabled unit is not enabled as the package's: %q (%v)", target, err)
	}

	// The script over the package: refused, nothing changed.
	beforeScript := rootTree(t, root)
	for _, s := range []string{"install-daemon.sh --binary /tmp/multinic-agent", "uninstall-daemon.sh"} {
		code, out := inChroot(t, root, "/tmp/src/scripts/"+s)
		if code != 1 || !strings.Contains(out, "installed from the package multinic-agent (.deb, /usr/bin/multinic-agent)") {
			t.Errorf("%s over the package: exit %d, want 1 naming the package:\n%s", s, code, out)
		}
	}
	if d := treeDiff(beforeScript, rootTree(t, root)); len(d) > 0 {
		t.Errorf("the refused script changed files: %v", d)
	}

	// And a purge leaves no link behind, though the script made it.
	mustChroot(t, root, "dpkg -P multinic-agent")
	if exists(filepath.Join(root, wantsLink)) || exists(conf) {
		t.Error("dpkg -P left the enable link or config.env")
	}
	if units, bins := installs(t, root); len(units)+len(bins) > 0 {
		t.Errorf("after the purge: units %v, binaries %v", units, bins)
	}

	// An upgrade from the layout of the builds before this one: the binary
	// in /usr/local/bin (owning /usr/local/bin), config.env a conffile.
	old := oldLayoutDeb(t)
	if err := os.WriteFile(filepath.Join(root, "tmp/old.deb"), []byte(readFile(t, old)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustChroot(t, root, "dpkg -i /tmp/old.deb")
	oldConf := readFile(t, conf) + "DB_HOST=db3.example.internal\n"
	if err := os.WriteFile(conf, []byte(oldConf), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustChroot(t, root, "dpkg -i /tmp/v1.deb")
	if got := status(); got != "ii 0.0.1-1" {
		t.Fatalf("the upgrade from the old layout: status %q\n%s", got, out)
	}
	if readFile(t, conf) != oldConf || mode(t, conf) != 0o600 {
		t.Error("the upgrade from the old layout did not keep config.env")
	}
	if st, err := os.Stat(filepath.Join(root, "usr/local/bin")); err != nil || !st.IsDir() {
		t.Errorf("the upgrade from the old layout left no /usr/local/bin (%v)", err)
	}
	if units, bins := installs(t, root); !slices.Equal(units, []string{"/usr/lib/systemd/system/multinic-agent.service"}) || !slices.Equal(bins, []string{pkgBin}) {
		t.Errorf("the upgrade from the old layout: units %v, binaries %v", units, bins)
	}
	mustChroot(t, root, "dpkg -P multinic-agent")
	if d := treeDiff(before, rootTree(t, root)); len(d) > 0 {
		t.Errorf("after the upgrade from the old layout and a purge, the system differs from before:\n%s", strings.Join(d, "\n"))
	}
}

// oldLayoutDeb builds a .deb laid out as `make packages` built them
// before (up to commit 47d01d0): the binary in /usr/local/bin, so that the
// package owned /usr/local and /usr/local/bin, and config.env a conffile.
func oldLayoutDeb(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]struct {
		data string
		mode os.FileMode
	}{
		"DEBIAN/control": {"Package: multinic-agent\nVersion: 0.0.0~47d01d0-1\nArchitecture: " + debArch(t) + "\n" +
			"Maintainer: multinic-agent maintainers <multinic-agent@users.noreply.github.com>\nSection: net\nPriority: optional\n" +
			"Description: the layout of the builds before issue 15\n", 0o644},
		"DEBIAN/conffiles":                              {"/etc/multinic-agent/config.env\n", 0o644},
		"usr/local/bin/multinic-agent":                  {readFile(t, agentBinary(t)), 0o755},
		"usr/lib/systemd/system/multinic-agent.service": {readFile(t, unitFile), 0o644},
		"etc/multinic-agent/config.env":                 {readFile(t, templateFile), 0o600},
	}
	for name, f := range files {
		p := filepath.Join(dir, "root", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(dir, "old.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", filepath.Join(dir, "root"), deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb
}

// oldLayoutRPM builds, with the same nfpm, an .rpm laid out as the builds
// before: the binary in /usr/local/bin and config.env %config(noreplace).
func oldLayoutRPM(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	conf := `name: multinic-agent
arch: ` + runtime.GOARCH + `
platform: linux
version: 0.0.0~47d01d0
release: "1"
maintainer: multinic-agent maintainers <multinic-agent@users.noreply.github.com>
description: the layout of the builds before issue 15
license: Apache-2.0
contents:
  - src: ` + agentBinary(t) + `
    dst: /usr/local/bin/multinic-agent
    file_info: {mode: 0755}
  - src: ` + abs(unitFile) + `
    dst: /usr/lib/systemd/system/multinic-agent.service
  - src: ` + abs(templateFile) + `
    dst: /etc/multinic-agent/config.env
    type: config|noreplace
    file_info: {mode: 0600}
`
	if err := os.WriteFile(filepath.Join(dir, "nfpm.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	nfpm := regexp.MustCompile(`(?m)^NFPM\s*:=\s*(.+)$`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot, "Makefile")))
	if nfpm == nil {
		t.Fatal("the Makefile sets no NFPM")
	}
	args := append(strings.Fields(nfpm[1]), "package", "--config", filepath.Join(dir, "nfpm.yaml"), "--packager", "rpm", "--target", filepath.Join(dir, "old.rpm"))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm (old layout): %v\n%s", err, out)
	}
	return filepath.Join(dir, "old.rpm")
}

func debArch(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(run(t, "dpkg", "--print-architecture"))
}

var changedOnce sync.Once

// changedTemplate is config.env.template with a key added, as the next
// release's would be: the template of the upgrade builds.
func changedTemplate(t *testing.T) string {
	t.Helper()
	p := filepath.Join(tmpDir, "changed", "config.env.template")
	changedOnce.Do(func() {
		data := readFile(t, templateFile) + "\n# A key added by the next release.\n#POLL_INTERVAL=30s\n"
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			os.WriteFile(p, []byte(data), 0o644)
		}
	})
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyTree copies the regular files under src to dst, keeping their modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRPMLifecycleAndRpmlint installs the .rpm with the host's rpm into a
// throwaway overlay of this machine's root (a private mount namespace; the
// changes land in a tmpfs), where rpmlint checks the installed package:
// `rpmlint FILE` unpacks with `rpm2cpio | cpio -id`, and nfpm's payload
// holds absolute paths, so it would write into / and check no file. Then
// it upgrades with a changed template and erases.
func TestRPMLifecycleAndRpmlint(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tool := range []string{"rpm", "rpmlint", "unshare", "chroot"} {
		testenv.RequireTool(t, tool)
	}
	v1 := buildPackages(t, "0.0.1", templateFile)
	v2 := buildPackages(t, "0.0.2", changedTemplate(t))
	work := t.TempDir()
	for name, src := range map[string]string{"v1.rpm": v1.rpm, "v2.rpm": v2.rpm, "old.rpm": oldLayoutRPM(t), "rpmlint.toml": "packaging/rpmlint.toml"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(readFile(t, src)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each step prints a line "== NAME rc=N" after its output.
	steps := `
step() { name=$1; shift; set +e; "$@" 2>&1; rc=$?; set -e; echo "== $name rc=$rc"; }
cd /run/pkgtest
step install rpm -i --nodeps v1.rpm
step rpmlint rpmlint -c rpmlint.toml -i multinic-agent
stat -c '== mode %a' /etc/multinic-agent/config.env
echo 'DB_HOST=db.example.internal' >> /etc/multinic-agent/config.env
sha256sum /etc/multinic-agent/config.env | sed 's/^/== edited /'
step upgrade rpm -U --nodeps v2.rpm
sha256sum /etc/multinic-agent/config.env | sed 's/^/== kept /'
step version rpm -q --qf '%{VERSION}-%{RELEASE}\n' multinic-agent
step erase rpm -e multinic-agent
test -e /usr/bin/multinic-agent && echo '== binary left' || echo '== binary gone'
test -e /etc/multinic-agent/config.env && echo '== conf kept' || echo '== conf gone'
rm -rf /etc/multinic-agent
step old-install rpm -i --nodeps old.rpm
echo 'DB_HOST=db3.example.internal' >> /etc/multinic-agent/config.env
sha256sum /etc/multinic-agent/config.env | sed 's/^/== old-edited /'
step old-upgrade rpm -U --nodeps v1.rpm
sha256sum /etc/multinic-agent/config.env | sed 's/^/== old-kept /'
stat -c '== old-mode %a' /etc/multinic-agent/config.env
ls /etc/multinic-agent/config.env.rpmsave /usr/local/bin/multinic-agent 2>/dev/null | sed 's/^/== old-left /'
`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-ec", `
fs=$1/fs
mkdir -p "$fs"
mount -t tmpfs tmpfs "$fs"
mkdir "$fs/upper" "$fs/work" "$fs/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$fs/upper,workdir=$fs/work" "$fs/root"
mount --rbind /dev "$fs/root/dev"
mount -t proc proc "$fs/root/proc"
mkdir -p "$fs/root/run/pkgtest"
mount --bind "$1" "$fs/root/run/pkgtest"
exec chroot "$fs/root" /bin/sh -ec "$2"`, "sh", work, steps)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "HOME=/root"}
	out, err := cmd.CombinedOutput()
	t.Logf("in the overlay:\n%s", out)
	if err != nil {
		t.Fatalf("the overlay run failed: %v", err)
	}
	lines := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "== "); ok {
			k, v, _ := strings.Cut(rest, " ")
			lines[k] = v
		}
	}
	for _, step := range []string{"install", "rpmlint", "upgrade", "version", "erase", "old-install", "old-upgrade"} {
		if lines[step] != "rc=0" {
			t.Errorf("%s: %q, want rc=0", step, lines[step])
		}
	}
	if lines["mode"] != "600" {
		t.Errorf("%%post made config.env mode %q, want 600", lines["mode"])
	}
	if lines["edited"] == "" || lines["kept"] != lines["edited"] {
		t.Errorf("the upgrade changed config.env: %q -> %q", lines["edited"], lines["kept"])
	}
	if !strings.Contains(string(out), "0.0.2-1\n== version") {
		t.Error("the upgrade did not install 0.0.2-1")
	}
	if lines["binary"] != "gone" {
		t.Errorf("after rpm -e: binary %s", lines["binary"])
	}
	if lines["conf"] != "kept" {
		t.Error("rpm -e removed config.env (it holds the operator's settings; rpm has no purge)")
	}
	// From a build that shipped config.env as %config(noreplace): rpm saves
	// the edited file as .rpmsave when the old package goes, and %posttrans
	// puts it back.
	if lines["old-edited"] == "" || lines["old-kept"] != lines["old-edited"] || lines["old-mode"] != "600" {
		t.Errorf("the upgrade from the old layout: config.env %q -> %q, mode %q", lines["old-edited"], lines["old-kept"], lines["old-mode"])
	}
	if left := lines["old-left"]; left != "" {
		t.Errorf("the upgrade from the old layout left %s", left)
	}
	if rpmlint := string(out); strings.Contains(rpmlint, ": E: ") || strings.Contains(rpmlint, ": W: ") {
		t.Errorf("rpmlint reports errors or warnings (see the log above)")
	}
}
