// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package deployments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/harness"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

const (
	repoRoot     = ".."
	unitFile     = "systemd/multinic-agent.service"
	templateFile = "systemd/config.env.template"
	daemonSet    = "kubernetes/multinic-agent.yaml"
	installedBin = "/usr/local/bin/multinic-agent"
	// maxExposure is the highest `systemd-analyze security` score the unit
	// may have (0 is best, 10 worst).
	maxExposure = 2.5
)

var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "multinic-deployments-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	harness.RemoveBuilt()
	os.Exit(code)
}

// agentBinary builds the agent once for every test that needs a real binary.
func agentBinary(t *testing.T) string {
	t.Helper()
	bin, err := harness.BuiltAgent()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// directive is one Key=Value line of a unit file.
type directive struct{ section, key, value string }

func parseUnit(t *testing.T, path string) []directive {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ds []directive
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not Key=Value: %q", path, i+1, line)
			}
			ds = append(ds, directive{section, strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return ds
}

// values returns every value of key in section, in order.
func values(ds []directive, section, key string) []string {
	var out []string
	for _, d := range ds {
		if d.section == section && d.key == key {
			out = append(out, d.value)
		}
	}
	return out
}

// unitCopy writes the unit into a temporary directory with ExecStart
// pointing at a freshly built agent, since systemd-analyze verify checks
// that the binary exists.
func unitCopy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	old := "\nExecStart=" + installedBin + " "
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%s: want one ExecStart=%s line, found %d", unitFile, installedBin, n)
	}
	data = []byte(strings.Replace(string(data), old, "\nExecStart="+agentBinary(t)+" ", 1))
	p := filepath.Join(t.TempDir(), "multinic-agent.service")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnitVerifies(t *testing.T) {
	sa := testenv.RequireTool(t, "systemd-analyze")
	unit := unitCopy(t)
	cmd := exec.Command(sa, "verify", unit)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("systemd-analyze verify: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
}

func TestUnitSecurityExposure(t *testing.T) {
	sa := testenv.RequireTool(t, "systemd-analyze")
	unit := unitCopy(t)
	threshold := strconv.Itoa(int(maxExposure * 10))
	out, err := exec.Command(sa, "security", "--offline=true", "--threshold="+threshold, unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for multinic-agent\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level (%v):\n%s", err, out)
	}
	score, perr := strconv.ParseFloat(string(m[1]), 64)
	if perr != nil {
		t.Fatal(perr)
	}
	t.Logf("systemd-analyze security --offline=true: overall exposure level %.1f (at most %.1f allowed)", score, maxExposure)
	if err != nil || score > maxExposure {
		t.Fatalf("exposure %.1f is above %.1f (%v):\n%s", score, maxExposure, err, out)
	}
}

// TestUnitSettings pins what the operators' contract (SPEC section 8) and
// docs/daemon.md say about the unit, so that a later edit cannot quietly
// drop the watchdog, a resource limit or a sandboxing setting.
func TestUnitSettings(t *testing.T) {
	ds := parseUnit(t, unitFile)
	one := func(section, key string) string {
		t.Helper()
		v := values(ds, section, key)
		if len(v) != 1 {
			t.Errorf("[%s] %s: want exactly one, found %q", section, key, v)
			return ""
		}
		return v[0]
	}
	want := map[[2]string]string{
		{"Service", "Type"}:                    "notify",
		{"Service", "Restart"}:                 "always",
		{"Service", "EnvironmentFile"}:         "-/etc/multinic-agent/config.env",
		{"Service", "ExecStart"}:               installedBin + " run",
		{"Service", "StandardOutput"}:          "journal",
		{"Service", "SyslogIdentifier"}:        "multinic-agent",
		{"Service", "NoNewPrivileges"}:         "yes",
		{"Service", "ProtectSystem"}:           "strict",
		{"Service", "ProtectHome"}:             "yes",
		{"Service", "PrivateTmp"}:              "yes",
		{"Service", "RestrictAddressFamilies"}: "AF_NETLINK AF_UNIX AF_INET AF_INET6",
		{"Service", "StateDirectory"}:          "multinic-agent",
		{"Service", "UMask"}:                   "0022",
		{"Install", "WantedBy"}:                "multi-user.target",
	}
	for k, v := range want {
		if got := one(k[0], k[1]); got != v {
			t.Errorf("[%s] %s=%q, want %q", k[0], k[1], got, v)
		}
	}
	for _, k := range [][2]string{
		{"Unit", "StartLimitIntervalSec"}, {"Unit", "StartLimitBurst"}, {"Service", "WatchdogSec"},
		{"Service", "LimitNOFILE"}, {"Service", "CPUQuota"}, {"Service", "MemoryMax"},
	} {
		if one(k[0], k[1]) == "" {
			t.Errorf("[%s] %s is empty", k[0], k[1])
		}
	}
	if v := values(ds, "Service", "MemoryLimit"); v != nil {
		t.Errorf("MemoryLimit= is deprecated, use MemoryMax=: %q", v)
	}
	if v := values(ds, "Service", "SystemCallFilter"); len(v) == 0 || v[0] != "@system-service" {
		t.Errorf("SystemCallFilter starts %q, want @system-service", v)
	}
	for _, after := range []string{"network-online.target", "mariadb.service", "mysql.service"} {
		if !slices.Contains(strings.Fields(strings.Join(values(ds, "Unit", "After"), " ")), after) {
			t.Errorf("After= lacks %s", after)
		}
	}

	caps := strings.Fields(one("Service", "CapabilityBoundingSet"))
	sort.Strings(caps)
	if want := []string{"CAP_CHOWN", "CAP_NET_ADMIN", "CAP_NET_RAW"}; !slices.Equal(caps, want) {
		t.Errorf("CapabilityBoundingSet=%q, want %q (docs/daemon.md, Security, says why each one)", caps, want)
	}
	if v := one("Service", "AmbientCapabilities"); v != "" {
		t.Errorf("AmbientCapabilities=%q: the service runs as root, ambient capabilities would add nothing", v)
	}

	// Everything the agent writes must be writable under ProtectSystem=strict;
	// directories an OS may lack carry "-" so that the unit still starts.
	rw := strings.Fields(strings.Join(values(ds, "Service", "ReadWritePaths"), " "))
	for _, p := range []string{"-/etc/netplan", "-/etc/sysconfig/network-scripts", "-/etc/NetworkManager/system-connections", "-/etc/systemd/network", "-/etc/network/interfaces.d", "/run", "-/proc/sys/net/ipv6/conf"} {
		if !slices.Contains(rw, p) {
			t.Errorf("ReadWritePaths lacks %s: %q", p, rw)
		}
	}
	for _, p := range rw {
		if strings.HasPrefix(p, "/etc") {
			t.Errorf("ReadWritePaths=%s: a directory under /etc may be absent, prefix it with -", p)
		}
	}
}

// TestTemplateHasEveryKey checks that config.env.template lists every key
// the agent knows, each once, with the agent's own default.
func TestTemplateHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]*)=`)
	var found []string
	for _, m := range line.FindAllStringSubmatch(string(data), -1) {
		found = append(found, m[1])
	}
	keys := config.Keys()
	for _, k := range keys {
		if n := slices.Index(found, k); n < 0 {
			t.Errorf("%s: key %s is missing", templateFile, k)
		} else if slices.Index(found[n+1:], k) >= 0 {
			t.Errorf("%s: key %s appears twice", templateFile, k)
		}
	}
	for _, k := range found {
		if !slices.Contains(keys, k) {
			t.Errorf("%s: %s is not a key of the agent", templateFile, k)
		}
	}

	// Uncommenting every line must give exactly the built-in defaults.
	uncommented := regexp.MustCompile(`(?m)^#([A-Z][A-Z0-9_]*=)`).ReplaceAll(data, []byte("$1"))
	all, err := loadConfig(t, uncommented)
	if err != nil {
		t.Fatalf("the template with every line uncommented does not load: %v", err)
	}
	defaults, err := loadConfig(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	all.File, defaults.File = "", ""
	if !reflect.DeepEqual(all, defaults) {
		t.Errorf("the template's values differ from the defaults:\ntemplate %+v\ndefaults %+v", all, defaults)
	}
}

