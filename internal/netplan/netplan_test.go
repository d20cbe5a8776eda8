package netplan

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var samples = map[string]netconf.Iface{
	"ipv4-mtu":   {RowID: 1, Name: "multinic0", MAC: "fa:16:3e:00:00:01", Addr: netip.MustParsePrefix("10.20.0.11/24"), MTU: 9000},
	"ipv6":       {RowID: 22, Name: "multinic1", MAC: "fa:16:3e:00:00:02", Addr: netip.MustParsePrefix("2001:db8:1::11/64"), MTU: 1400},
	"no-address": {RowID: 3, Name: "multinic9", MAC: "02:00:00:00:00:03"},
}

func TestRenderGolden(t *testing.T) {
	for name, iface := range samples {
		files := Backend{}.Render(iface)
		if len(files) != 1 || files[0].Mode != 0o600 || files[0].Path != Path(iface.Name) {
			t.Fatalf("%s: unexpected files %+v", name, files)
		}
		golden := filepath.Join("testdata", name+".yaml")
		if *update {
			os.WriteFile(golden, files[0].Content, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files[0].Content, want) {
			t.Errorf("%s: render differs from %s:\n%s", name, golden, files[0].Content)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for name, iface := range samples {
		f := Backend{}.Render(iface)[0]
		got, err := Backend{}.Parse(f.Path, f.Content)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != iface {
			t.Errorf("%s: parsed %+v, rendered from %+v", name, got, iface)
		}
	}
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/netplan/90-multinic0.yaml":  "multinic0",
		"/etc/netplan/97-multinic7.yaml":  "multinic7",
		"/etc/netplan/93-multinic5.yaml":  "",
		"/etc/netplan/50-cloud-init.yaml": "",
		"/etc/netplan/90-multinic0.yml":   "",
		"/etc/netplan/90-multinic10.yaml": "",
	} {
		got, ok := Backend{}.Owns(path)
		if got != want || ok != (want != "") {
			t.Errorf("Owns(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestParseRejectsHandEdits(t *testing.T) {
	base := string(Backend{}.Render(samples["ipv4-mtu"])[0].Content)
	for name, content := range map[string]string{
		"bad yaml":         base + "  : : [\n",
		"other key":        strings.Replace(base, "    multinic0:", "    eth0:", 1),
		"bad mac":          strings.Replace(base, "fa:16:3e:00:00:01", "zz", 1),
		"bad address":      strings.Replace(base, "10.20.0.11/24", "10.20.0.300/24", 1),
		"bad mtu":          strings.Replace(base, "mtu: 9000", "mtu: big", 1),
		"set-name differs": strings.Replace(base, "set-name: multinic0", "set-name: eth9", 1),
		"no header":        strings.SplitN(base, "\n", 2)[1],
	} {
		if _, err := (Backend{}).Parse("/etc/netplan/90-multinic0.yaml", []byte(content)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// TestNetplanGenerateAccepts runs the real netplan on the rendered files:
// it must exit 0 without a warning and produce networkd config carrying
// the address, the MTU and the MAC match.
func TestNetplanGenerateAccepts(t *testing.T) {
	testenv.RequireTool(t, "netplan")
	root := t.TempDir()
	for _, iface := range samples {
		for _, f := range (Backend{}).Render(iface) {
			if err := atomicfile.Write(filepath.Join(root, f.Path), f.Content, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command("netplan", "generate", "--root-dir", root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("netplan generate: %v: %s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("netplan generate warned: %s", stderr.String())
	}
	network, err := os.ReadFile(filepath.Join(root, "run/systemd/network/10-netplan-multinic0.network"))
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.ReadFile(filepath.Join(root, "run/systemd/network/10-netplan-multinic0.link"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Address=10.20.0.11/24", "MTUBytes=9000", "Name=multinic0"} {
		if !strings.Contains(string(network)+string(link), want) {
			t.Errorf("generated networkd config lacks %q:\n%s\n%s", want, network, link)
		}
	}
	if !strings.Contains(strings.ToLower(string(link)), "fa:16:3e:00:00:01") {
		t.Errorf("generated .link does not match the MAC:\n%s", link)
	}

	// A broken file is rejected by the same check, so the test can fail.
	bad := filepath.Join(root, Path("multinic3"))
	os.WriteFile(bad, []byte(strings.Replace(string(Backend{}.Render(samples["ipv4-mtu"])[0].Content), "10.20.0.11/24", "10.20.0.11", 1)), 0o600)
	if out, err := exec.Command("netplan", "generate", "--root-dir", root).CombinedOutput(); err == nil {
		t.Errorf("netplan accepted an address without prefix: %s", out)
	}
}
