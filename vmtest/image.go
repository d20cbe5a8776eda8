// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package vmtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Suite and Variant are what debootstrap builds: Debian 12, the minimal
// base plus Packages.
const (
	Suite   = "bookworm"
	Variant = "minbase"
)

// Packages are installed into the image on top of debootstrap's minbase:
// systemd as PID 1 with udev and logind (polkitd, which NetworkManager
// needs, wants a logind), the network stacks the phases drive (networkd is
// part of systemd; netplan; NetworkManager; ifupdown, its
// networking.service disabled until its phase), MariaDB, the kernel and an
// initramfs, and the tools the guest driver and an operator use. Changing
// the list changes the cache key.
var Packages = []string{
	"systemd", "systemd-sysv", "libpam-systemd", "udev", "dbus",
	"iproute2", "ethtool", "kmod", "procps", "iputils-ping", "curl", "ca-certificates",
	"mariadb-server", "mariadb-client",
	"netplan.io", "network-manager", "ifupdown",
	"linux-image-amd64", "initramfs-tools",
}

// initramfsModules are the only modules the initramfs holds (MODULES=list):
// the disk, the file system, and the NICs' driver, so that the initramfs
// names the NICs first (enp0sN) as a cloud image's does and udev renames
// them by the agent's .link files once the root is mounted. Debian's
// default (MODULES=most) makes a 36 MB initramfs that takes 25 s more to
// boot under emulation.
var initramfsModules = []string{"virtio_pci", "virtio_blk", "virtio_net", "ext4"}

// CacheKey names the cached root file system of a package list: the same
// list (in any order) gives the same key. The initramfs recipe is part of
// it.
func CacheKey(suite, variant string, packages []string) string {
	p := slices.Clone(packages)
	slices.Sort(p)
	p = slices.Compact(p)
	h := sha256.Sum256([]byte("multinic-vmtest rootfs v3\n" + suite + "\n" + variant + "\n" + strings.Join(p, "\n") +
		"\ninitramfs " + strings.Join(initramfsModules, " ")))
	return hex.EncodeToString(h[:8])
}

// Mirror returns the Debian mirror this machine's apt uses (the first
// URIs: of a deb822 source, or the first deb line), so that debootstrap
// reaches what apt reaches; DefaultMirror when there is none.
func Mirror() string {
	if m := os.Getenv("MULTINIC_VMTEST_MIRROR"); m != "" {
		return m
	}
	if b, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "URIs:"); ok {
				if f := strings.Fields(v); len(f) > 0 && !strings.Contains(f[0], "security") {
					return f[0]
				}
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && !strings.Contains(f[1], "security") {
				if strings.HasPrefix(f[1], "[") {
					// deb [options] URI suite
					for _, w := range f[2:] {
						if strings.Contains(w, "://") {
							return w
						}
					}
					continue
				}
				return f[1]
			}
		}
	}
	return DefaultMirror
}

// DefaultMirror is used when apt names none.
const DefaultMirror = "http://deb.debian.org/debian"

// Rootfs returns the cached tar of the image's root file system under
// cacheDir/<key>/rootfs.tar, building it with debootstrap first when it
// is absent (built reports that). Concurrent runs wait for each other.
func Rootfs(ctx context.Context, cacheDir string, logf func(string, ...any)) (tar string, built bool, err error) {
	key := CacheKey(Suite, Variant, Packages)
	dir := filepath.Join(cacheDir, key)
	tar = filepath.Join(dir, "rootfs.tar")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", false, err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", false, err
	}
	if _, err := os.Stat(tar); err == nil {
		return tar, false, nil
	}
	build := dir + ".build"
	os.RemoveAll(build)
	if err := os.MkdirAll(build, 0o755); err != nil {
		return "", false, err
	}
	defer os.RemoveAll(build)
	tree := filepath.Join(build, "tree")
	mirror := Mirror()
	logf("building the image's root file system: debootstrap --variant=%s %s from %s (4 to 10 minutes; cached as %s)", Variant, Suite, mirror, tar)
	start := time.Now()
	// Two stages, so that the initramfs is made once, small: the first
	// unpacks the base system, then the initramfs settings go in (files
	// no package owns), then the second installs every package.
	out, err := run(ctx, "debootstrap", "--foreign", "--variant="+Variant, "--include="+strings.Join(Packages, ","), Suite, tree, mirror)
	if err != nil {
		return "", false, fmt.Errorf("debootstrap (first stage): %w\n%s", err, tail(out, 30))
	}
	for path, content := range map[string]string{
		"etc/initramfs-tools/conf.d/multinic-vmtest.conf":     "MODULES=list\n",
		"usr/share/initramfs-tools/modules.d/multinic-vmtest": strings.Join(initramfsModules, "\n") + "\n",
	} {
		p := filepath.Join(tree, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", false, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", false, err
		}
	}
	if out, err := run(ctx, "chroot", tree, "/debootstrap/debootstrap", "--second-stage"); err != nil {
		return "", false, fmt.Errorf("debootstrap (second stage): %w\n%s", err, tail(out, 30))
	}
	if m, _ := filepath.Glob(filepath.Join(tree, "boot/initrd.img-*")); len(m) != 1 {
		return "", false, fmt.Errorf("debootstrap left %d initramfs images in /boot", len(m))
	} else if st, err := os.Stat(m[0]); err != nil || st.Size() > 20<<20 {
		return "", false, fmt.Errorf("the initramfs %s is not the small one MODULES=list makes (%v)", m[0], err)
	}
	// debootstrap leaves downloaded packages behind.
	debs, _ := filepath.Glob(filepath.Join(tree, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		os.Remove(d)
	}
	logf("debootstrap took %s; writing the tar", time.Since(start).Round(time.Second))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	if out, err := run(ctx, "tar", "--numeric-owner", "--xattrs", "-C", tree, "-cf", tar+".tmp", "."); err != nil {
		os.Remove(tar + ".tmp")
		return "", false, fmt.Errorf("tar: %w\n%s", err, tail(out, 10))
	}
	list := strings.Join(Packages, "\n") + "\n"
	os.WriteFile(filepath.Join(dir, "packages"), []byte(fmt.Sprintf("# debootstrap --variant=%s %s %s\n%s", Variant, Suite, mirror, list)), 0o644)
	if err := os.Rename(tar+".tmp", tar); err != nil {
		return "", false, err
	}
	return tar, true, nil
}

