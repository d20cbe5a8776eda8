// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package config loads the agent's settings from defaults, a KEY=VALUE file,
// the environment and command-line flags, in rising order of precedence.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multinic-agent/multinic-agent/internal/backends"
	"github.com/multinic-agent/multinic-agent/internal/envfile"
	"github.com/multinic-agent/multinic-agent/internal/rootfs"
)

// DefaultFile is read when --config is not given; its absence is not an error.
const DefaultFile = "/etc/multinic-agent/config.env"

// Config is the parsed, validated configuration.
type Config struct {
	DBHost, DBSocket, DBUser, DBPassword, DBName string
	DBPort                                       int
	DBTLS, DBTLSCA                               string
	DBMaxOpenConns, DBMaxIdleConns               int
	DBMaxLifetime                                time.Duration

	PollInterval time.Duration
	// PollJitter is the fraction (0 to 0.5) by which each interval is spread.
	PollJitter float64

	BackoffEnabled     bool
	BackoffMaxInterval time.Duration
	BackoffMultiplier  float64

	MaxConcurrentTasks int

	LogLevel  slog.Level
	LogFormat string

	HealthPort int
	HealthAddr string
	// ReconcileToken turns POST /reconcile on ("" leaves it off).
	ReconcileToken string

	// NodeName is the explicit NODE_NAME; empty means the hostname.
	NodeName            string
	NetworkBackend      string
	RootDir             rootfs.Root
	ProtectedInterfaces []string
	Activate            string
	LockFile            string

	// File is the config file that was read ("" when none was).
	File string
	// Unknown lists keys of the config file that the agent does not know,
	// sorted; Previous those of the previous generation of multinic-agent
	// (see PreviousKeys), which are accepted and ignored.
	Unknown, Previous []string
	// Ignored says which lines of the config file were ignored, as systemd
	// ignores them (no "=", an invalid name), without quoting them.
	Ignored []string

	// fileMode is the config file's permission bits; fileSecrets the
	// secret keys (DB_PASSWORD, RECONCILE_TOKEN) it gives a value.
	fileMode    fs.FileMode
	fileSecrets []string
}

// PreviousKeys are the keys only the previous generation of multinic-agent
// read, each with what replaced it: a config.env carried over from it
// starts with a warning per key, not an error.
var PreviousKeys = map[string]string{
	"MAX_RETRIES":     "replaced by the per-row backoff (BACKOFF_ENABLED, BACKOFF_MULTIPLIER, BACKOFF_MAX_INTERVAL): a failing row is retried until it converges",
	"RETRY_DELAY":     "replaced by the per-row backoff: a failing row waits POLL_INTERVAL × BACKOFF_MULTIPLIER^failures, at most BACKOFF_MAX_INTERVAL",
	"COMMAND_TIMEOUT": "no longer needed: every tool the agent runs has its own time limit",
	"BACKUP_DIR":      "no longer needed: the agent keeps the previous agent's files it replaces under ROOT_DIR/var/lib/multinic-agent/previous-agent",
}

type key struct {
	name string
	def  string
	help string
	set  func(c *Config, v string) error
}

