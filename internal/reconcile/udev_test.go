// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package reconcile

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// TestUdevSettled: a row's NIC that udev has not finished adding (no
// database entry for it while udev runs) is left out of the cycle, which
// then says Settling; a link of no row is kept; a link once settled is not
// looked at again; without udev nothing waits.
func TestUdevSettled(t *testing.T) {
	const macA, macB, macC = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b", "fa:16:3e:00:00:0c"
	ls := []links.Link{{Index: 1, Name: "lo"}, {Index: 2, Name: "eth0", MAC: macA}, {Index: 3, Name: "eth1", MAC: macB}, {Index: 4, Name: "eth2", MAC: macC}}
	rows := []store.Row{{ID: 1, MAC: "FA:16:3E:00:00:0A"}, {ID: 2, MAC: macB}}
	names := func(ls []links.Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return out
	}
	cases := []struct {
		rule    string
		udev    bool
		done    []int // indexes with udev's database entry
		want    []string
		settles bool
	}{
		{"without udev nothing waits", false, nil, []string{"lo", "eth0", "eth1", "eth2"}, false},
		{"every link added: nothing waits", true, []int{1, 2, 3, 4}, []string{"lo", "eth0", "eth1", "eth2"}, false},
		{"a row's NIC udev has not finished waits", true, []int{1, 3, 4}, []string{"lo", "eth1", "eth2"}, true},
		{"a link of no row is never left out", true, []int{2, 3}, []string{"lo", "eth0", "eth1", "eth2"}, false},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			root := t.TempDir()
			data := filepath.Join(root, "run/udev/data")
			os.MkdirAll(data, 0o755)
			if c.udev {
				os.WriteFile(filepath.Join(root, "run/udev/control"), nil, 0o600)
			}
			for _, i := range c.done {
				os.WriteFile(filepath.Join(data, "n"+string(rune('0'+i))), nil, 0o644)
			}
			r := &Reconciler{Root: rootfs.Root(root), Log: slog.New(slog.DiscardHandler)}
			got := r.udevSettled(ls, rows)
			if !slices.Equal(names(got), c.want) || r.settling != c.settles {
				t.Errorf("links %v settling %v, want %v %v", names(got), r.settling, c.want, c.settles)
			}
			if names(ls)[1] != "eth0" || len(ls) != 4 {
				t.Errorf("the view's links changed: %v", names(ls))
			}
		})
	}

	t.Run("a link once settled is not looked at again", func(t *testing.T) {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "run/udev/data"), 0o755)
		os.WriteFile(filepath.Join(root, "run/udev/control"), nil, 0o600)
		os.WriteFile(filepath.Join(root, "run/udev/data/n2"), nil, 0o644)
		r := &Reconciler{Root: rootfs.Root(root), Log: slog.New(slog.DiscardHandler)}
		r.udevSettled(ls[:3], rows[:1])
		os.Remove(filepath.Join(root, "run/udev/data/n2"))
		if got := r.udevSettled(ls[:3], rows[:1]); len(got) != 3 || r.settling {
			t.Errorf("links %v settling %v after the entry went", names(got), r.settling)
		}
	})
}
