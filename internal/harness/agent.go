// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModulePath is the agent's Go module.
const ModulePath = "github.com/multinic-agent/multinic-agent"

// ModuleDir finds the agent's source tree: the nearest directory at or
// above the working directory whose go.mod is the agent's module (a test
// runs in its package's directory, the demo's module sits inside it).
func ModuleDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module "+ModulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s source tree at or above the working directory", ModulePath)
		}
		dir = parent
	}
}

// BuildAgent builds the agent to out as `make build` does (static, trimmed
// paths, no symbol table): what the tests run is what is shipped.
func BuildAgent(out string) error {
	dir, err := ModuleDir()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/agent")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/agent in %s: %v: %s", dir, err, b)
	}
	return nil
}

var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// BuiltAgent builds the agent once per process (BuildAgent, into a
// temporary directory) and returns its path; RemoveBuilt deletes it.
func BuiltAgent() (string, error) {
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "multinic-agent-build-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "multinic-agent")
		built.err = BuildAgent(built.path)
	})
	return built.path, built.err
}

// RemoveBuilt deletes what BuiltAgent built; a test binary's TestMain
// calls it once its tests have run.
func RemoveBuilt() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Agent is one agent process inside a namespace. Its output (stdout and
// stderr, as journald would take it) is read line by line.
type Agent struct {
	Cmd *exec.Cmd
	PID int
	// Notify receives the agent's systemd notifications (READY=1, ...)
	// when started with a notify socket.
	Notify <-chan string

	mu      sync.Mutex
	lines   []string
	partial bytes.Buffer
	done    chan struct{}
	waitErr error
	notify  net.Conn
	log     io.Writer
}

// AgentConfig is how an agent process is started.
type AgentConfig struct {
	// Env is its whole environment but PATH.
	Env []string
	// NotifyDir, when set, is where a NOTIFY_SOCKET is made, as systemd
	// makes one.
	NotifyDir string
	// Log, when set, gets a copy of everything the agent writes.
	Log io.Writer
}

// StartAgent runs argv (the agent binary and its arguments, or a wrapper
// such as setpriv that runs it) inside ns. The agent gets SIGKILL if the
// caller dies.
func StartAgent(ns *Netns, c AgentConfig, argv ...string) (*Agent, error) {
	a := &Agent{done: make(chan struct{}), log: c.Log}
	env := slices.Clone(c.Env)
	if c.NotifyDir != "" {
		sock := filepath.Join(c.NotifyDir, "notify.sock")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			return nil, err
		}
		a.notify = conn
		ch := make(chan string, 100)
		a.Notify = ch
		go func() {
			buf := make([]byte, 4096)
			for {
				k, err := conn.Read(buf)
				if err != nil {
					close(ch)
					return
				}
				select {
				case ch <- string(buf[:k]):
				default: // nobody reads them: drop
				}
			}
		}()
		env = append(env, "NOTIFY_SOCKET="+sock)
	}
	a.Cmd = ns.Command(context.Background(), env, argv[0], argv[1:]...)
	// Its own process group: a Ctrl-C meant for the caller does not reach
	// the agent, which the caller stops itself.
	a.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	a.Cmd.Stdout = a
	a.Cmd.Stderr = a
	if err := a.Cmd.Start(); err != nil {
		a.closeNotify()
		return nil, fmt.Errorf("cannot start %s: %w", argv[0], err)
	}
	a.PID = a.Cmd.Process.Pid
	go func() {
		a.waitErr = a.Cmd.Wait()
		a.closeNotify()
		close(a.done)
	}()
	// ip netns exec execs the command: wait until the PID is its.
	if exe, err := exec.LookPath(argv[0]); err == nil {
		exe, _ = filepath.EvalSymlinks(exe)
		exe, _ = filepath.Abs(exe)
		for range 200 {
			if p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", a.PID)); err != nil || p == exe {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return a, nil
}

func (a *Agent) closeNotify() {
	if a.notify != nil {
		a.notify.Close()
	}
}

// Write collects the agent's output; it implements io.Writer for exec.
func (a *Agent) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log != nil {
		a.log.Write(p)
	}
	a.partial.Write(p)
	for {
		line, err := a.partial.ReadString('\n')
		if err == io.EOF {
			a.partial.WriteString(line) // an unfinished line waits for its end
			return len(p), nil
		}
		a.lines = append(a.lines, strings.TrimSuffix(line, "\n"))
	}
}

// Lines returns the lines the agent wrote from index from on.
func (a *Agent) Lines(from int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if from > len(a.lines) {
		return nil
	}
	return append([]string(nil), a.lines[from:]...)
}

// LineCount is how many lines the agent has written.
func (a *Agent) LineCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.lines)
}

// Output is everything the agent wrote.
func (a *Agent) Output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, l := range a.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.Write(a.partial.Bytes())
	return b.String()
}

// Tail is the agent's last n lines, for an error message.
func (a *Agent) Tail(n int) string {
	l := a.Lines(0)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, "\n")
}

// Done is closed once the agent has exited.
func (a *Agent) Done() <-chan struct{} { return a.done }

// Err is the agent's exit (nil for status 0); call it once Done is closed.
func (a *Agent) Err() error {
	<-a.done
	return a.waitErr
}

// Exited returns an error once the agent has stopped, nil while it runs.
func (a *Agent) Exited() error {
	select {
	case <-a.done:
		if a.waitErr == nil {
			return errors.New("the agent exited with status 0")
		}
		return fmt.Errorf("the agent exited: %v", a.waitErr)
	default:
		return nil
	}
}

// Signal sends sig to the agent.
func (a *Agent) Signal(sig os.Signal) error { return a.Cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to within for the agent to exit, then
// kills it. It returns an error unless the agent exited 0 in time.
func (a *Agent) Stop(within time.Duration) error {
	select {
	case <-a.done:
		return a.waitErr
	default:
	}
	a.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		if a.waitErr != nil {
			return fmt.Errorf("it did not exit cleanly on SIGTERM: %v", a.waitErr)
		}
		return nil
	case <-time.After(within):
		a.Cmd.Process.Kill()
		<-a.done
		return fmt.Errorf("did not stop within %s of SIGTERM; killed", within)
	}
}

// Kill ends the agent at once and waits for it.
func (a *Agent) Kill() {
	a.Cmd.Process.Kill()
	<-a.done
}
