// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ensureStrace installs strace with apt-get when it is missing.
func ensureStrace() error {
	if _, err := exec.LookPath("strace"); err == nil {
		return nil
	}
	logf("strace is missing: apt-get install -y strace")
	cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends strace")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("installing strace: %v: %s", err, out)
	}
	return nil
}

// traceSyscalls are what a file write or a process start goes through.
const traceSyscalls = "execve,execveat,clone,clone3,fork,vfork,open,openat,openat2,creat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,truncate,ftruncate,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,link,linkat,symlink,symlinkat,chmod,fchmod,fchmodat,chown,fchown,fchownat"

// tracer is a running `strace -f -y -p PID`.
type tracer struct {
	cmd  *exec.Cmd
	file string
	Args []string
	// tids are the traced process's threads when the trace started.
	tids map[int]bool
}

func startTrace(pid int, dir string) (*tracer, error) {
	f := filepath.Join(dir, fmt.Sprintf("strace-%d-%d.txt", pid, time.Now().UnixNano()))
	tids := map[int]bool{}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				tids[n] = true
			}
		}
	}
	args := []string{"-f", "-qq", "-yy", "-s", "200", "-e", "trace=" + traceSyscalls, "-o", f, "-p", fmt.Sprint(pid)}
	cmd := exec.Command("strace", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Give strace the moment it takes to attach to every thread.
	time.Sleep(200 * time.Millisecond)
	shown := append([]string{"strace"}, args...)
	shown[len(shown)-3] = "FILE"
	return &tracer{cmd: cmd, file: f, Args: shown, tids: tids}, nil
}

// Stop detaches and returns what the trace shows.
func (t *tracer) Stop() (traceSummary, error) {
	t.cmd.Process.Signal(syscall.SIGINT)
	t.cmd.Wait()
	b, err := os.ReadFile(t.file)
	if os.Getenv("BENCH_KEEP_TRACE") == "" {
		os.Remove(t.file)
	} else {
		logf("trace kept: %s", t.file)
	}
	if err != nil {
		return traceSummary{}, err
	}
	return summarize(string(b), t.tids), nil
}

// traceSummary is what a trace shows.
type traceSummary struct {
	Execs []string `json:"execs"` // argv of each execve by a child of the process
	// SubExecs are the execs of the children's own descendants (the
	// tools' helpers).
	SubExecs []string `json:"sub_execs"`
	// FileWrites are syscalls that change a file: opens for writing,
	// renames, unlinks, mkdir, truncate, chmod/chown, and writes to an fd
	// that is a regular file (not a socket, pipe or anon inode).
	FileWrites []string `json:"file_writes"`
	// LogWrites are writes to the agent's stdout pipe.
	LogWrites int `json:"log_writes"`
	// SocketWrites are writes to sockets (database, netlink, HTTP);
	// UnixWrites those to unix stream sockets: the database's.
	SocketWrites int `json:"socket_writes"`
	UnixWrites   int `json:"unix_writes"`
	Lines        int `json:"lines"`
}

var (
	reCall    = regexp.MustCompile(`^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\((.*)$`)
	rePid     = regexp.MustCompile(`^(?:\[pid\s+)?(\d+)`)
	reResumed = regexp.MustCompile(`<\.\.\. (\w+) resumed>.*= (\d+)$`)
	reRet     = regexp.MustCompile(`= (\d+)$`)
	reFD      = regexp.MustCompile(`^-?\d+<([^>]*)>`)
	reExecArg = regexp.MustCompile(`^"([^"]*)", \[(.*?)\]`)
)