func loadConfig(t *testing.T, data []byte) (*config.Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.env")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := config.RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	return config.Load(f, func(string) (string, bool) { return "", false })
}

// tree maps each path under root (relative) to its mode and, for files, a
// hash of the content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		v := fmt.Sprintf("%v", info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// script runs scripts/NAME with DESTDIR set and returns its stdout and
// stderr; it fails the test unless the exit status is wantCode.
func script(t *testing.T, destdir string, wantCode int, name string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "scripts", name), args...)
	cmd.Env = append(os.Environ(), "DESTDIR="+destdir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if code != wantCode {
		t.Fatalf("%s %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
	}
	if bytes.Contains(stdout.Bytes(), []byte("\x1b[")) || bytes.Contains(stderr.Bytes(), []byte("\x1b[")) {
		t.Errorf("%s printed colour codes without a terminal:\n%q", name, stdout.String()+stderr.String())
	}
	return stdout.String(), stderr.String()
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

func TestInstallAndUninstallIntoDestdir(t *testing.T) {
	testenv.RequireTool(t, "sh")
	bin := agentBinary(t)
	dest := t.TempDir()

	script(t, dest, 0, "install-daemon.sh", "--binary", bin)
	first := tree(t, dest)
	want := map[string]string{
		"usr/local/bin/multinic-agent":                       "-rwxr-xr-x " + fileHash(t, bin),
		"etc/systemd/system/multinic-agent.service":          "-rw-r--r-- " + fileHash(t, unitFile),
		"usr/local/share/multinic-agent/config.env.template": "-rw-r--r-- " + fileHash(t, templateFile),
		"etc/multinic-agent/config.env":                      "-rw------- " + fileHash(t, templateFile),
	}
	for p, v := range first {
		if w, ok := want[p]; ok {
			if v != w {
				t.Errorf("%s: got %s, want %s", p, v, w)
			}
		} else if v != "drwxr-xr-x" {
			t.Errorf("unexpected %s (%s)", p, v)
		}
	}
	for p := range want {
		if _, ok := first[p]; !ok {
			t.Errorf("%s was not installed", p)
		}
	}

	// Idempotent: a second run (with --start, which DESTDIR turns into
	// a no-op) leaves the same tree.
	out, _ := script(t, dest, 0, "install-daemon.sh", "--binary", bin, "--start")
	if second := tree(t, dest); !reflect.DeepEqual(first, second) {
		t.Errorf("a second install changed the tree:\nfirst  %v\nsecond %v", first, second)
	}
	if !strings.Contains(out, "skipped systemctl") {
		t.Errorf("install under DESTDIR did not say it skipped systemctl:\n%s", out)
	}

	// An existing config.env is never overwritten.
	conf := filepath.Join(dest, "etc/multinic-agent/config.env")
	edited := []byte("DB_HOST=db.example\nDB_USER=agent\n")
	if err := os.WriteFile(conf, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = script(t, dest, 0, "install-daemon.sh", "--binary", bin)
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
		t.Errorf("install overwrote config.env: %q", got)
	}
	if !strings.Contains(out, "kept") {
		t.Errorf("install did not say it kept config.env:\n%s", out)
	}

	// Uninstall keeps only config.env.
	script(t, dest, 0, "uninstall-daemon.sh")
	left := tree(t, dest)
	wantLeft := map[string]string{
		"etc":                           "drwxr-xr-x",
		"etc/multinic-agent":            "drwxr-xr-x",
		"etc/multinic-agent/config.env": fmt.Sprintf("-rw------- %x", sha256.Sum256(edited)),
	}
	if !reflect.DeepEqual(left, wantLeft) {
		t.Errorf("after uninstall: %v, want %v", left, wantLeft)
	}

	// Reinstalling picks the kept config.env up; --purge removes everything.
	script(t, dest, 0, "install-daemon.sh", "--binary", bin)
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
		t.Errorf("reinstall overwrote config.env: %q", got)
	}
	script(t, dest, 0, "uninstall-daemon.sh", "--purge")
	if left := tree(t, dest); len(left) != 0 {
		t.Errorf("after uninstall --purge: %v, want nothing", left)
	}
	// Uninstalling what is not there is fine.
	script(t, dest, 0, "uninstall-daemon.sh", "--purge")
}

func TestInstallScriptErrors(t *testing.T) {
	testenv.RequireTool(t, "sh")
	dest := t.TempDir()
	for _, c := range []struct {
		script string
		args   []string
		code   int
		want   string
	}{
		{"install-daemon.sh", []string{"--binary", filepath.Join(dest, "missing")}, 1, "no binary at"},
		{"install-daemon.sh", []string{"--binary"}, 1, "--binary needs a path"},
		{"install-daemon.sh", []string{"--bogus"}, 1, "unknown argument '--bogus'"},
		{"uninstall-daemon.sh", []string{"--bogus"}, 1, "unknown argument '--bogus'"},
		{"install-daemon.sh", []string{"--help"}, 0, "Usage: install-daemon.sh"},
		{"uninstall-daemon.sh", []string{"--help"}, 0, "Usage: uninstall-daemon.sh"},
	} {
		stdout, stderr := script(t, dest, c.code, c.script, c.args...)
		if !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%s %v: output lacks %q:\n%s%s", c.script, c.args, c.want, stdout, stderr)
		}
	}
	if left := tree(t, dest); len(left) != 0 {
		t.Errorf("failed runs left files behind: %v", left)
	}
}

