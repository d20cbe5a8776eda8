// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// previousAgentSource stands in for the previous generation of
// multinic-agent as the node sees it: a Go program of main module
// "multinic-agent", named multinic-agent, holding its health port.
const previousAgentSource = `package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	ln, err := net.Listen("tcp", os.Getenv("LISTEN"))
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	time.Sleep(time.Hour)
}
`

// PreviousAgent builds the stand-in for the previous agent and returns
// the path of its binary.
func PreviousAgent(t testing.TB) string {
	t.Helper()
	RequireTool(t, "go")
	dir := t.TempDir()
	for name, content := range map[string]string{"go.mod": "module multinic-agent\n\ngo 1.22\n", "main.go": previousAgentSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin", "multinic-agent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the previous agent's stand-in: %v\n%s", err, out)
	}
	return bin
}

// StartPreviousAgent runs the stand-in (inside the namespace when ns is
// not nil) listening on listen (host:port), until the test ends. It
// returns the process and the port it holds.
func StartPreviousAgent(t testing.TB, ns *Netns, listen string) (*exec.Cmd, int) {
	t.Helper()
	bin := PreviousAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Exec(ctx, []string{"LISTEN=" + listen}, bin)
	} else {
		cmd = exec.CommandContext(ctx, bin)
		cmd.Env = append(os.Environ(), "LISTEN="+listen)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the previous agent's stand-in did not start: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return cmd, port
}
