// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// TestToolsDoNotInheritSettings runs a real child through Run, as the
// backends run netplan, networkctl and nmcli, with the environment systemd
// gives the service (EnvironmentFile= puts every key of config.env there):
// the child sees none of the agent's settings, the password least of all,
// and still gets the rest (PATH, D-Bus address, locale).
func TestToolsDoNotInheritSettings(t *testing.T) {
	const secret = "pw-that-must-not-leak-7f3a"
	t.Setenv("DB_PASSWORD", secret)
	t.Setenv("DB_USER", "agent")
	t.Setenv("DB_HOST", "db.example")
	t.Setenv("NODE_NAME", "node1")
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/host/run/dbus/system_bus_socket")
	out := filepath.Join(t.TempDir(), "env")
	if err := netconf.Run(context.Background(), "sh", "-c", "env > "+out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	if strings.Contains(env, secret) {
		t.Fatalf("the child's environment holds DB_PASSWORD's value:\n%s", env)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(env, "\n") {
		k, _, _ := strings.Cut(line, "=")
		seen[k] = true
	}
	for _, k := range append(config.Keys(), "NOTIFY_SOCKET") {
		if seen[k] {
			t.Errorf("the child inherited %s", k)
		}
	}
	for _, k := range []string{"PATH", "DBUS_SYSTEM_BUS_ADDRESS"} {
		if !seen[k] {
			t.Errorf("the child lost %s, which the tools need", k)
		}
	}
}

// TestEveryToolStartsThroughCommand reads the agent's source: a process
// started anywhere but netconf.Run and netconf.Output (through command)
// would inherit the password again.
func TestEveryToolStartsThroughCommand(t *testing.T) {
	root := filepath.Join("..", "..")
	self := filepath.Join(root, "internal", "netconf", "run_linux.go")
	var found []string
	for _, dir := range []string{"internal", filepath.Join("cmd", "agent")} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// The throwaway node starts namespaces and daemons for the
			// tests, the benchmarks and the demo, never for the agent.
			if d.IsDir() && (d.Name() == "testenv" || d.Name() == "harness") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || p == self {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				switch pkg.Name + "." + sel.Sel.Name {
				case "exec.Command", "exec.CommandContext", "os.StartProcess", "syscall.Exec", "syscall.ForkExec", "unix.Exec":
					found = append(found, fset.Position(call.Pos()).String()+": "+pkg.Name+"."+sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range found {
		t.Errorf("%s starts a process without netconf.Run or netconf.Output (the child would inherit DB_PASSWORD)", f)
	}
}
