package ifcfg

import (
	"sort"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

// benchSamples are netconftest.Samples in a fixed order.
func benchSamples() []netconf.Iface {
	names := make([]string, 0, len(netconftest.Samples))
	for n := range netconftest.Samples {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]netconf.Iface, len(names))
	for k, n := range names {
		out[k] = netconftest.Samples[n]
	}
	return out
}

// BenchmarkRender renders every sample interface once per op.
func BenchmarkRender(b *testing.B) {
	ifaces := benchSamples()
	b.ReportAllocs()
	for b.Loop() {
		for _, i := range ifaces {
			Backend{}.Render(i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ifaces)), "ns/iface")
}

// BenchmarkParse parses every file rendered for the samples once per op:
// what the agent pays when a file changed (unchanged files are cached).
func BenchmarkParse(b *testing.B) {
	var files []netconf.File
	for _, i := range benchSamples() {
		files = append(files, Backend{}.Render(i)...)
	}
	for _, f := range files {
		if _, err := (Backend{}).Parse(f.Path, f.Content); err != nil {
			b.Fatalf("%s: %v", f.Path, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			Backend{}.Parse(f.Path, f.Content)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}
