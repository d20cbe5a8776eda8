// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// TestVM boots a Debian 12 VM and runs every phase of the guest driver in
// it: for each backend, the agent installed as the operator does (the
// install script, or the .deb), started by systemd, its sandbox, health,
// drift, hot-plug, kill -9, a database outage, reboots with the agent
// disabled and enabled, and the uninstall; the netplan phase starts with
// the takeover of a node the previous agent configured. It takes about 17
// minutes on an idle machine (4 to 10 more to build the root file system on
// a cold cache), so it runs only when asked: MULTINIC_VMTEST=1 (make
// vmtest, scripts/test.sh).
//
// MULTINIC_VMTEST_CACHE (default /var/cache/multinic-vmtest) holds the
// cached root file system, MULTINIC_VMTEST_DIR (default a new directory in
// /var/tmp) the run's image and logs, MULTINIC_VMTEST_TIMEOUT (default 40m)
// bounds the VM; MULTINIC_VMTEST_KEEP=1 keeps the disk image;
// MULTINIC_VMTEST_PHASES (say netplan,ifupdown) runs only those phases
// after the setup, for a quicker look at one backend.
func TestVM(t *testing.T) {
	if os.Getenv("MULTINIC_VMTEST") != "1" {
		t.Skip("the VM test runs on its own: make vmtest (scripts/test.sh runs it too); set MULTINIC_VMTEST=1")
	}
	testenv.RequireRoot(t)
	for _, tool := range []string{"qemu-system-x86_64", "debootstrap", "mkfs.ext4", "debugfs", "tar", "systemctl", "journalctl", "make", "go"} {
		testenv.RequireTool(t, tool)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cache := envOr("MULTINIC_VMTEST_CACHE", "/var/cache/multinic-vmtest")
	work := os.Getenv("MULTINIC_VMTEST_DIR")
	if work == "" {
		if work, err = os.MkdirTemp("/var/tmp", "multinic-vmtest-"); err != nil {
			t.Fatal(err)
		}
	}
	timeout, err := time.ParseDuration(envOr("MULTINIC_VMTEST_TIMEOUT", "40m"))
	if err != nil {
		t.Fatalf("MULTINIC_VMTEST_TIMEOUT: %v", err)
	}
	start := time.Now()
	rep, err := Run(context.Background(), Config{Repo: repo, CacheDir: cache, WorkDir: work, Timeout: timeout, Phases: os.Getenv("MULTINIC_VMTEST_PHASES"), Out: os.Stdout})
	// The image is big; the logs stay where the summary says.
	if os.Getenv("MULTINIC_VMTEST_KEEP") != "1" {
		for _, f := range []string{"disk.img", "payload", "vmlinuz", "initrd.img", "tree"} {
			os.RemoveAll(filepath.Join(work, f))
		}
	}
	t.Logf("\n%s\ntotal %s", rep.Summary(), time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Done {
		t.Fatal("the guest driver did not finish")
	}
	if rep.ResultsInImg != rep.Passed+rep.Failed {
		t.Errorf("the image holds %d results, the control port brought %d", rep.ResultsInImg, rep.Passed+rep.Failed)
	}
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if rep.Passed == 0 {
		t.Error("no check ran")
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
