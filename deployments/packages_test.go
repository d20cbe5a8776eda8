// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package deployments

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// A build of both packages by `make packages`.
type pkgBuild struct {
	deb, rpm string
	// stage is make's staging directory: the generated unit, maintainer
	// scripts and changelog.
	stage string
}

var (
	pkgMu     sync.Mutex
	pkgBuilds = map[string]*pkgBuild{}
)

// buildPackages runs `make packages` for version (the package version,
// without the release) with the given config.env template (a path relative
// to the repository, or absolute), once per pair for the whole test binary.
func buildPackages(t *testing.T, version, template string) *pkgBuild {
	t.Helper()
	for _, tool := range []string{"make", "go", "gzip"} {
		testenv.RequireTool(t, tool)
	}
	pkgMu.Lock()
	defer pkgMu.Unlock()
	key := version + "\x00" + template
	if b, ok := pkgBuilds[key]; ok {
		return b
	}
	dist, err := os.MkdirTemp(tmpDir, "dist-")
	if err != nil {
		t.Fatal(err)
	}
	if template, err = filepath.Abs(template); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// VERSION and COMMIT are given so that the binary's version does not
	// depend on the checkout.
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot, "packages", "DIST="+dist,
		"VERSION=v"+version+"-test", "COMMIT=deadbeef", "PKG_VERSION="+version, "PKG_TEMPLATE="+template)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	t.Logf("make packages PKG_VERSION=%s took %s", version, time.Since(start).Round(time.Millisecond))
	find := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(dist, pattern))
		if len(m) != 1 {
			t.Fatalf("want one %s in %s, found %v", pattern, dist, m)
		}
		return m[0]
	}
	b := &pkgBuild{deb: find("*.deb"), rpm: find("*.rpm"), stage: filepath.Join(dist, ".stage")}
	pkgBuilds[key] = b
	return b
}

const (
	pkgBin      = "/usr/bin/multinic-agent"
	pkgUnit     = "/usr/lib/systemd/system/multinic-agent.service"
	pkgTemplate = "/usr/share/multinic-agent/config.env.template"
)

