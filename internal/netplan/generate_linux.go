// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// netplan's generator reads ROOT/etc/netplan and writes ROOT/run. Up to
// netplan 1.1 (Debian 12's 0.106, Ubuntu 22.04 and 24.04) `netplan
// generate` only starts it, from a Python interpreter that costs some
// 300 ms: the agent starts the generator itself there. From 1.2 on the
// generator runs only as a systemd generator and `netplan generate` adds a
// `configure` stage and a daemon reload: the agent runs `netplan generate`.
//
// Whatever --root-dir says, the generator then runs /bin/udevadm control
// --reload and /bin/systemctl is-system-running (which may start
// systemd-networkd's units), by absolute path: the daemons of the system
// the agent runs on, not of ROOT_DIR's. For a ROOT_DIR other than /, a
// test's or an image build's, the agent runs it in a mount namespace of its
// own in which udevadm and systemctl are masked by a program that does
// nothing, so the host's udevd and systemd never hear of it.

// generatorPaths are where netplan packages install the generator.
var generatorPaths = []string{"/usr/libexec/netplan/generate", "/usr/lib/netplan/generate", "/lib/netplan/generate"}

// configurePaths are where netplan 1.2 and later install their configure
// stage, whose presence says the generator runs only under systemd.
var configurePaths = []string{"/usr/libexec/netplan/configure", "/usr/lib/netplan/configure"}

// hostTools are the programs through which the generator reaches the
// daemons of the system it runs on.
var hostTools = []string{"udevadm", "systemctl"}

// toolDirs are where hostTools may be, besides PATH.
var toolDirs = []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/lib/systemd", "/usr/lib/systemd"}

// isolatedArg, as the first argument, makes the agent binary (or a test
// binary importing this package) the isolated generator: see init.
const isolatedArg = "__multinic-agent-netplan-generate"

func init() {
	if len(os.Args) > 2 && os.Args[1] == isolatedArg {
		os.Exit(isolatedMain(os.Args[2:]))
	}
}

// generateCommand is what turns ROOT_DIR/etc/netplan into networkd and
// udev configuration under ROOT_DIR/run on this system: netplan's
// generator itself where `netplan generate` does nothing more than start
// it, else `netplan generate`. NETPLAN_GENERATE_PATH and
// NETPLAN_CONFIGURE_PATH are netplan's own overrides of those programs.
func generateCommand(root string) ([]string, error) {
	configure := configurePaths
	if p := os.Getenv("NETPLAN_CONFIGURE_PATH"); p != "" {
		configure = []string{p}
	}
	if !slices.ContainsFunc(configure, isFile) {
		gens := generatorPaths
		if p := os.Getenv("NETPLAN_GENERATE_PATH"); p != "" {
			gens = []string{p}
		}
		if k := slices.IndexFunc(gens, isFile); k >= 0 {
			return []string{gens[k], "--root-dir", root}, nil
		}
	}
	if p, err := exec.LookPath("netplan"); err == nil {
		return []string{p, "generate", "--root-dir", root}, nil
	}
	return nil, fmt.Errorf("%w: netplan is not installed", netconf.ErrUnavailable)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// generate runs generateCommand: as it is for ROOT_DIR=/, whose daemons
// are the ones to tell, and isolated from the host's udevd and systemd for
// any other ROOT_DIR.
func generate(ctx context.Context, root string) error {
	argv, err := generateCommand(root)
	if err != nil {
		return err
	}
	if root == "/" {
		return netconf.Run(ctx, argv[0], argv[1:]...)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: cannot find the agent's own binary to isolate netplan's generator from the host's daemons: %v", netconf.ErrUnavailable, err)
	}
	return netconf.RunIsolated(ctx, self, append([]string{isolatedArg}, argv...)...)
}

// isolatedMain runs in the agent's child, alone in a fresh mount namespace:
// it masks hostTools, then runs argv (the generator) and says why it
// failed on standard error.
func isolatedMain(argv []string) int {
	if err := maskHostTools(); err != nil {
		fmt.Fprintf(os.Stderr, "netplan's generator not run for ROOT_DIR: %v\n", err)
		return 1
	}
	if err := netconf.Run(context.Background(), argv[0], argv[1:]...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// maskHostTools bind-mounts a program that does nothing over every copy of
// hostTools, in this process's own mount namespace only. It refuses to
// mount anything in its parent's namespace (the agent's, the host's).
func maskHostTools() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err != nil {
		return err
	}
	if self == parent {
		return errors.New("not in a mount namespace of its own: udevadm and systemctl cannot be masked")
	}
	// Private already (the agent's child made it so before exec); again,
	// so that no mount below can ever propagate out.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the mounts private: %w", err)
	}
	noop := "/dev/null" // exec fails: the generator ignores how its calls end
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if real, err := filepath.EvalSymlinks(p); err == nil && isFile(real) {
			noop = real
			break
		}
	}
	var masked []string
	for _, tool := range hostTools {
		cands := []string{}
		if p, err := exec.LookPath(tool); err == nil {
			cands = append(cands, p)
		}
		for _, d := range toolDirs {
			cands = append(cands, filepath.Join(d, tool))
		}
		for _, c := range cands {
			real, err := filepath.EvalSymlinks(c)
			if errors.Is(err, fs.ErrNotExist) || slices.Contains(masked, real) {
				continue
			}
			if err != nil {
				return err
			}
			if !isFile(real) {
				continue
			}
			if err := syscall.Mount(noop, real, "", syscall.MS_BIND, ""); err != nil {
				return fmt.Errorf("masking %s: %w", real, err)
			}
			masked = append(masked, real)
		}
	}
	return nil
}