// TestScriptsRefuseNonRoot runs both scripts without DESTDIR as a user
// other than root (nobody, when the tests run as root): they must stop
// before touching anything. The scripts are copied to a directory nobody
// can read.
func TestScriptsRefuseNonRoot(t *testing.T) {
	testenv.RequireTool(t, "sh")
	dir, err := os.MkdirTemp("", "multinic-scripts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"scripts/install-daemon.sh", "scripts/uninstall-daemon.sh", "scripts/common.sh", "scripts/netplan-snapshot.sh", "deployments/" + unitFile, "deployments/" + templateFile} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DESTDIR=") {
			env = append(env, e)
		}
	}
	for _, s := range []string{"install-daemon.sh", "uninstall-daemon.sh"} {
		cmd := exec.Command(filepath.Join(dir, "scripts", s), "--binary", "/nonexistent")
		if s == "uninstall-daemon.sh" {
			cmd.Args = cmd.Args[:1]
		}
		cmd.Env, cmd.Dir = env, dir
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "run as root") {
			t.Errorf("%s as a non-root user without DESTDIR: %v\n%s", s, err, out)
		}
	}
}

func TestScriptsLint(t *testing.T) {
	scripts := []string{
		filepath.Join(repoRoot, "scripts", "install-daemon.sh"),
		filepath.Join(repoRoot, "scripts", "uninstall-daemon.sh"),
		filepath.Join(repoRoot, "scripts", "common.sh"),
	}
	scripts = append(scripts, filepath.Join(repoRoot, "scripts", "pkg-version.sh"))
	more, _ := filepath.Glob("packaging/*.sh")
	scripts = append(scripts, more...)
	// The maintainer scripts are checked as built, in TestPackages.
	for _, s := range scripts {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Log("shellcheck is not installed: syntax checked with sh -n only")
		return
	}
	if out, err := exec.Command(sc, append([]string{"-x", "-P", "SCRIPTDIR", "-s", "sh"}, scripts...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestDaemonSet checks that the container mode runs the same agent on the
// host's network and file system with the unit's capabilities.
func TestDaemonSet(t *testing.T) {
	f, err := os.Open(daemonSet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type container struct {
		Args []string
		Env  []struct {
			Name, Value string
		}
		VolumeMounts []struct {
			Name      string
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
		LivenessProbe struct {
			HTTPGet struct{ Path string } `yaml:"httpGet"`
		} `yaml:"livenessProbe"`
		ReadinessProbe struct {
			HTTPGet struct{ Path string } `yaml:"httpGet"`
		} `yaml:"readinessProbe"`
		SecurityContext struct {
			Privileged   *bool
			Capabilities struct{ Add, Drop []string }
		} `yaml:"securityContext"`
	}
	type volume struct {
		Name     string
		HostPath struct{ Path string } `yaml:"hostPath"`
	}
	type object struct {
		Kind       string
		Metadata   struct{ Name string }
		Data       map[string]string
		StringData map[string]string `yaml:"stringData"`
		Spec       struct {
			Template struct {
				Spec struct {
					HostNetwork                   bool `yaml:"hostNetwork"`
					TerminationGracePeriodSeconds int  `yaml:"terminationGracePeriodSeconds"`
					Containers                    []container
					Volumes                       []volume
				}
			}
		}
	}
	var ds *object
	keys := config.Keys()
	dec := yaml.NewDecoder(f)
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", daemonSet, err)
		}
		switch o.Kind {
		case "DaemonSet":
			ds = &o
		case "ConfigMap", "Secret":
			for k := range o.Data {
				if !slices.Contains(keys, k) || k == "ROOT_DIR" {
					t.Errorf("%s %s: %s is not a key to set there", o.Kind, o.Metadata.Name, k)
				}
			}
			for k := range o.StringData {
				if !slices.Contains(keys, k) {
					t.Errorf("%s %s: %s is not a key of the agent", o.Kind, o.Metadata.Name, k)
				}
			}
		}
	}
	if ds == nil {
		t.Fatalf("%s has no DaemonSet", daemonSet)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork {
		t.Error("the DaemonSet does not use hostNetwork")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, found %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !slices.Equal(c.Args, []string{"run"}) {
		t.Errorf("args %q, want [run]", c.Args)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["ROOT_DIR"] != "/host" {
		t.Errorf("ROOT_DIR=%q, want /host", env["ROOT_DIR"])
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	// Each host path at the same path under /host (ROOT_DIR); never the
	// whole host. deployments/kubernetes checks the rest with the API types.
	for _, v := range spec.Volumes {
		if v.HostPath.Path == "" {
			continue
		}
		if v.HostPath.Path == "/" {
			t.Errorf("volume %s mounts the host's whole /", v.Name)
		}
		if mounts["/host"+v.HostPath.Path] != v.Name {
			t.Errorf("host path %s is not mounted at /host%s", v.HostPath.Path, v.HostPath.Path)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes %q and %q, want /healthz and /readyz", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	if p := c.SecurityContext.Privileged; p == nil || *p {
		t.Error("the container must say privileged: false")
	}
	var unitCaps []string
	for _, v := range strings.Fields(strings.Join(values(parseUnit(t, unitFile), "Service", "CapabilityBoundingSet"), " ")) {
		unitCaps = append(unitCaps, strings.TrimPrefix(v, "CAP_"))
	}
	add := slices.Clone(c.SecurityContext.Capabilities.Add)
	sort.Strings(add)
	sort.Strings(unitCaps)
	if !slices.Equal(add, unitCaps) {
		t.Errorf("capabilities added %q, want the unit's %q", add, unitCaps)
	}
	if !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities dropped %q, want [ALL]", c.SecurityContext.Capabilities.Drop)
	}
	if spec.TerminationGracePeriodSeconds < 120 {
		t.Errorf("terminationGracePeriodSeconds %d is shorter than the unit's TimeoutStopSec (2 min)", spec.TerminationGracePeriodSeconds)
	}
}

// TestDockerfilePinsItsBases: every base image is pinned by digest, so a
// rebuild of the same commit builds on the same bases.
func TestDockerfilePinsItsBases(t *testing.T) {
	data, err := os.ReadFile("kubernetes/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?mi)^FROM\s+(\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(from) == 0 {
		t.Fatal("kubernetes/Dockerfile has no FROM line")
	}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)
	for _, m := range from {
		if !pinned.MatchString(m[1]) || strings.Contains(m[1], ":latest") {
			t.Errorf("FROM %s: want NAME:TAG@sha256:DIGEST", m[1])
		}
	}
}

// TestLicenceHeaders: the repository carries the Apache-2.0 licence, and
// every Go file and shell script says so in its first lines.
func TestLicenceHeaders(t *testing.T) {
	lic, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil || !bytes.Contains(lic, []byte("Apache License\n                           Version 2.0, January 2004")) {
		t.Fatalf("LICENSE is not the Apache License 2.0 (%v)", err)
	}
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".sh") || p == filepath.Join(repoRoot, ".ci", "run")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		head := strings.Join(strings.SplitN(string(data), "\n", 4)[:min(3, strings.Count(string(data), "\n"))], "\n")
		if !strings.Contains(head, "SPDX-License-Identifier: Apache-2.0") {
			t.Errorf("%s: no SPDX-License-Identifier: Apache-2.0 in its first lines", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDocs checks that both operator guides cover what the issue asks and
// name every capability the unit keeps.
func TestDocs(t *testing.T) {
	var caps []string
	caps = append(caps, strings.Fields(strings.Join(values(parseUnit(t, unitFile), "Service", "CapabilityBoundingSet"), " "))...)
	for _, doc := range []string{"daemon.md", "daemon.ko.md"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, s := range append([]string{
			"scripts/install-daemon.sh", "scripts/uninstall-daemon.sh", "--purge", "--binary",
			"make packages", "/etc/multinic-agent/config.env", "journalctl -u multinic-agent",
			"/healthz", "/readyz", "/metrics", "systemctl edit multinic-agent",
			"deployments/kubernetes/multinic-agent.yaml", "multinic.io/agent-mode",
			"systemd-analyze security", "CPUQuota", "MemoryMax", "WatchdogSec",
		}, caps...) {
			if !strings.Contains(text, s) {
				t.Errorf("docs/%s does not mention %s", doc, s)
			}
		}
	}
}
