package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/config"
	"github.com/multinic-agent/multinic-agent/internal/ifcfg"
	"github.com/multinic-agent/multinic-agent/internal/keyfile"
	"github.com/multinic-agent/multinic-agent/internal/links"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
	"github.com/multinic-agent/multinic-agent/internal/osrelease"
	"github.com/multinic-agent/multinic-agent/internal/probe"
	"github.com/multinic-agent/multinic-agent/internal/reconcile"
	"github.com/multinic-agent/multinic-agent/internal/store"
)

// errHelp is returned by loadConfig when --help was printed.
var errHelp = errors.New("help shown")

// loadConfig parses a command's flags and loads the configuration.
func loadConfig(name, summary string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("multinic-agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: multinic-agent %s [--config FILE] [flags]\n\n%s.\n\nFlags (each also an environment variable or config file key, e.g. --db-host is DB_HOST):\n", name, summary)
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

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// backends returns the backend to write with and the others, whose files
// are still read so that a node moved between backends keeps no stale file.
func backends(cfg *config.Config) (netconf.Backend, []netconf.Backend, osrelease.Info, error) {
	all := []netconf.Backend{netplan.Backend{}, ifcfg.Backend{}, keyfile.Backend{}, networkd.Backend{}}
	info, err := osrelease.Read(cfg.Path(osrelease.Path))
	name := cfg.NetworkBackend
	if name == "auto" {
		if err != nil {
			return nil, nil, info, fmt.Errorf("cannot detect the OS to pick a network backend (%v); set NETWORK_BACKEND to netplan, ifcfg, keyfile or networkd", err)
		}
		if name = info.Backend(); name == "" {
			return nil, nil, info, fmt.Errorf("no network backend known for OS %q (ID=%s ID_LIKE=%s); set NETWORK_BACKEND to netplan, ifcfg, keyfile or networkd", info.PrettyName, info.ID, strings.Join(info.IDLike, " "))
		}
	}
	var chosen netconf.Backend
	var others []netconf.Backend
	for _, b := range all {
		if b.Name() == name {
			chosen = b
		} else {
			others = append(others, b)
		}
	}
	if chosen == nil {
		return nil, nil, info, fmt.Errorf("NETWORK_BACKEND=%s is not a known backend", name)
	}
	return chosen, others, info, nil
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
	a := &agent{cfg: cfg, log: log}
	for _, k := range cfg.Unknown {
		log.Warn("unknown key in the config file; check its spelling", "key", k, "file", cfg.File)
	}
	backend, others, info, err := backends(cfg)
	if err != nil {
		return nil, err
	}
	a.os = info
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
	dbHost := cfg.DBHost
	if cfg.DBSocket != "" {
		dbHost = ""
	}
	a.rec = &reconcile.Reconciler{
		Store:          a.store,
		Links:          a.links,
		Backend:        backend,
		Others:         others,
		Root:           cfg.RootDir,
		ProtectedNames: cfg.ProtectedInterfaces,
		DBHost:         dbHost,
		Activate:       cfg.Activate == "auto",
		Concurrency:    cfg.MaxConcurrentTasks,
		Probe:          probe.Echo,
		Log:            log,
	}
	if cfg.BackoffEnabled {
		a.rec.Backoff = reconcile.Backoff{Base: cfg.PollInterval, Max: cfg.BackoffMaxInterval, Multiplier: cfg.BackoffMultiplier}
	}
	a.nodes = nodes
	log.Info("Operating system detected", "os", info.PrettyName, "os_id", info.ID, "version", info.VersionID, "backend", backend.Name(), "nodes", nodes)
	return a, nil
}
