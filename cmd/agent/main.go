// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Command multinic-agent configures the secondary NICs a cloud controller
// recorded for this node in MySQL/MariaDB. See README.md and SPEC.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "the daemon: reconcile every POLL_INTERVAL and on kernel changes until SIGTERM (the default command)", runDaemon},
		{"once", "reconcile once, then exit (0 converged, 1 some row failed, 2 config/DB error)", runOnce},
		{"plan", "print what a reconcile would change, change nothing (0 in sync, 2 changes pending, 1 error or a row that cannot be applied)", runPlan},
		{"status", "table of this node's rows against the live state (0 all configured, 1 not or no rows for this node, 2 error)", runStatus},
		{"reconcile", "ask the running daemon for a cycle now and print its result (exit status as once; 2 also when no daemon runs)", runReconcile},
		{"doctor", "check config, database, grants, node name, OS/backend, privileges, dirs, health port (0 all pass, 1 some fail)", runDoctor},
		{"import-daemonset", "write config.env from the previous multinic-agent's DaemonSet and Secret (kubectl get -o yaml | ...)", runImport},
		{"version", "print version, commit and Go version", runVersion},
	}
}

func main() {
	// A closed standard output (the terminal or pipe of `once` gone) makes
	// writes fail instead of killing the agent in the middle of a change.
	// A handler, unlike ignoring it, is not inherited by the tools it runs.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runDaemon(nil, stdout, stderr)
	}
	name := args[0]
	switch {
	case name == "-h" || name == "--help" || name == "help":
		usage(stdout)
		return 0
	case strings.HasPrefix(name, "-"):
		return runDaemon(args, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "multinic-agent: unknown command %q; run multinic-agent --help for the list.\n", name)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: multinic-agent [COMMAND] [--config FILE] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --help. Settings come from flags, then the environment,")
	fmt.Fprintln(w, "then --config FILE (default /etc/multinic-agent/config.env), then defaults.")
	fmt.Fprintln(w, passwordHelp)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	// --config is accepted as on every command; version reads no settings.
	fs := flag.NewFlagSet("multinic-agent version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "accepted for uniformity; version reads no configuration")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: multinic-agent version\n\nPrint the version, the commit and the Go version.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "multinic-agent version: takes no arguments.")
		return 2
	}
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(stdout, "multinic-agent %s\ncommit %s\n%s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