var keys = []key{
	{"DB_HOST", "localhost", "MySQL/MariaDB host", func(c *Config, v string) error { c.DBHost = v; return nil }},
	{"DB_PORT", "3306", "MySQL/MariaDB TCP port", intIn(1, 65535, func(c *Config, n int) { c.DBPort = n })},
	{"DB_SOCKET", "", "unix socket of a local server, used instead of DB_HOST/DB_PORT", func(c *Config, v string) error { c.DBSocket = v; return nil }},
	{"DB_USER", "", "database user", func(c *Config, v string) error { c.DBUser = v; return nil }},
	{"DB_PASSWORD", "", "database password (never logged)", func(c *Config, v string) error { c.DBPassword = v; return nil }},
	{"DB_NAME", "multinic", "database (schema) name", func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		c.DBName = v
		return nil
	}},
	{"DB_TLS", "false", "false, true, skip-verify or preferred", oneOf(func(c *Config, v string) { c.DBTLS = v }, "false", "true", "skip-verify", "preferred")},
	{"DB_TLS_CA", "", "CA certificate file for DB_TLS=true", func(c *Config, v string) error { c.DBTLSCA = v; return nil }},
	{"DB_MAX_OPEN_CONNS", "10", "connection pool size", intIn(1, 1000, func(c *Config, n int) { c.DBMaxOpenConns = n })},
	{"DB_MAX_IDLE_CONNS", "5", "idle connections kept", intIn(0, 1000, func(c *Config, n int) { c.DBMaxIdleConns = n })},
	{"DB_MAX_LIFETIME", "5m", "maximum lifetime of a connection", durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.DBMaxLifetime = d })},
	{"POLL_INTERVAL", "30s", "time between reconciles", durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.PollInterval = d })},
	{"POLL_JITTER", "10%", "random spread of each interval, 0% to 50%", parseJitter},
	{"BACKOFF_ENABLED", "true", "exponential backoff after failed cycles", boolean(func(c *Config, b bool) { c.BackoffEnabled = b })},
	{"BACKOFF_MAX_INTERVAL", "5m", "longest interval reached by backoff", durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.BackoffMaxInterval = d })},
	{"BACKOFF_MULTIPLIER", "2", "growth factor of backoff (1 to 10)", parseMultiplier},
	{"MAX_CONCURRENT_TASKS", "5", "interfaces applied in parallel (1 to 10)", intIn(1, 10, func(c *Config, n int) { c.MaxConcurrentTasks = n })},
	{"LOG_LEVEL", "info", "debug, info, warn or error", parseLevel},
	{"LOG_FORMAT", "json", "json or text", oneOf(func(c *Config, v string) { c.LogFormat = v }, "json", "text")},
	{"HEALTH_PORT", "8080", "health and metrics port (0 turns the listener off)", intIn(0, 65535, func(c *Config, n int) { c.HealthPort = n })},
	{"HEALTH_ADDR", "", "health and metrics address (empty: all addresses)", func(c *Config, v string) error { c.HealthAddr = v; return nil }},
	{"RECONCILE_TOKEN", "", "bearer token that turns on POST /reconcile on the health port (never logged; empty: off)", parseToken},
	{"NODE_NAME", "", "attached_node_name to match (default: the hostname, short or full)", func(c *Config, v string) error { c.NodeName = v; return nil }},
	{"NETWORK_BACKEND", "auto", "auto (what manages the node's network), " + strings.Join(backends.Names(), ", "), oneOf(func(c *Config, v string) { c.NetworkBackend = v }, append([]string{"auto"}, backends.Names()...)...)},
	{"ROOT_DIR", "/", "prefix of every file read or written", parseRoot},
	{"PROTECTED_INTERFACES", "", "comma-separated link names never touched", parseProtected},
	{"ACTIVATE", "auto", "auto (run the backend's tools) or none (netlink only)", oneOf(func(c *Config, v string) { c.Activate = v }, "auto", "none")},
	{"LOCK_FILE", "/run/multinic-agent.lock", "single-instance lock (under ROOT_DIR)", func(c *Config, v string) error {
		if !filepath.IsAbs(v) {
			return errors.New("must be an absolute path")
		}
		c.LockFile = v
		return nil
	}},
}

// Keys returns the configuration key names in documentation order.
func Keys() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// FlagName is the command-line flag for a key: DB_HOST → db-host.
func FlagName(key string) string {
	return strings.ToLower(strings.ReplaceAll(key, "_", "-"))
}

// Flags registers --config and one flag per key (but the secrets, which must
// not appear in a process list) on fs. Call Load with the same Flags after
// fs.Parse.
type Flags struct {
	fs     *flag.FlagSet
	config *string
	values map[string]*string
}

// RegisterFlags adds the configuration flags to fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, values: make(map[string]*string)}
	f.config = fs.String("config", DefaultFile, "KEY=VALUE configuration `file`")
	for _, k := range keys {
		if secret[k.name] {
			continue
		}
		f.values[k.name] = fs.String(FlagName(k.name), "", fmt.Sprintf("%s (%s; default %q)", k.help, k.name, k.def))
	}
	return f
}

// Load merges defaults, the config file, the environment (getenv) and the
// flags that were set, and validates every value.
func Load(f *Flags, getenv func(string) (string, bool)) (*Config, error) {
	setFlags := map[string]bool{}
	configExplicit := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "config" {
			configExplicit = true
			return
		}
		setFlags[fl.Name] = true
	})

	c := &Config{}
	file := map[string]string{}
	path := *f.config
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var ignored []envfile.Ignored
		file, ignored = envfile.Read(data)
		for _, i := range ignored {
			c.Ignored = append(c.Ignored, fmt.Sprintf("%s line %d: %s; systemd ignores the line, and so does the agent", path, i.Line, i.Why))
		}
		c.File = path
		for _, k := range Keys() {
			if secret[k] && file[k] != "" {
				c.fileSecrets = append(c.fileSecrets, k)
			}
		}
		if st, err := os.Stat(path); err == nil {
			c.fileMode = st.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist) && !configExplicit:
	default:
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}

	known := map[string]bool{}
	for _, k := range keys {
		known[k.name] = true
		v, src := k.def, "default"
		if fv, ok := file[k.name]; ok {
			v, src = fv, "config file "+path
		}
		if ev, ok := getenv(k.name); ok {
			v, src = ev, "environment"
		}
		if p := f.values[k.name]; p != nil && setFlags[FlagName(k.name)] {
			v, src = *p, "flag --"+FlagName(k.name)
		}
		if err := k.set(c, strings.TrimSpace(v)); err != nil {
			shown := v
			if secret[k.name] {
				shown = "(hidden)"
			}
			return nil, fmt.Errorf("invalid %s=%q (from %s): %v", k.name, shown, src, err)
		}
	}
	for name := range file {
		switch {
		case known[name]:
		case PreviousKeys[name] != "":
			c.Previous = append(c.Previous, name)
		default:
			c.Unknown = append(c.Unknown, name)
		}
	}
	slices.Sort(c.Unknown)
	slices.Sort(c.Previous)
	if c.DBMaxIdleConns > c.DBMaxOpenConns {
		return nil, fmt.Errorf("invalid DB_MAX_IDLE_CONNS=%d: must not exceed DB_MAX_OPEN_CONNS=%d", c.DBMaxIdleConns, c.DBMaxOpenConns)
	}
	if c.DBTLSCA != "" && c.DBTLS != "true" {
		return nil, fmt.Errorf("invalid DB_TLS_CA=%q: only used with DB_TLS=true (DB_TLS is %q)", c.DBTLSCA, c.DBTLS)
	}
	return c, nil
}

