// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package vmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/vmtest/proto"
)

// The VM's management NIC and the secondary NICs present from the first
// boot (the guest driver's rows name the same MACs).
const (
	MgmtMAC = "52:54:00:00:00:10"
)

// SecondaryNICs are on hubs that lead nowhere.
var SecondaryNICs = []NIC{{"fa:16:3e:aa:00:01"}, {"fa:16:3e:aa:00:02"}, {"fa:16:3e:aa:00:03"}}

// Config is one run of the VM test.
type Config struct {
	Repo     string // the checkout: scripts/, deployments/, the Go module
	CacheDir string // cached root file systems
	WorkDir  string // the disk image, sockets and logs of this run
	Timeout  time.Duration
	// Phases, when set, names the phases to run (comma-separated, in the
	// guest driver's order); all of them when empty.
	Phases string
	// Out receives one line per check and the summary.
	Out io.Writer
}

// Report is what a run saw.
type Report struct {
	Passed, Failed int
	Failures       []string
	// Boot is the first boot (qemu start to the guest driver's hello);
	// Reboots each reboot (the driver's reboot message to its next hello).
	Boot    time.Duration
	Reboots []time.Duration
	// RootfsBuilt is set when debootstrap ran (cold cache).
	RootfsBuilt  bool
	Prepare, VM  time.Duration
	Done         bool
	LogDir       string
	ResultsInImg int
}

// Run builds what goes into the VM, the image, boots the VM and serves its
// driver until it powers off.
func Run(ctx context.Context, c Config) (*Report, error) {
	rep := &Report{LogDir: filepath.Join(c.WorkDir, "logs")}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(c.Out, "vmtest %s "+format+"\n", append([]any{clock(time.Since(start))}, args...)...)
	}
	if err := os.MkdirAll(rep.LogDir, 0o755); err != nil {
		return rep, err
	}
	payload := filepath.Join(c.WorkDir, "payload")
	say("building the agent, the guest driver and the packages (make packages)")
	files, err := buildPayload(ctx, c.Repo, payload)
	if err != nil {
		return rep, err
	}
	tar, built, err := Rootfs(ctx, c.CacheDir, say)
	if err != nil {
		return rep, err
	}
	rep.RootfsBuilt = built
	if !built {
		say("root file system from the cache: %s", tar)
	}
	say("making the disk image (tar, the test's files, mkfs.ext4 -d)")
	disk, err := MakeDisk(ctx, tar, c.WorkDir, layout(files), 4<<30)
	if err != nil {
		return rep, err
	}
	port, err := FreePort()
	if err != nil {
		return rep, err
	}
	rep.Prepare = time.Since(start)
	say("prepared in %s; booting the VM (health port forwarded from 127.0.0.1:%d)", rep.Prepare.Round(time.Second), port)
	appendArgs := "quiet fsck.mode=skip"
	if c.Phases != "" {
		if strings.ContainsAny(c.Phases, " \t\n") {
			return rep, fmt.Errorf("phases %q: names separated by commas, no spaces", c.Phases)
		}
		appendArgs += " " + proto.PhasesArg + c.Phases
		say("only the phases %s", c.Phases)
	}
	vmStart := time.Now()
	vm, err := Start(ctx, Options{
		Disk: disk, Dir: c.WorkDir, Mgmt: MgmtMAC, HostPort: port, NICs: SecondaryNICs,
		HotplugSlots: 6, CPUs: 2, MemoryMB: 2048, Append: appendArgs,
	})
	if err != nil {
		return rep, err
	}
	defer vm.Kill()
	err = serve(ctx, c, vm, port, rep, say)
	rep.VM = time.Since(vmStart)
	if err != nil {
		vm.Kill()
		vm.Wait(10 * time.Second)
	} else if werr := vm.Wait(2 * time.Minute); werr != nil {
		// qemu exits 0 when the guest powers off.
		err = fmt.Errorf("after the guest's power-off: %w", werr)
	}
	collect(ctx, disk, rep, vm, say)
	return rep, err
}

