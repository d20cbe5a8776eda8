// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// plain runs the built binary outside any namespace with exactly env (and
// PATH): for the checks an operator meets before anything is configured.
func plain(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return result(t, cmd)
}

// unconfigured is a ROOT_DIR without os-release and a lock of its own: the
// commands stop at the backend detection, after the checks under test.
func unconfigured(t *testing.T, mode os.FileMode, lines ...string) (conf string, env []string) {
	t.Helper()
	root := t.TempDir()
	conf = filepath.Join(t.TempDir(), "config.env")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(conf, mode); err != nil {
		t.Fatal(err)
	}
	return conf, []string{"ROOT_DIR=" + root, "HEALTH_PORT=0", "NODE_NAME=node1"}
}

func TestHelpSaysHowThePasswordIsGiven(t *testing.T) {
	const want = "The database password is DB_PASSWORD in the config file (keep it mode 0600) or in the environment; there is no flag for it"
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"once", "--help"}, {"plan", "--help"}, {"status", "--help"}, {"doctor", "--help"}} {
		code, out, errOut := plain(t, nil, args...)
		if code != 0 || !strings.Contains(out+errOut, want) {
			t.Errorf("multinic-agent %s: exit %d, no %q in:\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		if strings.Contains(out+errOut, "-db-password") {
			t.Errorf("multinic-agent %s offers a password flag:\n%s%s", strings.Join(args, " "), out, errOut)
		}
	}
}

func TestEmptyDBUserStopsEveryCommandThatConnects(t *testing.T) {
	conf, env := unconfigured(t, 0o600, "DB_SOCKET=/nonexistent/mysqld.sock", "NETWORK_BACKEND=netplan")
	for cmd, wantCode := range map[string]int{"run": 2, "once": 2, "plan": 1, "status": 2} {
		code, out, errOut := plain(t, env, cmd, "--config", conf)
		if code != wantCode || !strings.Contains(errOut, "DB_USER is not set: set it in "+conf+" or in the environment") {
			t.Errorf("%s without DB_USER: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", cmd, code, wantCode, out, errOut)
		}
	}
	code, out, _ := plain(t, env, "doctor", "--config", conf)
	if code != 1 || !strings.Contains(squash(out), "FAIL database DB_USER is not set") {
		t.Errorf("doctor without DB_USER: exit %d\n%s", code, out)
	}
}

func TestReadableConfigWithPasswordWarns(t *testing.T) {
	const sentence = "holds DB_PASSWORD but is mode 0644, readable by group or others: run chmod 600 "
	lines := []string{"DB_USER=agent", "DB_PASSWORD=pw-9f1c", "DB_SOCKET=/nonexistent/mysqld.sock"}
	conf, env := unconfigured(t, 0o644, lines...)
	for _, cmd := range []string{"run", "once", "plan", "status"} {
		_, out, errOut := plain(t, env, cmd, "--config", conf)
		if !strings.Contains(out+errOut, conf+" "+sentence+conf) {
			t.Errorf("%s with a 0644 config: no warning\nstdout:\n%s\nstderr:\n%s", cmd, out, errOut)
		}
		if strings.Contains(out+errOut, "pw-9f1c") {
			t.Errorf("%s printed the password", cmd)
		}
	}
	// run and once log it (the journal keeps it); plan and status, whose
	// stdout is a report, say it on stderr.
	if _, out, _ := plain(t, env, "run", "--config", conf); !strings.Contains(out, `"level":"WARN","msg":"config file `+conf) {
		t.Errorf("run: the warning is not a log line:\n%s", out)
	}
	if _, _, errOut := plain(t, env, "plan", "--config", conf); !strings.HasPrefix(errOut, "multinic-agent plan: warning: config file "+conf) {
		t.Errorf("plan: the warning is not the first line on stderr:\n%s", errOut)
	}

	conf, env = unconfigured(t, 0o600, lines...)
	for _, cmd := range []string{"run", "plan", "status"} {
		if _, out, errOut := plain(t, env, cmd, "--config", conf); strings.Contains(out+errOut, "readable by group or others") {
			t.Errorf("%s with a 0600 config warns:\n%s%s", cmd, out, errOut)
		}
	}
}

func TestStatusWithoutRowsForThisNodeFails(t *testing.T) {
	n := newNode(t)
	n.db.AddRow(t, "node2", "fa:16:3e:00:0d:01", "s4", "10.30.0.131", nil)
	code, out, errOut := n.run("status")
	want := `multinic-agent status: no multi_interface row has attached_node_name "node1"; set NODE_NAME to the name the controller uses`
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("NODE_NAME=node1 without rows: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// Unset, NODE_NAME is the hostname: both of its forms are named.
	var env []string
	for _, e := range n.env {
		if !strings.HasPrefix(e, "NODE_NAME=") {
			env = append(env, e)
		}
	}
	n.env = env
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = n.run("status")
	if code != 1 || !strings.Contains(errOut, "attached_node_name "+strconv.Quote(host)) {
		t.Errorf("NODE_NAME unset without rows: exit %d, want 1 naming %q:\n%s", code, host, errOut)
	}
	if short, _, ok := strings.Cut(host, "."); ok && !strings.Contains(errOut, " or "+strconv.Quote(short)) {
		t.Errorf("NODE_NAME unset: the short name %q is not named:\n%s", short, errOut)
	}
}
