// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifupdown

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"

	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// Activate implements netconf.Backend: for each interface, its file is
// checked by ifupdown's own parser (ifup --no-act) and brought up with
// ifup of that interface only; the live state was already set through
// netlink, so the commands that find it done (an address already there)
// are not errors, and nothing is taken down. A removed file is forgotten
// (ifdown --force with no definition leaves the link alone). Hook scripts
// run only for the system's own root: a test's or a container's ROOT_DIR
// has hooks of another system.
func (Backend) Activate(ctx context.Context, root rootfs.Root, changed []string) error {
	if _, err := exec.LookPath("ifup"); err != nil {
		return fmt.Errorf("%w: ifupdown is not installed", netconf.ErrUnavailable)
	}
	if !netconf.DaemonRuns(root, StateDir) {
		return fmt.Errorf("%w: ifupdown has not run on this system (no %s)", netconf.ErrUnavailable, StateDir)
	}
	common := []string{"--state-dir", root.Path(StateDir)}
	if !root.Host() {
		common = append(common, "--no-scripts")
	}
	var errs []error
	for _, name := range changed {
		file := root.Path(Path(name))
		_, err := os.Stat(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			errs = append(errs, netconf.Run(ctx, "ifdown", slices.Concat(common, []string{"--force", "-i", "/dev/null", name})...))
		case err != nil:
			errs = append(errs, err)
		default:
			with := slices.Concat(common, []string{"--force", "-i", file})
			if err := netconf.Run(ctx, "ifup", slices.Concat(with, []string{"--no-act", name})...); err != nil {
				errs = append(errs, fmt.Errorf("ifupdown refuses %s: %w", Path(name), err))
				continue
			}
			errs = append(errs, netconf.Run(ctx, "ifup", slices.Concat(with, []string{"--ignore-errors", name})...))
		}
	}
	return errors.Join(errs...)
}
