// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// activateRootEnv makes the test binary a process that only runs
// Backend.Activate for that ROOT_DIR and exits (see TestMain).
const activateRootEnv = "MULTINIC_TEST_NETPLAN_ACTIVATE_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(activateRootEnv); root != "" {
		if err := (Backend{}).Activate(context.Background(), rootfs.Root(root), []string{"multinic0"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// recorder replaces the host's udevadm and systemctl, in mount namespaces
// of the test's own, by a script that records each call.
type recorder struct {
	t         *testing.T
	log, shim string
	udevadm   string
	systemctl string
}

func newRecorder(t *testing.T) *recorder {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare")
	testenv.RequireTool(t, "mount")
	r := &recorder{t: t, log: filepath.Join(t.TempDir(), "calls")}
	for _, tool := range []*string{&r.udevadm, &r.systemctl} {
		name := map[*string]string{&r.udevadm: "udevadm", &r.systemctl: "systemctl"}[tool]
		p, err := exec.LookPath(name)
		if err != nil {
			testenv.Skip(t, name+" is not installed: there is nothing of the host's to mask")
		}
		if *tool, err = filepath.EvalSymlinks(p); err != nil {
			t.Fatal(err)
		}
	}
	r.shim = filepath.Join(t.TempDir(), "record")
	if err := os.WriteFile(r.shim, []byte("#!/bin/sh\necho \"$(basename \"$0\") $*\" >> "+r.log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// run runs argv in a mount namespace where the host's udevadm and
// systemctl are the recording script.
func (r *recorder) run(env []string, argv ...string) (string, error) {
	r.t.Helper()
	script := `mount --bind "$SHIM" "$UDEVADM" && mount --bind "$SHIM" "$SYSTEMCTL" && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh"}, argv...)...)
	cmd.Env = append(append(os.Environ(), "SHIM="+r.shim, "UDEVADM="+r.udevadm, "SYSTEMCTL="+r.systemctl), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// calls returns the recorded calls and forgets them.
func (r *recorder) calls() []string {
	data, err := os.ReadFile(r.log)
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	os.Remove(r.log)
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

func writeSamples(t *testing.T, root string) {
	t.Helper()
	for _, name := range []string{"ipv4-mtu", "ipv6"} {
		for _, f := range (Backend{}).Render(samples[name]) {
			if err := atomicfile.Write(filepath.Join(root, f.Path), f.Content, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestGeneratorNeverReachesTheHostsDaemons: netplan's generator calls
// /bin/udevadm control --reload and /bin/systemctl is-system-running by
// absolute path whatever --root-dir says (seen first with recording
// scripts bound over the host's programs: PATH shims would not see them).
// The agent's activation for a ROOT_DIR other than / generates the same
// files and reaches neither program, also when the generator fails.
func TestGeneratorNeverReachesTheHostsDaemons(t *testing.T) {
	r := newRecorder(t)
	gen, err := generateCommand("/")
	if err != nil {
		testenv.Skip(t, err.Error())
	}

	// What the generator does by itself, under the same recorder.
	bare := t.TempDir()
	writeSamples(t, bare)
	if out, err := r.run(nil, gen[0], "--root-dir", bare); err != nil {
		t.Fatalf("%s --root-dir: %v\n%s", gen[0], err, out)
	}
	calls := r.calls()
	if !slices.Contains(calls, "udevadm_control_--reload") || !slices.Contains(calls, "systemctl_is-system-running") {
		t.Fatalf("the recorder did not see the generator reach udevadm and systemctl: %q", calls)
	}

	// The agent's activation.
	root := t.TempDir()
	writeSamples(t, root)
	if out, err := r.run([]string{activateRootEnv + "=" + root}, os.Args[0]); err != nil {
		t.Fatalf("Activate for ROOT_DIR=%s: %v\n%s", root, err, out)
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Errorf("the agent's activation for ROOT_DIR=%s ran %q", root, calls)
	}
	for _, f := range []string{"10-netplan-multinic0.network", "10-netplan-multinic0.link", "10-netplan-multinic1.network"} {
		want, err := os.ReadFile(filepath.Join(bare, "run/systemd/network", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "run/systemd/network", f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's own: %v\n%s", f, err, got)
		}
	}

	// A file the generator rejects: its message is the activation's error,
	// and still nothing of the host's ran.
	bad := filepath.Join(root, Path("multinic3"))
	content := strings.Replace(string(Backend{}.Render(samples["ipv4-mtu"])[0].Content), "10.20.0.11/24", "10.20.0.11", 1)
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := r.run([]string{activateRootEnv + "=" + root}, os.Args[0])
	if err == nil || !strings.Contains(out, "93-multinic3.yaml") {
		t.Errorf("a rejected file: %v\n%s", err, out)
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Errorf("the failing activation ran %q", calls)
	}
}

// TestGenerateCommand: netplan's generator is run directly where `netplan
// generate` only starts it; where netplan has a configure stage (1.2 and
// later), `netplan generate` is.
func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	gen, conf, cli := filepath.Join(dir, "generate"), filepath.Join(dir, "configure"), filepath.Join(dir, "netplan")
	for _, p := range []string{gen, cli} {
		os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	}
	t.Setenv("PATH", dir)
	t.Setenv("NETPLAN_GENERATE_PATH", gen)
	t.Setenv("NETPLAN_CONFIGURE_PATH", conf)
	got, err := generateCommand("/srv/root")
	if want := []string{gen, "--root-dir", "/srv/root"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("without a configure stage: %q, %v; want %q", got, err, want)
	}
	os.WriteFile(conf, []byte("#!/bin/sh\n"), 0o755)
	got, err = generateCommand("/")
	if want := []string{cli, "generate", "--root-dir", "/"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("with a configure stage: %q, %v; want %q", got, err, want)
	}
	os.Remove(cli)
	if _, err := generateCommand("/"); err == nil || !strings.Contains(err.Error(), netconf.ErrUnavailable.Error()) {
		t.Errorf("without netplan: %v", err)
	}
}

// TestIsolationRefusesTheParentsNamespace: the masking never happens in the
// namespace of the process that started it (the agent's, the host's). The
// parent here is a shell alone in a namespace of the test's, so that a
// broken check could mask nothing of the host's either.
func TestIsolationRefusesTheParentsNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", `"$0" "$@"; echo "exit $?"`, os.Args[0], isolatedArg, "/bin/true")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "not in a mount namespace of its own") || !strings.Contains(string(out), "exit 1") {
		t.Errorf("run from a parent in the same namespace: %v\n%s", err, out)
	}
}