// TestPackages checks what the .deb and the .rpm install, with which
// modes, and what their metadata and scripts say.
func TestPackages(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "rpm"} {
		testenv.RequireTool(t, tool)
	}
	b := buildPackages(t, "0.0.1", templateFile)

	// path -> permissions, as ls -l shows them; both packages.
	common := map[string]string{
		pkgBin:                                 "-rwxr-xr-x",
		pkgUnit:                                "-rw-r--r--",
		pkgTemplate:                            "-rw-r--r--",
		"/usr/share/multinic-agent/schema.sql": "-rw-r--r--",
		"/usr/share/man/man8/multinic-agent.8.gz":    "-rw-r--r--",
		"/usr/share/doc/multinic-agent/README.md":    "-rw-r--r--",
		"/usr/share/doc/multinic-agent/daemon.md":    "-rw-r--r--",
		"/usr/share/doc/multinic-agent/daemon.ko.md": "-rw-r--r--",
		"/usr/share/doc/multinic-agent/copyright":    "-rw-r--r--",
	}
	want := map[string]map[string]string{
		".deb": {
			"/usr/share/doc/multinic-agent/changelog.Debian.gz": "-rw-r--r--",
			"/usr/share/lintian/overrides/multinic-agent":       "-rw-r--r--",
		},
		".rpm": {
			"/usr/share/licenses/multinic-agent/LICENSE": "-rw-r--r--",
		},
	}
	check := func(kind string, got map[string]string) {
		t.Helper()
		all := maps(common, want[kind])
		for p, perm := range all {
			if g, ok := got[p]; !ok {
				t.Errorf("%s lacks %s", kind, p)
			} else if g != perm {
				t.Errorf("%s: %s is %s, want %s", kind, p, g, perm)
			}
		}
		for p, perm := range got {
			if _, ok := all[p]; !ok && !strings.HasPrefix(perm, "d") {
				t.Errorf("%s has an unexpected file %s (%s)", kind, p, perm)
			}
			// Debian Policy 9.1.2, and the Fedora guidelines: a package
			// places nothing in /usr/local, not even a directory.
			if strings.HasPrefix(p, "/usr/local") || strings.HasPrefix(p, "/etc") {
				t.Errorf("%s ships %s: packages leave /usr/local and /etc to the administrator (config.env is created by the postinst)", kind, p)
			}
		}
	}

	// .deb
	out := run(t, "dpkg-deb", "-c", b.deb)
	debFiles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: cannot read %q", line)
		}
		if f[1] != "root/root" && f[1] != "0/0" {
			t.Errorf(".deb: %s is owned by %s", f[5], f[1])
		}
		debFiles[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = f[0]
	}
	check(".deb", debFiles)
	if info := run(t, "dpkg-deb", "-I", b.deb); strings.Contains(info, " conffiles") {
		t.Errorf(".deb has conffiles: config.env must be created by the postinst, never prompted about:\n%s", info)
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", b.deb, "Version")); got != "0.0.1-1" {
		t.Errorf(".deb version %q, want 0.0.1-1", got)
	}
	postinst := run(t, "dpkg-deb", "-I", b.deb, "postinst")
	for _, w := range []string{"deb-systemd-helper update-state", "deb-systemd-invoke try-restart", "take_over_script_install", pkgTemplate} {
		if !strings.Contains(postinst, w) {
			t.Errorf(".deb postinst lacks %q", w)
		}
	}
	if got := run(t, "dpkg-deb", "-I", b.deb, "postrm"); !strings.Contains(got, "deb-systemd-helper purge") || !strings.Contains(got, "rm -f /etc/multinic-agent/config.env") {
		t.Errorf(".deb postrm does not purge the enable links and config.env:\n%s", got)
	}
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", b.deb, root)
	if got := run(t, filepath.Join(root, pkgBin), "version"); !strings.Contains(got, "v0.0.1-test") || !strings.Contains(got, "deadbeef") {
		t.Errorf("the packaged binary's version: %q", got)
	}
	checkPackagedBinary(t, filepath.Join(root, pkgBin))
	checkPackagedUnit(t, filepath.Join(root, pkgUnit))
	if fileHash(t, filepath.Join(root, pkgTemplate)) != fileHash(t, templateFile) {
		t.Errorf("the packaged template differs from %s", templateFile)
	}
	checkCopyright(t, filepath.Join(root, "usr/share/doc/multinic-agent/copyright"), filepath.Join(root, pkgBin))
	checkChangelog(t, filepath.Join(root, "usr/share/doc/multinic-agent/changelog.Debian.gz"), "0.0.1-1")
	checkManPage(t, filepath.Join(root, "usr/share/man/man8/multinic-agent.8.gz"))

	// .rpm
	out = run(t, "rpm", "-qp", "--qf", `[%{FILEMODES:perms} %{FILENAMES}\n]`, b.rpm)
	rpmFiles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		perm, p, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("rpm -qp: cannot read %q", line)
		}
		rpmFiles[p] = perm
	}
	check(".rpm", rpmFiles)
	if got := strings.TrimSpace(run(t, "rpm", "-qp", "--configfiles", b.rpm)); got != "" && got != "(contains no files)" {
		t.Errorf(".rpm has config files %q: config.env must be created by %%post", got)
	}
	flags := run(t, "rpm", "-qp", "--qf", `[%{FILEFLAGS:fflags} %{FILENAMES}\n]`, b.rpm)
	for _, d := range []string{"/usr/share/doc/multinic-agent/README.md", "/usr/share/man/man8/multinic-agent.8.gz"} {
		if !strings.Contains(flags, "d "+d+"\n") {
			t.Errorf(".rpm: %s is not %%doc:\n%s", d, flags)
		}
	}
	if !strings.Contains(flags, "l /usr/share/licenses/multinic-agent/LICENSE\n") {
		t.Errorf(".rpm: LICENSE is not %%license:\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", b.rpm)
	for _, w := range []string{"systemctl --no-reload preset", "systemctl --no-reload disable", "systemctl try-restart", "take_over_script_install"} {
		if !strings.Contains(scripts, w) {
			t.Errorf(".rpm scripts lack %q:\n%s", w, scripts)
		}
	}
	if got := run(t, "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE} %{LICENSE}", b.rpm); got != "0.0.1-1 Apache-2.0 AND BSD-3-Clause AND MIT AND MPL-2.0" {
		t.Errorf(".rpm version and licence %q", got)
	}
	if got := run(t, "rpm", "-qp", "--changelog", b.rpm); !strings.Contains(got, "- 0.0.1-1\n") {
		t.Errorf(".rpm %%changelog does not name the version:\n%s", got)
	}

	// The maintainer scripts as built, with the shared functions in place.
	built, _ := filepath.Glob(filepath.Join(b.stage, "*", "*"))
	if len(built) != 7 {
		t.Fatalf("want 7 maintainer scripts in %s, found %v", b.stage, built)
	}
	for _, s := range built {
		data, _ := os.ReadFile(s)
		if regexp.MustCompile(`(?m)^@(config|takeover)@$`).Match(data) {
			t.Errorf("%s: the shared functions were not put in", s)
		}
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, append([]string{"-s", "sh"}, built...)...).CombinedOutput(); err != nil {
			t.Errorf("shellcheck of the maintainer scripts: %v\n%s", err, out)
		}
	} else {
		testenv.Skip(t, "shellcheck is not installed (scripts/test.sh installs it)")
	}
}

