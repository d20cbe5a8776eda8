// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

// TestDropInsKeepAddresses: every multinicN .network netplan generated
// gets the agent's KeepConfiguration=static drop-in, written once (a
// second run leaves it as it was, or networkd would take the link for
// changed); the agent's drop-in of an interface netplan no longer
// generates goes, another drop-in beside it stays; other files are left
// alone.
func TestDropInsKeepAddresses(t *testing.T) {
	root := rootfs.Root(t.TempDir())
	dir := root.Path(generatedDir)
	for p, content := range map[string]string{
		"10-netplan-multinic0.network":                 "[Match]\n",
		"10-netplan-multinic3.network":                 "[Match]\n",
		"10-netplan-mgmt0.network":                     "[Match]\n",
		"10-netplan-multinic5.network.d/" + dropInName: "old",
		"10-netplan-multinic5.network.d/90-admin.conf": "[Network]\n",
		"10-netplan-multinic6.network.d/" + dropInName: "old",
		"10-netplan-multinic3.network.d/90-admin.conf": "[Network]\n",
	} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := keepAddresses(root); err != nil {
		t.Fatal(err)
	}
	has := func(p string) bool { _, err := os.Lstat(filepath.Join(dir, p)); return err == nil }
	for p, want := range map[string]bool{
		"10-netplan-multinic0.network.d/" + dropInName: true,
		"10-netplan-multinic3.network.d/" + dropInName: true,
		"10-netplan-multinic3.network.d/90-admin.conf": true,
		"10-netplan-mgmt0.network.d":                   false,
		"10-netplan-multinic5.network.d/" + dropInName: false,
		"10-netplan-multinic5.network.d/90-admin.conf": true,
		"10-netplan-multinic6.network.d":               false,
	} {
		if has(p) != want {
			t.Errorf("%s: there %v, want %v", p, has(p), want)
		}
	}
	p := filepath.Join(dir, "10-netplan-multinic0.network.d", dropInName)
	got, _ := os.ReadFile(p)
	if !netconf.HasMarker(got) || !bytes.Contains(got, []byte("[Network]\nKeepConfiguration=static\n")) {
		t.Errorf("drop-in:\n%s", got)
	}
	before, _ := os.Stat(p)
	if err := keepAddresses(root); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(p); !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Error("a second run wrote the unchanged drop-in again")
	}
	if err := keepAddresses(rootfs.Root(t.TempDir())); err != nil {
		t.Errorf("nothing generated yet: %v", err)
	}
}

// TestReloadOfAnAdoptedFileKeepsTheAddress: the real generator's .network
// for the previous agent's file, loaded by a real systemd-networkd on a
// veth, then replaced by the one for the agent's file and reloaded. With
// the drop-in the address never leaves the link; without it networkd
// takes it off and puts it back (seen in the VM on the takeover), which
// shows that the watch sees such a flap. A veth has no permanent MAC, so
// the files match by MACAddress= instead of netplan's PermanentMACAddress=.
func TestReloadOfAnAdoptedFileKeepsTheAddress(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := generateCommand("/"); err != nil {
		testenv.Skip(t, err.Error())
	}
	const mac = "fa:16:3e:00:0a:01"
	i := netconf.Iface{RowID: 7, Name: "multinic1", MAC: mac, MTU: 1400}
	var err error
	if i.Addr, err = netconf.ParsePrefix("10.30.0.11/24"); err != nil {
		t.Fatal(err)
	}
	// network returns what the generator makes of a netplan file.
	network := func(yaml []byte) []byte {
		t.Helper()
		r := rootfs.Root(t.TempDir())
		if err := os.MkdirAll(r.Path(Dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile(Path(i.Name), yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := generate(context.Background(), string(r)); err != nil {
			t.Fatal(err)
		}
		out, err := r.ReadFile(generatedDir + "/10-netplan-multinic1.network")
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Replace(out, []byte("PermanentMACAddress="), []byte("MACAddress="), 1)
	}
	previous := network(netconftest.PreviousNetplan(netconftest.Previous{Name: i.Name, MAC: mac, Addr: "10.30.0.11/24", MTU: 1400}))
	ours := network(Backend{}.Render(i)[0].Content)
	if bytes.Equal(previous, ours) {
		t.Fatal("the two files generate the same .network: nothing to reload")
	}
	for _, c := range []struct {
		name    string
		dropIns bool
	}{{"with the drop-in", true}, {"without it networkd flaps", false}} {
		t.Run(c.name, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			root := rootfs.Root(t.TempDir())
			p := generatedDir + "/10-netplan-multinic1.network"
			if err := os.MkdirAll(root.Path(generatedDir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := root.WriteFile(p, previous, 0o644); err != nil {
				t.Fatal(err)
			}
			ns.AddNIC(t, "multinic1", mac)
			env := ns.StartNetworkd(t, string(root))
			configured := func() bool {
				l := ns.Link(t, "multinic1")
				return len(l.Addrs) == 1 && l.Addrs[0].String() == "10.30.0.11/24"
			}
			testenv.WaitFor(t, 10*time.Second, "networkd configured the previous file", configured)
			flaps := ns.WatchFlaps(t)
			if err := root.WriteFile(p, ours, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.dropIns {
				if err := keepAddresses(root); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := ns.Exec(t.Context(), env, "networkctl", "reload").CombinedOutput(); err != nil {
				t.Fatalf("networkctl reload: %v\n%s", err, out)
			}
			index := ns.Link(t, "multinic1").Index
			var st map[string]string
			defer func() {
				if t.Failed() {
					t.Logf("networkd's state of multinic1: %v", st)
				}
			}()
			testenv.WaitFor(t, 10*time.Second, "networkd reconfigured the link with the new file", func() bool {
				st = testenv.NetworkdLinkState(t, string(root), index)
				// The agent's file, not the previous one, says RequiredForOnline=no.
				return st["ADMIN_STATE"] == "configured" && st["REQUIRED_FOR_ONLINE"] == "no"
			})
			// networkd puts a removed address back within about 100 ms.
			time.Sleep(500 * time.Millisecond)
			ev := flaps.Events()
			if c.dropIns && len(ev) > 0 {
				t.Errorf("the reload took the address off: %v", ev)
			}
			if !c.dropIns && len(ev) == 0 {
				t.Error("without the drop-in networkd kept the address: the drop-in is no longer needed, or the watch sees nothing")
			}
			if !configured() {
				t.Error("after the reload multinic1 does not have its address")
			}
		})
	}
}