func clock(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// serve answers the guest driver until it is done (or the time is up).
func serve(ctx context.Context, c Config, vm *VM, port int, rep *Report, say func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	ctl, err := vm.Control(ctx)
	if err != nil {
		return err
	}
	msgs := make(chan proto.Msg)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := ctl.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			msgs <- m
		}
	}()
	const bootLimit = 8 * time.Minute
	booting := time.Now() // since qemu started or the guest said it reboots
	waitingHello := true
	bootTimer := time.NewTimer(bootLimit)
	defer bootTimer.Stop()
	httpc := http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the VM test did not finish within %s", c.Timeout)
		case err := <-vm.Exited():
			return fmt.Errorf("qemu exited before the guest driver was done: %v", err)
		case err := <-recvErr:
			return fmt.Errorf("control port: %w", err)
		case <-bootTimer.C:
			if waitingHello {
				return fmt.Errorf("the guest driver did not start within %s of the (re)boot; see %s", bootLimit, vm.Console)
			}
		case m := <-msgs:
			switch m.Type {
			case proto.Hello:
				took := time.Since(booting)
				if m.Boot == 1 {
					rep.Boot = took
					say("boot %d: the driver started %.1fs after qemu did (guest uptime %.1fs)", m.Boot, took.Seconds(), m.Uptime)
				} else {
					rep.Reboots = append(rep.Reboots, took)
					say("boot %d: rebooted in %.1fs (guest uptime %.1fs)", m.Boot, took.Seconds(), m.Uptime)
				}
				waitingHello = false
			case proto.Reboot:
				say("rebooting: %s", m.Detail)
				booting, waitingHello = time.Now(), true
				bootTimer.Reset(bootLimit)
			case proto.Check:
				if m.OK {
					rep.Passed++
				} else {
					rep.Failed++
					rep.Failures = append(rep.Failures, m.String())
				}
				fmt.Fprintln(c.Out, m.String())
			case proto.Step:
				say("%s", m.String())
			case proto.Note:
				say("%s: %s", m.Phase, m.Detail)
			case proto.Req:
				res := answer(vm, &httpc, port, m)
				res.Type, res.ID = proto.Res, m.ID
				if err := ctl.Send(res); err != nil {
					return fmt.Errorf("control port: %w", err)
				}
			case proto.Done:
				rep.Done = true
				say("the guest driver is done (%s); powering off", m.Detail)
				return nil
			}
		}
	}
}

// answer carries out a guest's request.
func answer(vm *VM, c *http.Client, port int, m proto.Msg) proto.Msg {
	fail := func(err error) proto.Msg { return proto.Msg{Err: err.Error()} }
	switch m.Verb {
	case proto.HotplugAdd:
		if len(m.Args) != 3 {
			return fail(errors.New("hotplug-add ID SLOT MAC"))
		}
		slot, err := strconv.Atoi(m.Args[1])
		if err != nil {
			return fail(err)
		}
		if err := vm.HotplugAdd(m.Args[0], slot, m.Args[2]); err != nil {
			return fail(err)
		}
		return proto.Msg{}
	case proto.HotplugDel:
		if len(m.Args) != 1 {
			return fail(errors.New("hotplug-del ID"))
		}
		if err := vm.HotplugDel(m.Args[0], time.Minute); err != nil {
			return fail(err)
		}
		return proto.Msg{}
	case proto.HTTPGet:
		if len(m.Args) != 1 || !strings.HasPrefix(m.Args[0], "/") {
			return fail(errors.New("http-get PATH"))
		}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, m.Args[0]))
		if err != nil {
			return fail(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return fail(err)
		}
		return proto.Msg{Code: resp.StatusCode, Body: string(b)}
	}
	return fail(fmt.Errorf("unknown verb %q", m.Verb))
}

// collect reads the results and the journal back from the image after the
// VM is off.
func collect(ctx context.Context, disk Disk, rep *Report, vm *VM, say func(string, ...any)) {
	if b, err := ReadFile(ctx, disk.Image, "/var/lib/multinic-vmtest/results.jsonl"); err == nil {
		os.WriteFile(filepath.Join(rep.LogDir, "results.jsonl"), b, 0o644)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m proto.Msg
			if json.Unmarshal([]byte(line), &m) == nil && m.Type == proto.Check {
				rep.ResultsInImg++
			}
		}
	}
	journal := filepath.Join(rep.LogDir, "journal")
	if err := CopyDir(ctx, disk.Image, "/var/log/journal", rep.LogDir); err == nil {
		if out, err := exec.CommandContext(ctx, "journalctl", "--directory", journal, "-o", "short-monotonic", "--no-pager").Output(); err == nil {
			os.WriteFile(filepath.Join(rep.LogDir, "journal.txt"), out, 0o644)
		}
		if out, err := exec.CommandContext(ctx, "journalctl", "--directory", journal, "-t", "multinic-agent", "-o", "short-monotonic", "--no-pager").Output(); err == nil {
			os.WriteFile(filepath.Join(rep.LogDir, "agent.txt"), out, 0o644)
		}
	}
	if b, err := os.ReadFile(vm.Console); err == nil {
		os.WriteFile(filepath.Join(rep.LogDir, "console.log"), b, 0o644)
	}
}

