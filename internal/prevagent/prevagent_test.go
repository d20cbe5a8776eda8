// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package prevagent

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/multinic-agent/multinic-agent/internal/testenv"
)

func TestClassify(t *testing.T) {
	unreadable := errors.New("open /proc/42/exe: permission denied")
	cases := []struct {
		name      string
		cmdline   []string
		cgroup    string
		module    string
		moduleErr error
		previous  bool
		sentence  string
	}{
		{"the previous DaemonSet's container, executable readable", []string{"./multinic-agent"}, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-ab12.scope", "multinic-agent", nil, true, "delete its DaemonSet first"},
		{"the previous DaemonSet's container, seen from the sandbox", []string{"./multinic-agent"}, "/kubepods/besteffort/pod1/ab12", "", unreadable, true, "in a Kubernetes pod"},
		{"this agent's DaemonSet, seen from the sandbox", []string{"/usr/bin/multinic-agent", "run"}, "/kubepods/besteffort/pod2/cd34", "", unreadable, false, ""},
		{"this agent's DaemonSet, executable readable", []string{"multinic-agent", "run"}, "/kubepods/besteffort/pod2/cd34", ourModule, nil, false, ""},
		{"the previous agent started by hand", []string{"/opt/old/multinic-agent"}, "/user.slice/user-0.slice/session-3.scope", "multinic-agent", nil, true, "started by hand): stop it (kill"},
		{"the previous agent as a unit", []string{"/usr/local/bin/multinic-agent"}, "/system.slice/old-multinic.service", "multinic-agent", nil, true, "systemctl disable --now old-multinic.service"},
		{"the previous agent in a docker container", []string{"./multinic-agent"}, "/system.slice/docker-ef56.scope", "multinic-agent", nil, true, "stop that container"},
		{"this agent started by hand", []string{"multinic-agent", "status"}, "/user.slice/user-0.slice/session-3.scope", ourModule, nil, false, ""},
		{"this agent's unit, seen from an unprivileged doctor", []string{"/usr/local/bin/multinic-agent", "run"}, "/system.slice/multinic-agent.service", "", unreadable, false, ""},
		{"a process that just exited", []string{"./multinic-agent"}, "/kubepods/x", "", os.ErrNotExist, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := classify(c.cmdline, c.cgroup, c.module, c.moduleErr)
			if ok != c.previous {
				t.Fatalf("previous agent: %v, want %v (%+v)", ok, c.previous, p)
			}
			if ok && !strings.Contains(p.Sentence(), c.sentence) {
				t.Errorf("sentence %q does not say %q", p.Sentence(), c.sentence)
			}
		})
	}
}

func TestFindsTheProcessAndThePortItHolds(t *testing.T) {
	cmd, port := testenv.StartPreviousAgent(t, nil, "127.0.0.1:0")
	// Other tests may run a stand-in of their own meanwhile: look for ours.
	has := func(prev []Process) bool {
		return slices.ContainsFunc(prev, func(p Process) bool { return p.PID == cmd.Process.Pid })
	}
	prev, err := Find("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if !has(prev) {
		t.Fatalf("Find: %+v, want pid %d among them", prev, cmd.Process.Pid)
	}
	p, ok := Holder("/proc", port)
	if !ok || p.PID != cmd.Process.Pid {
		t.Fatalf("Holder(%d): %+v %v, want pid %d", port, p, ok, cmd.Process.Pid)
	}
	if !strings.Contains(p.Sentence(), "the previous multinic-agent is still running on this node (pid ") {
		t.Errorf("sentence: %s", p.Sentence())
	}
	cmd.Process.Kill()
	cmd.Wait()
	if prev, _ := Find("/proc"); has(prev) {
		t.Errorf("found after it stopped: %+v", prev)
	}
}

func TestCgroupPath(t *testing.T) {
	cases := []struct {
		name string
		cgs  []procfs.Cgroup
		want string
	}{
		{"cgroup v2", []procfs.Cgroup{{HierarchyID: 0, Path: "/system.slice/multinic-agent.service"}}, "/system.slice/multinic-agent.service"},
		{"cgroup v1 with name=systemd", []procfs.Cgroup{{HierarchyID: 4, Controllers: []string{"memory"}, Path: "/user.slice"}, {HierarchyID: 1, Controllers: []string{"name=systemd"}, Path: "/system.slice/old.service"}}, "/system.slice/old.service"},
		{"a pod in any hierarchy", []procfs.Cgroup{{HierarchyID: 1, Controllers: []string{"name=systemd"}, Path: "/"}, {HierarchyID: 4, Controllers: []string{"memory"}, Path: "/kubepods/besteffort/pod1/ab"}}, "/kubepods/besteffort/pod1/ab"},
	}
	for _, c := range cases {
		if got := cgroupPath(c.cgs); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