func maps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// checkPackagedBinary: a position-independent executable that links no
// library, so that one binary runs on every distribution the packages serve.
func checkPackagedBinary(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		t.Errorf("%s is ELF type %v, want a position-independent executable (ET_DYN)", path, f.Type)
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("%s links %v (%v): it must need no library, to run on old distributions too", path, libs, err)
	}
}

// checkPackagedUnit: the source unit but for ExecStart, which runs the
// package's binary.
func checkPackagedUnit(t *testing.T, path string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	wantUnit := strings.Replace(string(src), "\nExecStart="+installedBin+" run\n", "\nExecStart="+pkgBin+" run\n", 1)
	if wantUnit == string(src) {
		t.Fatalf("%s has no ExecStart=%s run line", unitFile, installedBin)
	}
	if string(got) != wantUnit {
		t.Errorf("the packaged unit is not %s with ExecStart=%s run", unitFile, pkgBin)
	}
	// The rest is the source unit, which TestUnitVerifies checks with
	// systemd-analyze verify.
}

// checkCopyright: the DEP-5 copyright names every Go module built into the
// binary, and every licence it uses has its text.
func checkCopyright(t *testing.T, path, binary string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.HasPrefix(text, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n") {
		t.Errorf("%s is not machine-readable (DEP-5)", path)
	}
	out := run(t, "go", "version", "-m", binary)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "dep" && !strings.Contains(text, "vendor/"+f[1]+"/*") {
			t.Errorf("%s: the binary holds Go module %s, which has no Files: vendor/%s/* paragraph", path, f[1], f[1])
		}
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^License: (.+)$`).FindAllStringSubmatch(text, -1) {
		for _, l := range strings.Split(m[1], " and ") {
			used[strings.TrimSpace(l)] = true
		}
	}
	for l := range used {
		if !strings.Contains(text, "\nLicense: "+l+"\n ") {
			t.Errorf("%s: licence %s is used but has no stand-alone License paragraph with its text", path, l)
		}
	}
}

func checkChangelog(t *testing.T, path, version string) {
	t.Helper()
	out := run(t, "sh", "-c", "gzip -dc '"+path+"' | dpkg-parsechangelog -l - -S Version")
	if strings.TrimSpace(out) != version {
		t.Errorf("%s: the latest entry is version %q, want %s", path, strings.TrimSpace(out), version)
	}
}

// checkManPage: man renders the page without a warning, and it names every
// command of --help.
func checkManPage(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("man"); err != nil {
		testenv.Skip(t, "man is not installed")
		return
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("man --warnings %s: %v\n%s", path, err, stderr.String())
	}
	page := run(t, "sh", "-c", "MANWIDTH=200 man -l '"+path+"' 2>/dev/null")
	help := run(t, agentBinary(t), "--help")
	sc := bufio.NewScanner(strings.NewReader(help))
	inCommands := false
	for sc.Scan() {
		line := sc.Text()
		if line == "Commands:" {
			inCommands = true
			continue
		}
		if inCommands {
			f := strings.Fields(line)
			if len(f) == 0 {
				break
			}
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(f[0]) + `\b`).MatchString(page) {
				t.Errorf("the manual page does not describe the command %s", f[0])
			}
		}
	}
}

// TestLintianAcceptsTheDeb runs lintian (as Debian's archive does, with the
// overrides the package ships): no error and no warning may be left.
func TestLintianAcceptsTheDeb(t *testing.T) {
	lintian := testenv.RequireTool(t, "lintian")
	b := buildPackages(t, "0.0.1", templateFile)
	// (--show-overrides would make lintian exit 2 for the overridden tags.)
	cmd := exec.Command(lintian, "--fail-on", "error,warning", "--display-info", b.deb)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("lintian %s:\n%s", filepath.Base(b.deb), stdout.String())
	if err != nil {
		t.Fatalf("lintian: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	// Every override is used: an override for a tag that no longer fires
	// would hide the next real one.
	if strings.Contains(stdout.String(), "unused-override") {
		t.Errorf("lintian reports an unused override:\n%s", stdout.String())
	}
}

// TestPackageVersionsSortInBuildOrder makes a throwaway git repository and
// asks scripts/pkg-version.sh for the version of each state it goes
// through: untagged commits, dirty trees, a release candidate, releases and
// commits after them. dpkg and rpm must both sort the packages (with
// release 1) in that order, every untagged build below 1.0.0-1.
func TestPackageVersionsSortInBuildOrder(t *testing.T) {
	for _, tool := range []string{"git", "dpkg", "rpm"} {
		testenv.RequireTool(t, tool)
	}
	dir := t.TempDir()
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		stamp := clock.Format(time.RFC3339)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	n := 0
	commit := func() {
		n++
		clock = clock.Add(time.Hour)
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprint(n)), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "f")
		git("commit", "-q", "-m", fmt.Sprint("change ", n))
	}
	dirty := func() {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("edited"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clean := func() { git("checkout", "-q", "f") }
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(repoRoot, "scripts", "pkg-version.sh"), dir).CombinedOutput()
		if err != nil {
			t.Fatalf("pkg-version.sh: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out)) + "-1"
	}

	git("init", "-q")
	var seq []string
	commit()
	seq = append(seq, version())
	dirty()
	seq = append(seq, version())
	clean()
	commit()
	seq = append(seq, version())
	commit()
	git("tag", "v1.0.0-rc1")
	seq = append(seq, version())
	commit()
	git("tag", "v1.0.0")
	seq = append(seq, version())
	dirty()
	seq = append(seq, version())
	clean()
	commit()
	seq = append(seq, version())
	dirty()
	seq = append(seq, version())
	clean()
	commit()
	seq = append(seq, version())
	commit()
	git("tag", "v1.0.1")
	seq = append(seq, version())
	t.Logf("versions in build order: %s", strings.Join(seq, " < "))

	h := func(ref string) string { return git("rev-parse", "--short=7", ref) }
	// Seven commits: HEAD~6 is the first.
	want := []string{
		"0~git20261125100000." + h("HEAD~6") + "-1",
		"0~git20261125100000." + h("HEAD~6") + ".dirty-1",
		"0~git20261125110000." + h("HEAD~5") + "-1",
		"1.0.0~rc1-1",
		"1.0.0-1",
		"1.0.0+0.g" + h("HEAD~3") + ".dirty-1",
		"1.0.0+1.g" + h("HEAD~2") + "-1",
		"1.0.0+1.g" + h("HEAD~2") + ".dirty-1",
		"1.0.0+2.g" + h("HEAD~1") + "-1",
		"1.0.1-1",
	}
	if !slices.Equal(seq, want) {
		t.Fatalf("pkg-version.sh gave\n%q\nwant\n%q", seq, want)
	}

	for i := range seq {
		for j := i + 1; j < len(seq); j++ {
			a, b := seq[i], seq[j]
			if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
				t.Errorf("dpkg does not sort %s below %s", a, b)
			}
			if got := rpmCompare(t, a, b); got != "-1" {
				t.Errorf("rpm compares %s with %s as %s, want -1", a, b, got)
			}
		}
	}
	for _, untagged := range seq[:3] {
		if err := exec.Command("dpkg", "--compare-versions", untagged, "lt", "1.0.0-1").Run(); err != nil {
			t.Errorf("dpkg: untagged %s does not sort below 1.0.0-1", untagged)
		}
		if got := rpmCompare(t, untagged, "1.0.0-1"); got != "-1" {
			t.Errorf("rpm: untagged %s does not sort below 1.0.0-1 (%s)", untagged, got)
		}
	}
}

// rpmCompare returns rpm's comparison of two version-release strings:
// -1, 0 or 1.
func rpmCompare(t *testing.T, a, b string) string {
	t.Helper()
	expr := fmt.Sprintf(`%%{lua: local a, b = rpm.ver(%q), rpm.ver(%q); print((a < b) and -1 or ((a == b) and 0 or 1))}`, a, b)
	out, err := exec.Command("rpm", "--eval", expr).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --eval: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