// File is a file put into the image.
type File struct {
	Path string // absolute in the guest
	Mode fs.FileMode
	Data []byte
	// Src, when set, is copied instead of Data.
	Src string
}

// Layout is what a run adds to the cached root file system.
type Layout struct {
	Files []File
	// Enable, Disable and Mask are unit names for systemctl --root.
	Enable, Disable, Mask []string
}

// Disk is a bootable image: an ext4 root file system and the kernel and
// initramfs from its /boot.
type Disk struct {
	Image, Kernel, Initrd string
}

// MakeDisk unpacks the tar into dir, adds the layout and writes
// dir/disk.img (an ext4 file system of size bytes, sparse) with
// mkfs.ext4 -d: no loop device, no mount.
func MakeDisk(ctx context.Context, tar, dir string, l Layout, size int64) (Disk, error) {
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return Disk{}, err
	}
	defer os.RemoveAll(tree)
	if out, err := run(ctx, "tar", "--numeric-owner", "--xattrs", "-C", tree, "-xf", tar); err != nil {
		return Disk{}, fmt.Errorf("unpacking %s: %w\n%s", tar, err, tail(out, 10))
	}
	for _, f := range l.Files {
		p := filepath.Join(tree, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return Disk{}, err
		}
		data := f.Data
		if f.Src != "" {
			var err error
			if data, err = os.ReadFile(f.Src); err != nil {
				return Disk{}, err
			}
		}
		os.Remove(p)
		if err := os.WriteFile(p, data, f.Mode); err != nil {
			return Disk{}, err
		}
		if err := os.Chmod(p, f.Mode); err != nil {
			return Disk{}, err
		}
	}
	// A machine id of its own, so that systemd does not take the first
	// boot for a first boot (which would apply presets and enable units).
	id := make([]byte, 16)
	rand.Read(id)
	if err := os.WriteFile(filepath.Join(tree, "etc/machine-id"), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return Disk{}, err
	}
	for _, op := range []struct {
		verb  string
		units []string
	}{{"disable", l.Disable}, {"mask", l.Mask}, {"enable", l.Enable}} {
		if len(op.units) == 0 {
			continue
		}
		args := append([]string{"--root=" + tree, "--quiet", op.verb}, op.units...)
		if out, err := run(ctx, "systemctl", args...); err != nil {
			return Disk{}, fmt.Errorf("systemctl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	d := Disk{Image: filepath.Join(dir, "disk.img"), Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img")}
	for src, dst := range map[string]string{"vmlinuz-*": d.Kernel, "initrd.img-*": d.Initrd} {
		m, _ := filepath.Glob(filepath.Join(tree, "boot", src))
		if len(m) != 1 {
			return Disk{}, fmt.Errorf("expected one /boot/%s in the image, found %d", src, len(m))
		}
		if out, err := run(ctx, "cp", m[0], dst); err != nil {
			return Disk{}, fmt.Errorf("%w: %s", err, out)
		}
	}
	if out, err := run(ctx, "mkfs.ext4", "-q", "-F", "-L", "root", "-E", "root_owner=0:0", "-d", tree, d.Image, fmt.Sprintf("%dM", size>>20)); err != nil {
		return Disk{}, fmt.Errorf("mkfs.ext4: %w\n%s", err, tail(out, 10))
	}
	return d, nil
}

// ReadFile reads a file out of an ext4 image with debugfs (the VM must be
// off).
func ReadFile(ctx context.Context, image, path string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "debugfs", "-R", "cat "+path, image)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("debugfs cat %s: %w", path, err)
	}
	return out, nil
}

// CopyDir copies a directory out of an ext4 image into dst with debugfs.
func CopyDir(ctx context.Context, image, path, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if out, err := run(ctx, "debugfs", "-R", "rdump "+path+" "+dst, image); err != nil {
		return fmt.Errorf("debugfs rdump %s: %w\n%s", path, err, out)
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