// CheckDatabase reports a database setting that cannot work, for the
// commands that connect: an empty DB_USER (there is no default user).
func (c *Config) CheckDatabase() error {
	if c.DBUser == "" {
		where := "in " + DefaultFile
		if c.File != "" {
			where = "in " + c.File
		}
		return fmt.Errorf("DB_USER is not set: set it %s or in the environment to the database user the agent connects as", where)
	}
	return nil
}

// PermissionWarning returns a sentence when the config file gives
// DB_PASSWORD (or RECONCILE_TOKEN) a value and group or others may read
// it; "" otherwise.
func (c *Config) PermissionWarning() string {
	if c.File == "" || len(c.fileSecrets) == 0 || c.fileMode&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("config file %s holds %s but is mode %04o, readable by group or others: run chmod 600 %s", c.File, strings.Join(c.fileSecrets, " and "), c.fileMode, c.File)
}

// NodeNames returns the attached_node_name values that belong to this node:
// NODE_NAME alone when set, otherwise the hostname in its full and short form.
func (c *Config) NodeNames() ([]string, error) {
	if c.NodeName != "" {
		return []string{c.NodeName}, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return nil, fmt.Errorf("cannot determine the hostname (%v): set NODE_NAME", err)
	}
	names := []string{host}
	if short, _, ok := strings.Cut(host, "."); ok && short != "" {
		names = append(names, short)
	}
	return names, nil
}

func intIn(lo, hi int, set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		set(c, n)
		return nil
	}
}

func durationIn(lo, hi time.Duration, set func(*Config, time.Duration)) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (examples: 30s, 5m)")
		}
		if d < lo || d > hi {
			return fmt.Errorf("must be between %s and %s", lo, hi)
		}
		set(c, d)
		return nil
	}
}

func boolean(set func(*Config, bool)) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "true", "yes", "on", "1":
			set(c, true)
		case "false", "no", "off", "0":
			set(c, false)
		default:
			return errors.New("must be true or false")
		}
		return nil
	}
}

func oneOf(set func(*Config, string), allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				set(c, a)
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

func parseJitter(c *Config, v string) error {
	s := strings.TrimSuffix(v, "%")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return errors.New("not a percentage (examples: 10%, 0)")
	}
	if f < 0 || f > 50 {
		return errors.New("must be between 0% and 50%")
	}
	c.PollJitter = f / 100
	return nil
}

func parseMultiplier(c *Config, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return errors.New("not a number")
	}
	if f < 1 || f > 10 {
		return errors.New("must be between 1 and 10")
	}
	c.BackoffMultiplier = f
	return nil
}

func parseLevel(c *Config, v string) error {
	switch strings.ToLower(v) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return errors.New("must be debug, info, warn or error")
	}
	return nil
}

func parseRoot(c *Config, v string) error {
	if !filepath.IsAbs(v) {
		return errors.New("must be an absolute path")
	}
	c.RootDir = rootfs.Root(filepath.Clean(v))
	return nil
}

// secret are the keys whose values are never shown (errors, logs,
// doctor) and never flags (a process list shows flags).
var secret = map[string]bool{"DB_PASSWORD": true, "RECONCILE_TOKEN": true}

// IsSecret reports whether key's value must never be shown.
func IsSecret(key string) bool { return secret[key] }

// minTokenLen is the shortest RECONCILE_TOKEN: it guards a network port.
const minTokenLen = 16

func parseToken(c *Config, v string) error {
	switch {
	case v == "":
	case len(v) < minTokenLen:
		return fmt.Errorf("must be at least %d characters (for example: openssl rand -hex 32)", minTokenLen)
	case strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return errors.New("must not hold spaces or control characters")
	}
	c.ReconcileToken = v
	return nil
}

func parseProtected(c *Config, v string) error {
	c.ProtectedInterfaces = nil
	for _, name := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if len(name) > 15 || strings.ContainsAny(name, "/:") {
			return fmt.Errorf("%q is not a valid interface name", name)
		}
		c.ProtectedInterfaces = append(c.ProtectedInterfaces, name)
	}
	return nil
}
