// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package prevagent finds the previous generation of multinic-agent still
// running on the node (its DaemonSet's container, or its binary started by
// hand), so that the agent can name it and the step that stops it instead
// of fighting it over the same files and links.
package prevagent

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ourModule is this agent's main module path; the previous agent's was
// "multinic-agent".
const ourModule = "github.com/multinic-agent/multinic-agent"

// previousModule is the previous agent's main module path.
const previousModule = "multinic-agent"

// Process is a running previous multinic-agent.
type Process struct {
	PID int
	// Exe is its command (argv[0]).
	Exe string
	// Where it runs: a Kubernetes pod (Pod is its name when readable), a
	// container of another runtime, a systemd unit, or none of those.
	InPod     bool
	Pod       string
	Container string
	Unit      string
}

// Sentence says what runs and the step that stops it.
func (p Process) Sentence() string {
	where, step := "started by hand", fmt.Sprintf("stop it (kill %d)", p.PID)
	switch {
	case p.InPod:
		where = "in a Kubernetes pod"
		if p.Pod != "" {
			where = "in Kubernetes pod " + p.Pod
		}
		step = "delete its DaemonSet first (`kubectl get daemonsets -A | grep multinic` finds it; `kubectl -n NAMESPACE delete daemonset NAME`; docs/daemon.md, Migration)"
	case p.Container != "":
		where, step = "in container "+p.Container, "stop that container"
	case p.Unit != "":
		where, step = "as systemd unit "+p.Unit, "run systemctl disable --now "+p.Unit
	}
	return fmt.Sprintf("the previous multinic-agent is still running on this node (pid %d, %s, %s): %s; this agent does not touch the node while it runs", p.PID, p.Exe, where, step)
}

// Find lists the previous agents running, reading the proc file system at
// procRoot (/proc).
func Find(procRoot string) ([]Process, error) {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, err
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, p := range procs {
		if p.PID == os.Getpid() {
			continue
		}
		if pr, ok := inspect(procRoot, p); ok {
			out = append(out, pr)
		}
	}
	return out, nil
}

// Holder returns the previous agent among the processes listening on TCP
// port in this network namespace, if one is.
func Holder(procRoot string, port int) (Process, bool) {
	inodes := listeners(port)
	if len(inodes) == 0 {
		return Process{}, false
	}
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return Process{}, false
	}
	procs, _ := fs.AllProcs()
	for _, p := range procs {
		targets, err := p.FileDescriptorTargets()
		if err != nil || !containsAny(targets, inodes) {
			continue
		}
		if pr, ok := inspect(procRoot, p); ok {
			return pr, true
		}
	}
	return Process{}, false
}

// listeners returns the sockets listening on TCP port, as the fd links
// of their owners name them ("socket:[INODE]"), from the kernel's socket
// diagnostics.
func listeners(port int) map[string]bool {
	out := map[string]bool{}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var socks []*netlink.Socket
		var err error
		for range 3 {
			if socks, err = netlink.SocketDiagTCP(family); !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		for _, s := range socks {
			if s.State == netlink.TCP_LISTEN && int(s.ID.SourcePort) == port {
				out[fmt.Sprintf("socket:[%d]", s.INode)] = true
			}
		}
	}
	return out
}

func containsAny(targets []string, set map[string]bool) bool {
	for _, t := range targets {
		if set[t] {
			return true
		}
	}
	return false
}

// inspect decides whether p is the previous agent.
func inspect(procRoot string, p procfs.Proc) (Process, bool) {
	if comm, err := p.Comm(); err != nil || comm != "multinic-agent" {
		return Process{}, false
	}
	cmdline, _ := p.CmdLine()
	cgs, _ := p.Cgroups()
	module, err := mainModule(filepath.Join(procRoot, fmt.Sprint(p.PID), "exe"))
	pr, ok := classify(cmdline, cgroupPath(cgs), module, err)
	if !ok {
		return pr, false
	}
	pr.PID = p.PID
	if pr.InPod {
		pr.Pod = podName(filepath.Join(procRoot, fmt.Sprint(p.PID), "environ"))
	}
	return pr, true
}

func mainModule(exe string) (string, error) {
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		return "", err
	}
	return info.Main.Path, nil
}

// containerMarks are what container runtimes put in a cgroup path.
var containerMarks = []string{"kubepods", "docker", "containerd", "crio", "libpod"}

// cgroupPath picks the cgroup that says where a process runs: one of a
// container runtime, else the one systemd manages (cgroup v2's unified
// hierarchy, or v1's name=systemd).
func cgroupPath(cgs []procfs.Cgroup) string {
	best := ""
	for _, c := range cgs {
		for _, m := range containerMarks {
			if strings.Contains(c.Path, m) {
				return c.Path
			}
		}
		if c.HierarchyID == 0 || slices.Contains(c.Controllers, "name=systemd") {
			best = c.Path
		}
	}
	return best
}

// classify decides from a process's command line, its cgroup and its
// executable's main module (or why that could not be read) whether it is
// the previous agent. Without the executable (another process's is not
// readable without ptrace rights, as in the unit's sandbox) only the
// previous DaemonSet's signature counts: `./multinic-agent` without a
// command, in a pod; this agent's own DaemonSet runs `multinic-agent run`.
func classify(cmdline []string, cgroup, module string, moduleErr error) (Process, bool) {
	pr := Process{InPod: strings.Contains(cgroup, "kubepods")}
	if len(cmdline) > 0 {
		pr.Exe = cmdline[0]
	}
	switch {
	case pr.InPod:
	case slices.ContainsFunc(containerMarks, func(m string) bool { return strings.Contains(cgroup, m) }):
		pr.Container = cgroup
	default:
		if base := filepath.Base(cgroup); strings.HasSuffix(base, ".service") {
			pr.Unit = base
		}
	}
	switch {
	case moduleErr == nil:
		return pr, module == previousModule || (module != ourModule && module != "")
	case errors.Is(moduleErr, os.ErrNotExist):
		return pr, false // gone
	}
	return pr, pr.InPod && len(cmdline) == 1 && filepath.Base(cmdline[0]) == "multinic-agent"
}

// podName is the HOSTNAME a container runtime gives a pod's processes.
func podName(environ string) string {
	data, err := os.ReadFile(environ)
	if err != nil {
		return ""
	}
	for _, kv := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, "HOSTNAME="); ok {
			return v
		}
	}
	return ""
}
