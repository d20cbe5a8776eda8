// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package keyfile

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func TestRenderGolden(t *testing.T) { netconftest.Golden(t, Backend{}) }

func TestRoundTrip(t *testing.T) {
	netconftest.RoundTrip(t, Backend{}, func(p string) bool { return strings.HasSuffix(p, ".link") })
}

func TestRejectsDamage(t *testing.T) {
	netconftest.RejectsDamage(t, Backend{}, map[string][2]string{
		"other id":      {"id=multinic0", "id=eth0"},
		"bad mac":       {"mac-address=fa:16:3e:00:00:01", "mac-address=zz"},
		"bad address":   {"address1=10.20.0.11/24", "address1=10.20.0.300/24"},
		"bad mtu":       {"mtu=9000", "mtu=large"},
		"two addresses": {"[ipv6]\nmethod=link-local", "[ipv6]\nmethod=manual\naddress1=2001:db8::1/64"},
	})
}

func TestFilesModesAndUUID(t *testing.T) {
	files := Backend{}.Render(netconftest.Samples["ipv4-mtu"])
	if len(files) != 2 || files[0].Path != "/etc/NetworkManager/system-connections/multinic0.nmconnection" || files[0].Mode != 0o600 ||
		files[1].Path != "/etc/systemd/network/70-multinic0.link" || files[1].Mode != 0o644 {
		t.Fatalf("files %+v", files)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(UUID("multinic0")) || UUID("multinic0") == UUID("multinic1") {
		t.Errorf("UUID %s / %s", UUID("multinic0"), UUID("multinic1"))
	}
}

// TestNetworkManagerNormalizes feeds each keyfile to NetworkManager's own
// parser (nmcli --offline, no daemon) and checks nothing is dropped: a
// MAC it cannot parse, for one, would be silently removed.
func TestNetworkManagerNormalizes(t *testing.T) {
	testenv.RequireTool(t, "nmcli")
	for name, iface := range netconftest.Samples {
		f := Backend{}.Render(iface)[0]
		cmd := exec.Command("nmcli", "--offline", "connection", "modify")
		cmd.Stdin = bytes.NewReader(f.Content)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: nmcli rejected the keyfile: %v\n%s", name, err, out)
		}
		norm := strings.ToLower(string(out))
		want := []string{"mac-address=" + iface.MAC, "interface-name=" + iface.Name, "uuid=" + UUID(iface.Name)}
		if iface.MTU > 0 {
			want = append(want, "mtu="+strconv.Itoa(iface.MTU))
		}
		if iface.Addr.IsValid() {
			want = append(want, "address1="+iface.Addr.String())
		}
		for _, w := range want {
			if !strings.Contains(norm, w) {
				t.Errorf("%s: NetworkManager's normalized profile lacks %q:\n%s", name, w, out)
			}
		}
	}
	bad := strings.Replace(string(Backend{}.Render(netconftest.Samples["ipv4-mtu"])[0].Content), "10.20.0.11/24", "10.20.0.300/24", 1)
	cmd := exec.Command("nmcli", "--offline", "connection", "modify")
	cmd.Stdin = strings.NewReader(bad)
	if err := cmd.Run(); err == nil {
		t.Error("nmcli accepted a bad address: the check cannot fail")
	}
}

// TestStaysOursWhenNetworkManagerRewritesIt feeds the agent's keyfile to
// NetworkManager's own writer (nmcli --offline, as after `nmcli connection
// modify` or a Cockpit edit): comments dropped, keys reordered, defaults
// left out. The file is still the agent's, parses to the same interface,
// and says the same as what the agent renders, unless the edit changed a
// setting.
func TestStaysOursWhenNetworkManagerRewritesIt(t *testing.T) {
	testenv.RequireTool(t, "nmcli")
	for name, iface := range netconftest.Samples {
		f := Backend{}.Render(iface)[0]
		rewrite := func(args ...string) []byte {
			cmd := exec.Command("nmcli", append([]string{"--offline", "connection", "modify"}, args...)...)
			cmd.Stdin = bytes.NewReader(f.Content)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: nmcli --offline connection modify %v: %v", name, args, err)
			}
			return out
		}
		same := rewrite("connection.autoconnect", "yes")
		if bytes.Contains(same, []byte(netconf.Marker)) {
			t.Fatalf("%s: NetworkManager kept the comment; the test proves nothing:\n%s", name, same)
		}
		if !(Backend{}).HasMark(same) {
			t.Errorf("%s: the rewritten file lost the mark:\n%s", name, same)
		}
		got, err := Backend{}.Parse(f.Path, same)
		if err != nil || got != iface {
			t.Errorf("%s: the rewritten file parses to %+v (%v), want %+v:\n%s", name, got, err, iface, same)
		}
		if !netconf.Same(Backend{}, f.Path, same, f.Content) {
			t.Errorf("%s: the rewritten file does not say the same:\n%s\n%s", name, Backend{}.Canonical(f.Path, same), Backend{}.Canonical(f.Path, f.Content))
		}
		// The running daemon also records when it activated the profile.
		if stamped := bytes.Replace(same, []byte("[connection]\n"), []byte("[connection]\ntimestamp=1796158675\n"), 1); !netconf.Same(Backend{}, f.Path, stamped, f.Content) {
			t.Errorf("%s: the activation time NetworkManager records makes the file differ", name)
		}
		if edited := rewrite("ipv4.dns", "10.0.0.53", "ipv4.method", "manual", "ipv4.addresses", "10.9.0.9/24"); netconf.Same(Backend{}, f.Path, edited, f.Content) {
			t.Errorf("%s: a DNS server and an address added by hand say the same as the agent's file", name)
		}
	}
	noMark := bytes.Replace(Backend{}.Render(netconftest.Samples["ipv4-mtu"])[0].Content, []byte("[user]"), []byte("[other]"), 1)
	noMark = noMark[bytes.IndexByte(noMark, '\n')+1:]
	if (Backend{}).HasMark(noMark) {
		t.Error("a keyfile with neither the header nor the [user] setting has the mark")
	}
	if _, err := (Backend{}).Parse("/etc/NetworkManager/system-connections/multinic0.nmconnection", noMark); err == nil {
		t.Error("a keyfile with neither the header nor the [user] setting parsed")
	}
}
