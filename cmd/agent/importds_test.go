// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/config"
)

func TestImportDaemonSet(t *testing.T) {
	fixture, err := filepath.Abs("../../internal/daemonsetenv/testdata/kubectl-get.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "config.env")
	cmd := exec.Command(binary, "import-daemonset", "--input", fixture, "--output", out)
	if msg, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(msg), "wrote "+out+" (mode 0600)") {
		t.Fatalf("import-daemonset: %v\n%s", err, msg)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("output: %v, mode %v", err, st.Mode())
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := config.RegisterFlags(fs)
	fs.Parse([]string{"--config", out})
	cfg, err := config.Load(flags, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the agent cannot load what import-daemonset wrote: %v", err)
	}
	if cfg.DBPassword != `p@ss'w"rd $1` || cfg.DBHost != "192.168.34.79" || cfg.DBPort != 30305 || cfg.DBUser != "multinic" ||
		cfg.PollInterval.String() != "30s" || cfg.BackoffMaxInterval.String() != "5m0s" || cfg.NodeName != "" {
		t.Errorf("loaded %+v", cfg)
	}
	if len(cfg.Unknown) != 0 || len(cfg.Previous) != 0 {
		t.Errorf("the file has keys the agent does not read: unknown %v, previous agent's %v", cfg.Unknown, cfg.Previous)
	}
	data, _ := os.ReadFile(out)
	for _, want := range []string{"# from Secret multinic-agent-db, key password\nDB_PASSWORD=", "#NODE_NAME=", "# MAX_RETRIES (from the DaemonSet) is left out: replaced by the per-row backoff"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("output lacks %q:\n%s", want, data)
		}
	}

	// An existing config.env is never replaced by surprise.
	msg, err := exec.Command(binary, "import-daemonset", "--input", fixture, "--output", out).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "exists; compare it") {
		t.Errorf("second import over the file: %v\n%s", err, msg)
	}
	if msg, err := exec.Command(binary, "import-daemonset", "--input", fixture, "--output", out, "--force").CombinedOutput(); err != nil {
		t.Errorf("--force: %v\n%s", err, msg)
	}
	// Standard output, as in the pipe the documentation shows.
	in, _ := os.Open(fixture)
	defer in.Close()
	cmd = exec.Command(binary, "import-daemonset")
	cmd.Stdin = in
	stdout, err := cmd.Output()
	if err != nil || string(stdout) != string(data) {
		t.Errorf("to standard output: %v\n%s", err, stdout)
	}
}