// summarize classifies a trace. agent holds the traced process's threads:
// a clone by one of them without CLONE_THREAD is a child of the process,
// and only such children's execs count as the process's.
func summarize(trace string, agent map[int]bool) traceSummary {
	var s traceSummary
	agent = maps.Clone(agent)
	children := map[int]bool{}
	pending := map[int]string{} // unfinished clone flags by pid
	type pidExec struct {
		pid  int
		argv string
	}
	var execs []pidExec
	cloned := func(pid int, flags string, child int) {
		if !agent[pid] || child <= 0 {
			return
		}
		if strings.Contains(flags, "CLONE_THREAD") {
			agent[child] = true
		} else {
			children[child] = true
		}
	}
	for _, line := range strings.Split(trace, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "+++") || strings.HasPrefix(line, "---") {
			continue
		}
		pid := 0
		if p := rePid.FindStringSubmatch(line); p != nil {
			pid, _ = strconv.Atoi(p[1])
		}
		if strings.Contains(line, "resumed>") {
			if r := reResumed.FindStringSubmatch(line); r != nil && strings.HasPrefix(r[1], "clone") {
				child, _ := strconv.Atoi(r[2])
				cloned(pid, pending[pid], child)
			}
			continue
		}
		m := reCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s.Lines++
		call, rest := m[1], m[2]
		switch call {
		case "execve", "execveat":
			if strings.Contains(rest, "= -1") {
				continue // a PATH lookup that missed
			}
			argv := rest
			if a := reExecArg.FindStringSubmatch(rest); a != nil {
				argv = strings.ReplaceAll(a[2], `"`, "")
			}
			// A vfork child's exec shows before its parent's clone
			// returns: attributed once the whole trace is read.
			execs = append(execs, pidExec{pid, argv})
		case "clone", "clone3", "fork", "vfork":
			if strings.HasSuffix(rest, "<unfinished ...>") {
				pending[pid] = rest
				continue
			}
			if r := reRet.FindStringSubmatch(rest); r != nil {
				child, _ := strconv.Atoi(r[1])
				cloned(pid, rest, child)
			}
		case "open", "openat", "openat2", "creat":
			if call == "creat" || strings.Contains(rest, "O_WRONLY") || strings.Contains(rest, "O_RDWR") ||
				strings.Contains(rest, "O_CREAT") || strings.Contains(rest, "O_TRUNC") {
				if !strings.Contains(rest, "= -1") {
					s.FileWrites = append(s.FileWrites, call+"("+rest)
				}
			}
		case "write", "pwrite64", "writev", "pwritev", "pwritev2":
			fd := reFD.FindStringSubmatch(rest)
			switch {
			case fd == nil:
			case strings.HasPrefix(fd[1], "pipe:"):
				s.LogWrites++
			case strings.HasPrefix(fd[1], "UNIX-STREAM"):
				s.SocketWrites++
				s.UnixWrites++
			case strings.HasPrefix(fd[1], "socket:") || strings.Contains(fd[1], "UNIX") || strings.Contains(fd[1], "TCP") || strings.Contains(fd[1], "NETLINK"):
				s.SocketWrites++
			case strings.HasPrefix(fd[1], "anon_inode:") || fd[1] == "/dev/null":
			default:
				s.FileWrites = append(s.FileWrites, call+"("+trim(rest, 120))
			}
		case "fsync", "fdatasync", "fchmod", "fchown":
			if fd := reFD.FindStringSubmatch(rest); fd != nil && strings.HasPrefix(fd[1], "/") {
				s.FileWrites = append(s.FileWrites, call+"("+rest)
			}
		default:
			if !strings.Contains(rest, "= -1") {
				s.FileWrites = append(s.FileWrites, call+"("+trim(rest, 160))
			}
		}
	}
	for _, e := range execs {
		if children[e.pid] {
			s.Execs = append(s.Execs, e.argv)
		} else {
			s.SubExecs = append(s.SubExecs, e.argv)
		}
	}
	return s
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// execCounts groups argv strings by program and sub-command.
func execCounts(execs []string) []string {
	m := map[string]int{}
	for _, e := range execs {
		f := strings.Split(e, ", ")
		key := strings.Join(f[:min(2, len(f))], " ")
		m[key]++
	}
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(out)
	return out
}