// Summary is the run's last lines: the counts and the times.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed, r.Failed)
	var rb []string
	for _, d := range r.Reboots {
		rb = append(rb, fmt.Sprintf("%.0fs", d.Seconds()))
	}
	sorted := slices.Clone(r.Reboots)
	slices.Sort(sorted)
	median := time.Duration(0)
	if len(sorted) > 0 {
		median = sorted[len(sorted)/2]
	}
	fmt.Fprintf(&b, "boot: %.0fs; reboots: %s (median %.0fs)\n", r.Boot.Seconds(), strings.Join(rb, ", "), median.Seconds())
	cache := "from the cache"
	if r.RootfsBuilt {
		cache = "built with debootstrap (cold cache)"
	}
	if r.VM == 0 {
		fmt.Fprintf(&b, "the VM did not run; logs in %s", r.LogDir)
		return b.String()
	}
	fmt.Fprintf(&b, "root file system %s; prepared in %s; the VM ran %s; logs in %s", cache, r.Prepare.Round(time.Second), r.VM.Round(time.Second), r.LogDir)
	return b.String()
}

// buildPayload builds the agent, the guest driver and the .deb into dir,
// and returns the files the image gets from them.
func buildPayload(ctx context.Context, repo, dir string) ([]File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	build := func(out, pkg string) error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=vmtest", "-o", out, pkg)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return nil
	}
	agent, guest := filepath.Join(dir, "multinic-agent"), filepath.Join(dir, "guest")
	if err := build(agent, "./cmd/agent"); err != nil {
		return nil, err
	}
	if err := build(guest, "./vmtest/guest"); err != nil {
		return nil, err
	}
	dist := filepath.Join(dir, "dist")
	cmd := exec.CommandContext(ctx, "make", "packages", "DIST="+dist, "PKG_ARCH=amd64")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make packages: %w\n%s", err, tail(string(b), 20))
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("make packages left %d .deb files in %s", len(debs), dist)
	}
	files := []File{
		{Path: "/opt/multinic/multinic-agent", Mode: 0o755, Src: agent},
		{Path: "/opt/multinic/multinic-agent.deb", Mode: 0o644, Src: debs[0]},
		{Path: "/usr/local/libexec/multinic-vmtest/guest", Mode: 0o755, Src: guest},
	}
	// The part of a checkout the install scripts need, as an operator has it.
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"scripts/install-daemon.sh", 0o755}, {"scripts/uninstall-daemon.sh", 0o755}, {"scripts/common.sh", 0o644}, {"scripts/netplan-snapshot.sh", 0o644},
		{"deployments/systemd/multinic-agent.service", 0o644}, {"deployments/systemd/config.env.template", 0o644},
	} {
		files = append(files, File{Path: "/opt/multinic/" + f.path, Mode: f.mode, Src: filepath.Join(repo, f.path)})
	}
	return files, nil
}

// layout is the VM's own configuration on top of the cached tree.
func layout(payload []File) Layout {
	text := func(path string, mode os.FileMode, s string) File {
		return File{Path: path, Mode: mode, Data: []byte(s)}
	}
	return Layout{
		Files: append(payload,
			text("/etc/hostname", 0o644, "vmnode1.novalocal\n"),
			text("/etc/hosts", 0o644, "127.0.0.1 localhost\n127.0.1.1 vmnode1.novalocal vmnode1\n::1 localhost ip6-localhost ip6-loopback\n"),
			text("/etc/fstab", 0o644, "/dev/vda / ext4 rw,errors=remount-ro 0 0\n"),
			// The management NIC: named by its MAC, static address (slirp's
			// DHCP offers no router with restrict=on).
			text("/etc/systemd/network/10-mgmt.link", 0o644, "[Match]\nMACAddress="+MgmtMAC+"\n\n[Link]\nName=mgmt0\n"),
			text("/etc/systemd/network/10-mgmt.network", 0o644, "[Match]\nName=mgmt0\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\nDHCP=no\nIPv6AcceptRA=no\n"),
			text("/etc/systemd/journald.conf.d/vmtest.conf", 0o644, "[Journal]\nStorage=persistent\nRateLimitIntervalSec=0\n"),
			// No Galera here: skip its recovery run (mariadbd --wsrep-recover,
			// 20 s of every boot under emulation) before MariaDB starts.
			text("/etc/systemd/system/mariadb.service.d/vmtest.conf", 0o644, "[Service]\nExecStartPre=\n"),
			text("/etc/mysql/mariadb.conf.d/90-vmtest.cnf", 0o644, "[mysqld]\ninnodb_buffer_pool_size=32M\n"),
			text("/etc/systemd/system/multinic-vmtest.service", 0o644, `[Unit]
Description=multinic-agent VM test driver
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/libexec/multinic-vmtest/guest
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`),
		),
		Enable:  []string{"systemd-networkd.service", "multinic-vmtest.service"},
		Disable: []string{"NetworkManager.service", "NetworkManager-wait-online.service", "networking.service"},
		// Nothing the test does not drive runs in the background.
		Mask: []string{"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "man-db.timer", "logrotate.timer"},
	}
}
