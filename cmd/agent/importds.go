// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/atomicfile"
	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/daemonsetenv"
	"github.com/multinic-agent/multinic-agent/internal/envfile"
)

const importSummary = "Write config.env from the previous multinic-agent's DaemonSet: read it with its Secrets and ConfigMaps as `kubectl get daemonset,secret,configmap -n NAMESPACE -o yaml` prints them, resolve its environment as the kubelet does, and write the keys this agent reads (the password included, so nothing is retyped)"

func runImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("multinic-agent import-daemonset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "-", "the `file` kubectl printed (- for standard input)")
	output := fs.String("output", "-", "config.env `file` to create with mode 0600 (- for standard output)")
	force := fs.Bool("force", false, "replace --output if it exists")
	dsName := fs.String("daemonset", "", "the DaemonSet `name`, when the input has several")
	container := fs.String("container", "", "the container `name`, when the DaemonSet has several")
	fs.String("config", "", "accepted for uniformity; import-daemonset reads no configuration")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kubectl get daemonset,secret,configmap -n NAMESPACE -o yaml | multinic-agent import-daemonset [--output /etc/multinic-agent/config.env] [flags]\n\n%s.\n\nFlags:\n", importSummary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "multinic-agent import-daemonset: %v\n", err)
		return 2
	}
	var in io.Reader = os.Stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		in = f
	}
	env, err := daemonsetenv.Read(in, *dsName, *container)
	if err != nil {
		return fail(err)
	}
	content, err := configEnv(env)
	if err != nil {
		return fail(err)
	}
	if err := checkConfigEnv(content); err != nil {
		return fail(fmt.Errorf("the DaemonSet's settings are not valid for this agent: %w; fix the value in the output by hand", err))
	}
	if *output == "-" {
		stdout.Write(content)
		return 0
	}
	if _, err := os.Stat(*output); err == nil && !*force {
		return fail(fmt.Errorf("%s exists; compare it with the output on standard output, or pass --force to replace it", *output))
	}
	if err := atomicfile.Write(*output, content, 0o600); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "wrote %s (mode 0600) from DaemonSet %s/%s; check it, then run multinic-agent doctor\n", *output, env.Namespace, env.DaemonSet)
	return 0
}

// configEnv writes env as a config.env: the keys this agent reads as
// settings, everything else as comments saying why it is left out.
func configEnv(env daemonsetenv.Env) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# multinic-agent configuration, written by `multinic-agent import-daemonset`\n")
	fmt.Fprintf(&b, "# from DaemonSet %s/%s (container %s) of the previous multinic-agent.\n", env.Namespace, env.DaemonSet, env.Container)
	fmt.Fprintf(&b, "# Keys: deployments/systemd/config.env.template and docs/daemon.md.\n")
	keys := config.Keys()
	for _, v := range env.Vars {
		if v.From != "the DaemonSet" || !slices.Contains(keys, v.Name) || (v.Name == "DB_HOST" && clusterName(v.Value)) {
			b.WriteString("\n") // a blank line before each comment
		}
		switch {
		case v.Name == "NODE_NAME" && v.Field != "":
			fmt.Fprintf(&b, "# NODE_NAME came from %s, the Kubernetes node name. Unset, the agent\n", v.From)
			b.WriteString("# matches the rows of this host's name, short or full, which is the node\n")
			b.WriteString("# name on most clusters; if `kubectl get nodes` names this node otherwise,\n")
			b.WriteString("# set it here.\n#NODE_NAME=\n")
			continue
		case v.Field != "":
			fmt.Fprintf(&b, "# %s came from %s, which a host daemon does not have; left out.\n", v.Name, v.From)
			continue
		case config.PreviousKeys[v.Name] != "":
			fmt.Fprintf(&b, "# %s (from %s) is left out: %s.\n", v.Name, v.From, config.PreviousKeys[v.Name])
			continue
		case !slices.Contains(keys, v.Name):
			fmt.Fprintf(&b, "# %s (from %s) is not a multinic-agent setting; left out.\n", v.Name, v.From)
			continue
		}
		q, err := envfile.Quote(v.Value)
		if err != nil {
			return nil, fmt.Errorf("%s (from %s): %w", v.Name, v.From, err)
		}
		if v.From != "the DaemonSet" {
			fmt.Fprintf(&b, "# from %s\n", v.From)
		}
		if v.Name == "DB_HOST" && clusterName(v.Value) {
			fmt.Fprintf(&b, "# %s is a name inside the cluster, which a node's own resolver usually\n# does not know: write the address at which this node reaches the database.\n", v.Value)
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Name, q)
	}
	return b.Bytes(), nil
}

// clusterName reports whether host is a Kubernetes service name.
func clusterName(host string) bool {
	return strings.HasSuffix(host, ".svc") || strings.Contains(host, ".svc.") || (host != "localhost" && !strings.ContainsAny(host, ".:"))
}

// checkConfigEnv loads content as the agent would, from a file alone.
func checkConfigEnv(content []byte) error {
	dir, err := os.MkdirTemp("", "multinic-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.env")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return err
	}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	flags := config.RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", path}); err != nil {
		return err
	}
	_, err = config.Load(flags, func(string) (string, bool) { return "", false })
	return err
}
