// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

const (
	// generatedDir is where netplan's generator writes networkd's files.
	generatedDir = "/run/systemd/network"
	// dropInName is the agent's drop-in in 10-netplan-multinicN.network.d.
	dropInName = "50-multinic-agent.conf"
)

var (
	generatedRE = regexp.MustCompile(`^10-netplan-(multinic[0-9])\.network$`)
	dropInDirRE = regexp.MustCompile(`^10-netplan-(multinic[0-9])\.network\.d$`)
)

// dropIn is the content of every agent drop-in.
var dropIn = func() []byte {
	var b bytes.Buffer
	b.WriteString(netconf.Marker + ": keeps the static address through networkctl reload. Removed with the interface's netplan file.\n")
	b.ReadFrom(unit.Serialize([]*unit.UnitOption{networkd.KeepStatic}))
	return b.Bytes()
}()

// keepAddresses gives each .network file netplan generated for a
// multinicN interface a drop-in with KeepConfiguration=static (see
// networkd.KeepStatic: netplan has no key for it), so that the reload of a
// changed file, such as the adoption of the previous agent's, leaves the
// address on the link. It removes the agent's drop-ins of interfaces
// netplan no longer generates. A drop-in is written only when it is
// missing or differs: a new one makes networkd take its link for changed.
// It lives beside the generator's output under /run, which a boot clears:
// only a reload that follows a change needs it.
func keepAddresses(root rootfs.Root) error {
	dir := root.Path(generatedDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	generated := map[string]bool{}
	for _, e := range ents {
		if name, ok := netconf.NameFrom(generatedRE, e.Name()); ok && e.Type().IsRegular() {
			generated[name] = true
		}
	}
	for _, e := range ents {
		name, ok := netconf.NameFrom(dropInDirRE, e.Name())
		if !ok || !e.IsDir() || generated[name] {
			continue
		}
		p := filepath.Join(dir, e.Name(), dropInName)
		if err := atomicfile.Remove(p); err != nil {
			return fmt.Errorf("remove %s's drop-in: %w", name, err)
		}
		// Only when empty: another drop-in there is not the agent's.
		os.Remove(filepath.Join(dir, e.Name()))
	}
	for name := range generated {
		p := filepath.Join(generatedDir, "10-netplan-"+name+".network.d", dropInName)
		if old, err := root.ReadFile(p); err == nil && bytes.Equal(old, dropIn) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o755); err != nil {
			return fmt.Errorf("%s's drop-in: %w", name, err)
		}
		if err := root.WriteFile(p, dropIn, 0o644); err != nil {
			return fmt.Errorf("%s's drop-in: %w", name, err)
		}
	}
	return nil
}
