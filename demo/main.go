// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Command multinic-demo shows multinic-agent at work without a database or
// spare NICs: it serves the shipped schema and sample rows from an embedded
// MySQL-protocol server (go-mysql-server), makes a throwaway network
// namespace whose veth NICs carry the rows' MACs, runs the real agent
// binary as a daemon inside it, and walks through what the agent does,
// observing each result. It cleans up on success, on failure and on
// SIGINT/SIGTERM; DEMO_KEEP=1 keeps everything up until Ctrl-C.
//
// Run it with `sudo ./scripts/demo.sh` (or `sudo make demo`), which builds
// the agent and this program. Exit status: 0 every step observed, 1 a step
// failed, 2 it could not start, 128+N interrupted by signal N.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(demo(os.Args[1:], os.Stdout, os.Stderr))
}

// interrupted is the cause of the tour's context when a signal ends it.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string {
	if s, ok := i.sig.(syscall.Signal); ok {
		return "interrupted by " + unix.SignalName(s)
	}
	return "interrupted by " + i.sig.String()
}

func demo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("multinic-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agent := fs.String("agent", "", "the multinic-agent binary to run (scripts/demo.sh builds it)")
	schema := fs.String("schema", "schema/schema.sql", "the schema file to load")
	timeout := fs.Duration("step-timeout", 15*time.Second, "how long each step may take to be observed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: multinic-demo -agent PATH [-schema FILE] [-step-timeout D]")
		fmt.Fprintln(stderr, "\nA scripted tour of multinic-agent in a throwaway network namespace, against an")
		fmt.Fprintln(stderr, "embedded MySQL-protocol server. Needs root and iproute2. DEMO_KEEP=1 keeps the")
		fmt.Fprintln(stderr, "namespace, the database and the agent up until Ctrl-C.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := preflight(*agent); err != nil {
		fmt.Fprintf(stderr, "multinic-demo: %v\n", err)
		return 2
	}
	keep := os.Getenv("DEMO_KEEP") == "1"

	// Signals stay caught until the end, so a second Ctrl-C does not cut
	// the cleanup short.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		for s := range sigs {
			cancel(interrupted{s})
		}
	}()

	dir, err := os.MkdirTemp("", "multinic-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "multinic-demo: cannot create a temporary directory: %v\n", err)
		return 2
	}
	t := &tour{out: stdout, agentBin: *agent, schema: *schema, timeout: *timeout, dir: dir}
	fmt.Fprintln(stdout, "multinic-agent demo: a database, a node with spare NICs and the agent, all throwaway.")
	err = t.Run(ctx)
	var status int
	var intr interrupted
	var failed *failure
	switch {
	case errors.As(err, &intr) && errors.As(err, &failed):
		fmt.Fprintf(stderr, "\nmultinic-demo: %v during step %s; cleaning up.\n", intr, failed.step)
		status = 130
		if s, ok := intr.sig.(syscall.Signal); ok {
			status = 128 + int(s)
		}
	case err != nil:
		fmt.Fprintf(stderr, "\nmultinic-demo: FAILED at %v\n", err)
		if t.agent != nil {
			fmt.Fprintf(stderr, "The agent's last log lines (DEMO_KEEP=1 keeps its whole log):\n%s\n", t.agent.Tail(15))
		}
		status = 1
	}
	if keep && ctx.Err() == nil {
		t.printKeep()
		<-ctx.Done()
		fmt.Fprintln(stdout)
	}
	t.cleanup(stdout, stderr)
	return status
}

// preflight checks what the demo needs, with a sentence saying what to do.
func preflight(agent string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root to create a network namespace; run: sudo ./scripts/demo.sh")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the ip command is missing; install iproute2 (scripts/demo.sh does)")
	}
	if agent == "" {
		return errors.New("-agent is required: the multinic-agent binary to run (scripts/demo.sh builds it)")
	}
	if st, err := os.Stat(agent); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("-agent %s is not an executable file; build it with: go build -o multinic-agent ./cmd/agent", agent)
	}
	return nil
}

// printKeep says how to reach what DEMO_KEEP=1 leaves up.
func (t *tour) printKeep() {
	w := t.out
	fmt.Fprintln(w, "\nDEMO_KEEP=1: the namespace, the database and the agent stay up until Ctrl-C.")
	if t.node != nil {
		fmt.Fprintf(w, "  the NICs       ip -n %s -br addr\n", t.node.Name)
		fmt.Fprintf(w, "  a shell        ip netns exec %s bash\n", t.node.Name)
		fmt.Fprintf(w, "  health         ip netns exec %s curl -s http://127.0.0.1:%s/   (and /metrics)\n", t.node.Name, healthPort)
	}
	if t.srv != nil {
		fmt.Fprintf(w, "  the database   mariadb --socket=%s -u root %s   (or mysql; no password)\n", t.srv.Socket, dbName)
	}
	if t.agent != nil {
		fmt.Fprintf(w, "  agent log      %s\n", t.agent.Log)
		fmt.Fprintf(w, "  agent files    %s\n", filepath.Join(t.dir, "root", "etc", "netplan"))
		env := fmt.Sprintf("DB_SOCKET=%s DB_USER=root NODE_NAME=%s ROOT_DIR=%s NETWORK_BACKEND=netplan", t.srv.Socket, nodeName, filepath.Join(t.dir, "root"))
		fmt.Fprintf(w, "  agent's plan   ip netns exec %s env %s %s plan --config %s\n", t.node.Name, env, t.agentBin, filepath.Join(t.dir, "config.env"))
	}
}

// cleanup stops and removes everything the tour set up, saying what.
func (t *tour) cleanup(stdout, stderr io.Writer) {
	var done []string
	report := func(doing, did string, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "multinic-demo: cleanup: %s: %v\n", doing, err)
			return
		}
		done = append(done, did)
	}
	if t.agent != nil {
		report("stopping the agent", "agent stopped", t.agent.Stop())
	}
	if t.node != nil {
		report("deleting namespace "+t.node.Name, "namespace "+t.node.Name+" deleted", t.node.Delete())
	}
	if t.db != nil {
		t.db.Close()
	}
	if t.srv != nil {
		t.srv.Close()
		done = append(done, "database stopped")
	}
	report("removing "+t.dir, t.dir+" removed", os.RemoveAll(t.dir))
	fmt.Fprintf(stdout, "Cleaned up: %s.\n", strings.Join(done, ", "))
}
