// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package osrelease

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBackend(t *testing.T) {
	for content, want := range map[string]string{
		"ID=ubuntu\nVERSION_ID=\"22.04\"\n":                                   "netplan",
		"ID=pop\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=22.04\n":               "netplan",
		"ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.9\"\n":               "ifcfg",
		"ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n":          "ifcfg",
		"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n":  "keyfile",
		"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=10.0\n": "keyfile",
		"ID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\n":                "ifcfg",
		"ID=fedora\nVERSION_ID=41\n":                                          "keyfile",
		"ID=debian\nVERSION_ID=\"12\"\n":                                      "ifupdown",
		"ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=15.6\n":  "networkd",
		"ID=plan9\n": "",
	} {
		p := filepath.Join(t.TempDir(), "os-release")
		os.WriteFile(p, []byte(content), 0o644)
		info, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Backend(); got != want {
			t.Errorf("%q: backend %q, want %q", content, got, want)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file read without error")
	}
}
