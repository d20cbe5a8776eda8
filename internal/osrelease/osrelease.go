// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package osrelease reads /etc/os-release and maps the OS to the network
// backend its nodes use.
package osrelease

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/envfile"
)

// Path is the os-release file, under ROOT_DIR.
const Path = "/etc/os-release"

// Info is the part of os-release the agent uses.
type Info struct {
	ID         string
	IDLike     []string
	VersionID  string
	PrettyName string
}

// Read parses the os-release file at path.
func Read(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	kv, err := envfile.Parse(path, data)
	if err != nil {
		return Info{}, err
	}
	i := Info{
		ID:         strings.ToLower(kv["ID"]),
		IDLike:     strings.Fields(strings.ToLower(kv["ID_LIKE"])),
		VersionID:  kv["VERSION_ID"],
		PrettyName: kv["PRETTY_NAME"],
	}
	if i.ID == "" {
		return i, fmt.Errorf("%s has no ID", path)
	}
	if i.PrettyName == "" {
		i.PrettyName = strings.TrimSpace(kv["NAME"] + " " + i.VersionID)
	}
	return i, nil
}

// Major is the major version number, 0 when unknown.
func (i Info) Major() int {
	major, _, _ := strings.Cut(i.VersionID, ".")
	n, _ := strconv.Atoi(major)
	return n
}

func (i Info) is(ids ...string) bool {
	for _, id := range ids {
		if i.ID == id || slices.Contains(i.IDLike, id) {
			return true
		}
	}
	return false
}

// Backend is the NETWORK_BACKEND this OS uses, or "" when unknown.
// Ubuntu uses netplan; RHEL and its rebuilds use ifcfg up to 8 and
// NetworkManager keyfiles from 9 (ifcfg is deprecated in 9 and gone in 10);
// Fedora uses keyfiles; Debian ifupdown; Arch and SUSE networkd (SUSE's
// own wicked reads none of the agent's files).
func (i Info) Backend() string {
	switch {
	case i.ID == "ubuntu" || (i.is("ubuntu") && i.ID != "debian"):
		return "netplan"
	case i.ID == "fedora":
		return "keyfile"
	case i.is("rhel", "centos", "rocky", "almalinux", "ol", "fedora"):
		if m := i.Major(); m > 0 && m < 9 {
			return "ifcfg"
		}
		return "keyfile"
	case i.is("debian"):
		return "ifupdown"
	case i.is("arch", "suse", "opensuse"):
		return "networkd"
	}
	return ""
}
