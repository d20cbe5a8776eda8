// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, file string, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	p := filepath.Join(t.TempDir(), "config.env")
	if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--config", p}, args...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestDefaults(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c, err := Load(RegisterFlags(fs), func(string) (string, bool) { return "", false })
	if err != nil && !strings.Contains(err.Error(), "config file") {
		t.Fatal(err)
	}
	if err != nil {
		t.Skip("a config file exists at", DefaultFile)
	}
	if c.DBHost != "localhost" || c.DBPort != 3306 || c.DBName != "multinic" || c.PollInterval != 30*time.Second ||
		c.PollJitter != 0.1 || !c.BackoffEnabled || c.BackoffMaxInterval != 5*time.Minute || c.BackoffMultiplier != 2 ||
		c.MaxConcurrentTasks != 5 || c.LogFormat != "json" || c.HealthPort != 8080 || c.NetworkBackend != "auto" ||
		c.RootDir != "/" || c.Activate != "auto" || c.LockFile != "/run/multinic-agent.lock" || c.DBMaxOpenConns != 10 ||
		c.DBMaxIdleConns != 5 || c.DBMaxLifetime != 5*time.Minute || c.DBTLS != "false" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	file := "DB_HOST=file-host\nDB_PORT=3307\nNODE_NAME=file-node\n"
	c, err := load(t, file, map[string]string{"DB_PORT": "3308", "NODE_NAME": "env-node"}, "--node-name=flag-node")
	if err != nil {
		t.Fatal(err)
	}
	if c.DBHost != "file-host" || c.DBPort != 3308 || c.NodeName != "flag-node" {
		t.Errorf("got host %s port %d node %s", c.DBHost, c.DBPort, c.NodeName)
	}
}

func TestBadValuesNameKeyAndValue(t *testing.T) {
	for key, val := range map[string]string{
		"DB_PORT": "70000", "POLL_INTERVAL": "soon", "POLL_JITTER": "60%", "BACKOFF_ENABLED": "maybe",
		"BACKOFF_MULTIPLIER": "0.5", "MAX_CONCURRENT_TASKS": "0", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml",
		"HEALTH_PORT": "-1", "NETWORK_BACKEND": "wicked", "ROOT_DIR": "relative", "ACTIVATE": "sometimes",
		"DB_TLS": "maybe", "LOCK_FILE": "x.lock", "DB_MAX_LIFETIME": "0s", "PROTECTED_INTERFACES": "a/b",
	} {
		_, err := load(t, "", map[string]string{key: val})
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), val) {
			t.Errorf("%s=%s: error %v, want one naming key and value", key, val, err)
		}
	}
}

