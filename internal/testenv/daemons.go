// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`

// privateBus starts a D-Bus system bus of the test's own and returns the
// DBUS_SYSTEM_BUS_ADDRESS value for it. Its socket lives in a directory
// others can enter: networkd connects after dropping to its own user.
func privateBus(t testing.TB) string {
	t.Helper()
	RequireTool(t, "dbus-daemon")
	dir, err := os.MkdirTemp("", "multinic-bus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "system_bus_socket")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dbus-daemon", "--config-file="+conf, "--fork", "--print-pid", "--nopidfile").Output()
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	var pid int
	fmt.Sscan(string(out), &pid)
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil && pid > 0 {
			p.Kill()
		}
	})
	return "unix:path=" + sock
}

// startInNamespace runs script with sh inside the namespace (ip netns exec
// gives it a private mount namespace) and stops it when the test ends.
func (n *Netns) startInNamespace(t testing.TB, name, script string, env []string, logPath string) {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.Name, "sh", "-ec", script)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, data)
		}
	})
}

// StartNetworkManager runs NetworkManager (keyfile plugin) inside the
// namespace with a private D-Bus, as the node's NetworkManager: it reads
// keyfiles from root's /etc/NetworkManager/system-connections and keeps
// its runtime state in root's /run (so the agent sees it running there).
// It manages only links named eth*, ens* and multinic*. The returned
// environment lets nmcli reach it.
func (n *Netns) StartNetworkManager(t testing.TB, root string) []string {
	t.Helper()
	RequireTool(t, "NetworkManager")
	RequireTool(t, "nmcli")
	dir := t.TempDir()
	bus := privateBus(t)
	conns := filepath.Join(root, "etc/NetworkManager/system-connections")
	for _, d := range []string{conns, filepath.Join(root, "run"), filepath.Join(dir, "varlib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "NetworkManager.conf")
	os.WriteFile(conf, []byte(`[main]
plugins=keyfile
no-auto-default=*
dns=none
rc-manager=unmanaged
hostname-mode=none
auth-polkit=false
[keyfile]
unmanaged-devices=except:interface-name:eth*,except:interface-name:ens*,except:interface-name:multinic*
[connectivity]
enabled=false
[logging]
level=INFO
`), 0o644)
	script := fmt.Sprintf(`mount --bind %q /run
mount -o remount,ro /sys
mkdir -p /run/NetworkManager
mount --bind %q /var/lib/NetworkManager
mount --bind %q /etc/NetworkManager/system-connections
exec NetworkManager --no-daemon --config=%q`, filepath.Join(root, "run"), filepath.Join(dir, "varlib"), conns, conf)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + bus}
	n.startInNamespace(t, "NetworkManager", script, env, filepath.Join(dir, "NetworkManager.log"))
	WaitFor(t, 10*time.Second, "NetworkManager running", func() bool {
		cmd := exec.Command("nmcli", "-t", "-f", "RUNNING", "general")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		return err == nil && strings.TrimSpace(string(out)) == "running"
	})
	return env
}

// StartNetworkd runs systemd-networkd inside the namespace with a private
// D-Bus: it reads root's /etc/systemd/network and /run/systemd/network
// and writes its state to root's /run/systemd/netif. The returned
// environment lets networkctl reach it.
func (n *Netns) StartNetworkd(t testing.TB, root string) []string {
	t.Helper()
	const bin = "/lib/systemd/systemd-networkd"
	if _, err := os.Stat(bin); err != nil {
		Skip(t, "systemd-networkd is not installed (package systemd)")
	}
	RequireTool(t, "networkctl")
	dir := t.TempDir()
	bus := privateBus(t)
	netdir := filepath.Join(root, "etc/systemd/network")
	for _, d := range []string{netdir, filepath.Join(root, "run/systemd/network"), filepath.Join(root, "run/systemd/netif")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf(`mount --bind %q /run
chown -R systemd-network: /run/systemd/netif
mount -o remount,ro /sys
mount --bind %q /etc/systemd/network
exec %s`, filepath.Join(root, "run"), netdir, bin)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + bus}
	n.startInNamespace(t, "systemd-networkd", script, env, filepath.Join(dir, "networkd.log"))
	WaitFor(t, 10*time.Second, "systemd-networkd running", func() bool {
		_, err := os.Stat(filepath.Join(root, "run/systemd/netif/state"))
		return err == nil
	})
	return env
}

// WaitFor polls cond every 50 ms until it holds, and returns how long that
// took, or fails the test when within has passed.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

// NetworkdLinkState returns networkd's state file for a link (keys such as
// NETWORK_FILE and ADMIN_STATE).
func NetworkdLinkState(t testing.TB, root string, index int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "run/systemd/netif/links", fmt.Sprint(index)))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
