// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/backends"
	"github.com/multinic-agent/multinic-agent/internal/claims"
	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/detect"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netmon"
	"github.com/multinic-agent/multinic-agent/internal/osrelease"
	"github.com/multinic-agent/multinic-agent/internal/prevagent"
	"github.com/multinic-agent/multinic-agent/internal/probe"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// passwordHelp is how --help tells where the database password comes from.
const passwordHelp = "The database password is DB_PASSWORD in the config file (keep it mode 0600) or in the environment; there is no flag for it, since flags show in the process list."

// errHelp is returned by loadConfig when --help was printed.
var errHelp = errors.New("help shown")

// loadConfig parses a command's flags and loads the configuration.
func loadConfig(name, summary string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("multinic-agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: multinic-agent %s [--config FILE] [flags]\n\n%s.\n\n%s\n\nFlags (each also an environment variable or config file key, e.g. --db-host is DB_HOST):\n", name, summary, passwordHelp)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags are --name=value)", fs.Arg(0))
	}
	return config.Load(flags, os.LookupEnv)
}

// commandConfig is loadConfig for a command that stops on a bad
// configuration: nil and the exit status (0 after --help, errCode after
// an error, said on stderr) when it must stop.
func commandConfig(name, summary string, args []string, stderr io.Writer, errCode int) (*config.Config, int) {
	cfg, err := loadConfig(name, summary, args, stderr)
	switch {
	case errors.Is(err, errHelp):
		return nil, 0
	case err != nil:
		fmt.Fprintf(stderr, "multinic-agent %s: %v\n", name, err)
		return nil, errCode
	}
	return cfg, 0
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// stack is the node's network configuration as the agent sees it.
type stack struct {
	// backend is the one to write with; others are still read, so that a
	// node moved between backends keeps no stale file.
	backend netconf.Backend
	others  []netconf.Backend
	os      osrelease.Info
	// evidence says what chose the backend.
	evidence string
	// atBoot says why the backend's files would not be read at the next
	// boot (nil when they would).
	atBoot error
	// read are the families of configuration that take effect on the node.
	read map[string]bool
}

// networkStack finds what manages the node's network (NETWORK_BACKEND=auto)
// or takes the configured backend, and checks that its files take effect.
func networkStack(cfg *config.Config) (stack, error) {
	info, osErr := osrelease.Read(cfg.RootDir.Path(osrelease.Path))
	node := detect.Inspect(cfg.RootDir, info)
	st := stack{os: info}
	name := cfg.NetworkBackend
	if name == "auto" {
		res, err := node.Choose()
		if err != nil {
			if osErr != nil {
				err = fmt.Errorf("%w (%v)", err, osErr)
			}
			return st, fmt.Errorf("%w; set NETWORK_BACKEND to one of %s", err, strings.Join(backends.Names(), ", "))
		}
		name, st.evidence = res.Backend, res.Evidence
	} else {
		st.evidence = "NETWORK_BACKEND=" + name
	}
	for _, b := range backends.All() {
		if b.Name() == name {
			st.backend = b
		} else {
			st.others = append(st.others, b)
		}
	}
	if st.backend == nil {
		return st, fmt.Errorf("NETWORK_BACKEND=%s is not a known backend", name)
	}
	st.atBoot = node.AtBoot(name)
	st.read = claims.Read(name, node.NetplanRenderer, node.ActiveFamilies()...)
	return st, nil
}

// agent is what every command that reconciles needs.
type agent struct {
	cfg   *config.Config
	log   *slog.Logger
	rec   *reconcile.Reconciler
	store *store.Store
	links *links.Handle
	os    osrelease.Info
	nodes []string
}

func (a *agent) Close() {
	if a.store != nil {
		a.store.Close()
	}
	if a.links != nil {
		a.links.Close()
	}
}

// newAgent opens what a reconcile needs. observe, when set, is told the
// duration of every database statement.
func newAgent(cfg *config.Config, log *slog.Logger, observe func(string, time.Duration)) (*agent, error) {
	if err := cfg.CheckDatabase(); err != nil {
		return nil, err
	}
	a := &agent{cfg: cfg, log: log}
	for _, k := range cfg.Unknown {
		log.Warn("unknown key in the config file; check its spelling", "key", k, "file", cfg.File)
	}
	for _, why := range cfg.Ignored {
		log.Warn("line of the config file ignored; fix it", "why", why)
	}
	for _, k := range cfg.Previous {
		log.Warn("key of the previous multinic-agent in the config file, ignored; delete the line", "key", k, "file", cfg.File, "why", config.PreviousKeys[k])
	}
	st, err := networkStack(cfg)
	if err != nil {
		return nil, err
	}
	a.os = st.os
	nodes, err := cfg.NodeNames()
	if err != nil {
		return nil, err
	}
	a.store, err = store.Open(store.Options{
		Host: cfg.DBHost, Port: cfg.DBPort, Socket: cfg.DBSocket,
		User: cfg.DBUser, Password: cfg.DBPassword, Name: cfg.DBName,
		TLS: cfg.DBTLS, TLSCA: cfg.DBTLSCA,
		MaxOpen: cfg.DBMaxOpenConns, MaxIdle: cfg.DBMaxIdleConns, MaxLifetime: cfg.DBMaxLifetime,
		Observe: observe, Log: log,
	}, nodes)
	if err != nil {
		return nil, err
	}
	if a.links, err = links.Open(); err != nil {
		a.Close()
		return nil, err
	}
	// A DaemonSet binds the host's IPv6 settings under ROOT_DIR: its own
	// /proc/sys is read-only.
	if sys := cfg.RootDir.Path("/proc/sys"); !cfg.RootDir.Host() {
		if _, err := os.Stat(filepath.Join(sys, "net/ipv6/conf")); err == nil {
			a.links.SetSysctlRoot(sys)
		}
	}
	dbHost := cfg.DBHost
	if cfg.DBSocket != "" {
		dbHost = ""
	}
	a.rec = &reconcile.Reconciler{
		Store:          a.store,
		Links:          a.links,
		Kernel:         netmon.New(a.links),
		Backend:        st.backend,
		Others:         st.others,
		Root:           cfg.RootDir,
		ProtectedNames: cfg.ProtectedInterfaces,
		DBHost:         dbHost,
		Activate:       cfg.Activate == "auto",
		ClaimsRead:     st.read,
		Concurrency:    cfg.MaxConcurrentTasks,
		Probe:          probe.Echo,
		Log:            log,
	}
	if cfg.BackoffEnabled {
		a.rec.Backoff = reconcile.Backoff{Base: cfg.PollInterval, Max: cfg.BackoffMaxInterval, Multiplier: cfg.BackoffMultiplier}
	}
	a.nodes = nodes
	log.Info("Operating system detected", "os", st.os.PrettyName, "os_id", st.os.ID, "version", st.os.VersionID, "backend", st.backend.Name(), "evidence", st.evidence, "nodes", nodes)
	if st.atBoot != nil {
		log.Warn("the backend's files would not be read at the next boot; the live state is set now, but a reboot would lose it", "backend", st.backend.Name(), "error", st.atBoot)
	}
	return a, nil
}

// previousAgent returns an error naming every previous multinic-agent
// still running on the node, and the step that stops it.
func previousAgent() error {
	prev, err := prevagent.Find("/proc")
	if err != nil || len(prev) == 0 {
		return nil
	}
	var errs []error
	for _, p := range prev {
		errs = append(errs, errors.New(p.Sentence()))
	}
	return errors.Join(errs...)
}
