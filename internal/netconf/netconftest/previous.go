// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconftest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Previous describes one interface as the previous generation of
// multinic-agent wrote it: the MAC as the row had it, the address as
// "row address/prefix of the subnet" ("" when the row had none).
type Previous struct {
	Name, MAC, Addr string
	MTU             int
}

// PreviousNetplan returns the bytes the previous agent left in
// /etc/netplan/9N-multinicN.yaml: yaml.v3's Marshal of a map (keys sorted,
// four-space indent, no comment); addresses, dhcp4 and mtu only for a row
// with an address.
func PreviousNetplan(p Previous) []byte {
	eth := map[string]any{
		"match":    map[string]any{"macaddress": p.MAC},
		"set-name": p.Name,
	}
	if p.Addr != "" {
		eth["dhcp4"] = false
		eth["addresses"] = []string{p.Addr}
		if p.MTU > 0 {
			eth["mtu"] = p.MTU
		}
	}
	doc := map[string]any{"network": map[string]any{"version": 2, "ethernets": map[string]any{p.Name: eth}}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// PreviousIfcfg returns the bytes the previous agent left in
// ifcfg-multinicN: no comment, no trailing newline, HWADDR in lower case.
func PreviousIfcfg(p Previous) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "DEVICE=%s\nNAME=%s\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none", p.Name, p.Name)
	if addr, prefix, ok := strings.Cut(p.Addr, "/"); ok {
		fmt.Fprintf(&b, "\nIPADDR=%s\nPREFIX=%s", addr, prefix)
	}
	if p.MTU > 0 {
		fmt.Fprintf(&b, "\nMTU=%d", p.MTU)
	}
	fmt.Fprintf(&b, "\nHWADDR=%s", strings.ToLower(p.MAC))
	return []byte(b.String())
}

// PreviousFile is a file of the previous agent kept in testdata/previous
// (named as on the node) and the interface it describes.
type PreviousFile struct {
	Path string // on the node
	Desc Previous
	Want netconf.Iface
}

// AdoptsPrevious checks a backend's netconf.LegacyParser: each golden file
// is byte for byte what render (the previous agent's format) writes for
// its description and parses to the interface it describes; the edits
// (applied to the first file), a file with our header and a file at a path
// of another interface are refused.
func AdoptsPrevious(t *testing.T, b netconf.Backend, render func(Previous) []byte, files []PreviousFile, edits map[string][2]string) {
	t.Helper()
	lp, ok := b.(netconf.LegacyParser)
	if !ok {
		t.Fatalf("%s does not read the previous agent's files", b.Name())
	}
	for _, f := range files {
		golden := filepath.Join("testdata", "previous", filepath.Base(f.Path))
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(f.Desc); !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the previous agent writes for %+v:\n%s", golden, f.Desc, got)
		}
		got, err := lp.ParseLegacy(f.Path, want)
		if err != nil {
			t.Errorf("%s: %v", golden, err)
		} else if got != f.Want {
			t.Errorf("%s parsed to %+v, want %+v", golden, got, f.Want)
		}
		if _, err := b.Parse(f.Path, want); err == nil {
			t.Errorf("%s: Parse (the agent's own format) accepted a file without the header", golden)
		}
	}
	first, err := os.ReadFile(filepath.Join("testdata", "previous", filepath.Base(files[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	for what, e := range edits {
		content := strings.Replace(string(first), e[0], e[1], 1)
		if content == string(first) {
			t.Fatalf("%s: %q is not in %s", what, e[0], files[0].Path)
		}
		if _, err := lp.ParseLegacy(files[0].Path, []byte(content)); err == nil {
			t.Errorf("%s: adopted:\n%s", what, content)
		}
	}
	ours := b.Render(files[0].Want)[0]
	if _, err := lp.ParseLegacy(ours.Path, ours.Content); err == nil {
		t.Error("a file with the agent's header was read as the previous agent's")
	}
	other := strings.Replace(files[0].Path, files[0].Want.Name, "multinic7", 1)
	if other == files[0].Path {
		t.Fatalf("cannot move %s to another interface's path", files[0].Path)
	}
	if _, err := lp.ParseLegacy(strings.Replace(other, "91-", "97-", 1), first); err == nil {
		t.Error("a file describing another interface than its path names was adopted")
	}
}

// FuzzPrevious feeds arbitrary content to the backend's reader of the
// previous agent's files, seeded with the golden ones: it must never
// panic, and what it adopts must be a valid interface of the path's name
// that the backend renders as its own.
func FuzzPrevious(f *testing.F, b netconf.Backend, paths ...string) {
	lp := b.(netconf.LegacyParser)
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join("testdata", "previous", filepath.Base(p)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), data)
	}
	f.Fuzz(func(t *testing.T, which uint8, content []byte) {
		path := paths[int(which)%len(paths)]
		got, err := lp.ParseLegacy(path, content)
		if err != nil {
			return
		}
		if name, _ := b.Owns(path); got.Name != name || got.MAC == "" {
			t.Fatalf("adopted %q as %+v at %s", content, got, path)
		}
		for _, file := range b.Render(got) {
			if _, err := b.Parse(file.Path, file.Content); err != nil {
				t.Fatalf("adopted %q as %+v, whose rendering does not parse: %v", content, got, err)
			}
		}
	})
}