func TestPasswordNeverShown(t *testing.T) {
	c, err := load(t, "DB_PASSWORD='s3cr#t'\n", nil)
	if err != nil || c.DBPassword != "s3cr#t" {
		t.Fatalf("password %q err %v", c.DBPassword, err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	RegisterFlags(fs)
	if fs.Lookup("db-password") != nil {
		t.Error("DB_PASSWORD must not be a flag: it would show in the process list")
	}
}

func TestConfigFileErrors(t *testing.T) {
	// A line without "=" is ignored, as systemd's EnvironmentFile= ignores
	// it, and reported by its number only: it may hold a password.
	c, err := load(t, "DB_HOST=db1\nDB_PASSWORD S3cr3t\n", nil)
	if err != nil || len(c.Ignored) != 1 || !strings.Contains(c.Ignored[0], "line 2") || strings.Contains(c.Ignored[0], "S3cr3t") || c.DBHost != "db1" || c.DBPassword != "" {
		t.Errorf("line without =: %+v %v", c, err)
	}
	c, err = load(t, "# comment\n; other\n\nDB_HOTS=x\n", nil)
	if err != nil || len(c.Unknown) != 1 || c.Unknown[0] != "DB_HOTS" {
		t.Errorf("unknown key: %v %v", c.Unknown, err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := RegisterFlags(fs)
	fs.Parse([]string{"--config", "/nonexistent/config.env"})
	if _, err := Load(f, func(string) (string, bool) { return "", false }); err == nil {
		t.Error("an explicit missing --config file is not an error")
	}
}

func TestPreviousAgentKeysAreAcceptedAndNamed(t *testing.T) {
	c, err := load(t, "MAX_RETRIES=3\nRETRY_DELAY=2s\nCOMMAND_TIMEOUT=30s\nBACKUP_DIR=/var/lib/multinic/backups\nDB_HOTS=x\nPOLL_INTERVAL=10s\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"BACKUP_DIR", "COMMAND_TIMEOUT", "MAX_RETRIES", "RETRY_DELAY"}; strings.Join(c.Previous, " ") != strings.Join(want, " ") {
		t.Errorf("previous agent's keys %v, want %v", c.Previous, want)
	}
	if strings.Join(c.Unknown, " ") != "DB_HOTS" {
		t.Errorf("unknown keys %v, want only DB_HOTS", c.Unknown)
	}
	for _, k := range c.Previous {
		if PreviousKeys[k] == "" {
			t.Errorf("%s: no sentence saying what replaced it", k)
		}
	}
	if c.PollInterval != 10*time.Second {
		t.Errorf("the keys around them were not read: POLL_INTERVAL %s", c.PollInterval)
	}
}

func TestNodeNames(t *testing.T) {
	c := &Config{NodeName: "node1.novalocal"}
	if n, _ := c.NodeNames(); len(n) != 1 || n[0] != "node1.novalocal" {
		t.Errorf("explicit NODE_NAME: %v", n)
	}
	c.NodeName = ""
	n, err := c.NodeNames()
	host, _ := os.Hostname()
	if err != nil || n[0] != host {
		t.Errorf("hostname: %v %v", n, err)
	}
	if short, _, ok := strings.Cut(host, "."); ok && (len(n) != 2 || n[1] != short) {
		t.Errorf("short name missing: %v", n)
	}
}

func TestEmptyDBUserIsAnErrorNamingTheKey(t *testing.T) {
	c, err := load(t, "DB_HOST=db.example\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckDatabase()
	if err == nil || !strings.HasPrefix(err.Error(), "DB_USER is not set: set it in "+c.File) {
		t.Fatalf("empty DB_USER: %v", err)
	}
	c, err = load(t, "DB_HOST=db.example\n", map[string]string{"DB_USER": "agent"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckDatabase(); err != nil {
		t.Errorf("DB_USER from the environment: %v", err)
	}
}

func TestPermissionWarningForAReadablePassword(t *testing.T) {
	for _, c := range []struct {
		name string
		mode os.FileMode
		file string
		warn bool
	}{
		{"0600 with a password", 0o600, "DB_USER=a\nDB_PASSWORD=pw\n", false},
		{"0644 with a password", 0o644, "DB_USER=a\nDB_PASSWORD=pw\n", true},
		{"0640 with a password", 0o640, "DB_USER=a\nDB_PASSWORD=pw\n", true},
		{"0604 with a password", 0o604, "DB_USER=a\nDB_PASSWORD=pw\n", true},
		{"0644 without a password", 0o644, "DB_USER=a\n#DB_PASSWORD=\n", false},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := RegisterFlags(fs)
		p := filepath.Join(t.TempDir(), "config.env")
		if err := os.WriteFile(p, []byte(c.file), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse([]string{"--config", p}); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(f, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		w := cfg.PermissionWarning()
		if got := w != ""; got != c.warn {
			t.Errorf("%s: warning %q, want one: %v", c.name, w, c.warn)
		}
		if c.warn && (!strings.Contains(w, p) || !strings.Contains(w, "chmod 600 "+p) || strings.Contains(w, "=pw") || strings.Contains(w, ". ") || strings.Contains(w, "\n")) {
			t.Errorf("%s: %q should be one sentence naming the file and the fix", c.name, w)
		}
	}
}
