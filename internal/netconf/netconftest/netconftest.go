// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package netconftest checks any netconf.Backend the same way: rendering
// against golden files, render → parse round trips, ownership of exactly
// the rendered paths, and rejection of damaged files.
package netconftest

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Samples are the interfaces every backend is checked with.
var Samples = map[string]netconf.Iface{
	"ipv4-mtu":   {RowID: 1, Name: "multinic0", MAC: "fa:16:3e:00:00:01", Addr: netip.MustParsePrefix("10.20.0.11/24"), MTU: 9000},
	"ipv6":       {RowID: 22, Name: "multinic1", MAC: "fa:16:3e:00:00:02", Addr: netip.MustParsePrefix("2001:db8:1::11/64"), MTU: 1400},
	"no-address": {RowID: 3, Name: "multinic9", MAC: "02:00:00:00:00:03"},
}

// Golden compares every rendered file with testdata/SAMPLE.BASENAME
// (go test -update rewrites them).
func Golden(t *testing.T, b netconf.Backend) {
	t.Helper()
	for name, iface := range Samples {
		for _, f := range b.Render(iface) {
			golden := filepath.Join("testdata", name+"."+filepath.Base(f.Path))
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(f.Content, want) {
				t.Errorf("%s: %s differs from %s:\n%s", name, f.Path, golden, f.Content)
			}
			if !bytes.HasPrefix(f.Content, []byte(netconf.Marker)) {
				t.Errorf("%s: %s does not start with the marker", name, f.Path)
			}
		}
	}
}

// RoundTrip checks that each rendered file is owned by the backend under
// the interface's name and parses back to the interface. Files that carry
// only the name and MAC (a .link) must say so through partial.
func RoundTrip(t *testing.T, b netconf.Backend, partial func(path string) bool) {
	t.Helper()
	for name, iface := range Samples {
		for _, f := range b.Render(iface) {
			owner, ok := b.Owns(f.Path)
			if !ok || owner != iface.Name {
				t.Errorf("%s: Owns(%s) = %q, %v", name, f.Path, owner, ok)
			}
			got, err := b.Parse(f.Path, f.Content)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, f.Path, err)
			}
			want := iface
			if partial != nil && partial(f.Path) {
				want.Addr, want.MTU = netip.Prefix{}, 0
			}
			if got != want {
				t.Errorf("%s: %s parsed to %+v, rendered from %+v", name, f.Path, got, want)
			}
		}
	}
}

// RejectsDamage checks that edits breaking the file make Parse fail. Each
// edit replaces old with new in the rendered file of sample ipv4-mtu.
func RejectsDamage(t *testing.T, b netconf.Backend, edits map[string][2]string) {
	t.Helper()
	f := b.Render(Samples["ipv4-mtu"])[0]
	for what, e := range edits {
		content := strings.Replace(string(f.Content), e[0], e[1], 1)
		if content == string(f.Content) {
			t.Fatalf("%s: %q is not in %s", what, e[0], f.Path)
		}
		if _, err := b.Parse(f.Path, []byte(content)); err == nil {
			t.Errorf("%s: parsed without error:\n%s", what, content)
		}
	}
	noHeader := f.Content[bytes.IndexByte(f.Content, '\n')+1:]
	if m, ok := b.(netconf.Marked); ok && m.HasMark(noHeader) {
		// Its mark is also a setting, which the file keeps without comments.
		return
	}
	if _, err := b.Parse(f.Path, noHeader); err == nil {
		t.Error("a file without the header parsed without error")
	}
}

// Fuzz feeds arbitrary content to the backend's parser, seeded with every
// rendered sample: Parse must never panic, and whatever it accepts from a
// full file must render to a file that parses back to the same interface.
func Fuzz(f *testing.F, b netconf.Backend, partial func(path string) bool) {
	var paths []string
	for _, iface := range Samples {
		for _, file := range b.Render(iface) {
			f.Add(file.Path, file.Content)
			paths = append(paths, file.Path)
		}
	}
	f.Fuzz(func(t *testing.T, path string, content []byte) {
		if _, ok := b.Owns(path); !ok {
			path = paths[len(content)%len(paths)]
		}
		got, err := b.Parse(path, content)
		if err != nil || (partial != nil && partial(path)) {
			return
		}
		for _, file := range b.Render(got) {
			if file.Path != path {
				continue
			}
			again, err := b.Parse(file.Path, file.Content)
			if err != nil {
				t.Fatalf("accepted %q, but its rendering does not parse: %v\n%s", content, err, file.Content)
			}
			if again != got {
				t.Fatalf("accepted %q as %+v, rendered and parsed back as %+v", content, got, again)
			}
		}
	})
}

// samplesInOrder are Samples in a fixed order.
func samplesInOrder() []netconf.Iface {
	names := make([]string, 0, len(Samples))
	for n := range Samples {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]netconf.Iface, len(names))
	for k, n := range names {
		out[k] = Samples[n]
	}
	return out
}

// BenchRender renders every sample interface once per op.
func BenchRender(b *testing.B, be netconf.Backend) {
	ifaces := samplesInOrder()
	b.ReportAllocs()
	for b.Loop() {
		for _, i := range ifaces {
			be.Render(i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ifaces)), "ns/iface")
}

// BenchParse parses every file rendered for the samples once per op: what
// the agent pays when a file changed (unchanged files are cached).
func BenchParse(b *testing.B, be netconf.Backend) {
	var files []netconf.File
	for _, i := range samplesInOrder() {
		files = append(files, be.Render(i)...)
	}
	for _, f := range files {
		if _, err := be.Parse(f.Path, f.Content); err != nil {
			b.Fatalf("%s: %v", f.Path, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			be.Parse(f.Path, f.Content)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}
