// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package testenv

import (
	"path/filepath"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/harness"
)

// Proxy is harness.Proxy failing the test instead of returning errors,
// cut when the test ends.
type Proxy struct {
	*harness.Proxy
	t testing.TB
}

// NewProxy listens on a fresh unix socket and forwards to target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := harness.NewProxy(filepath.Join(t.TempDir(), "db.sock"), target)
	return wrap(t, p, err)
}

// NewTCPProxy listens on addr (host:port) inside ns and forwards to target.
func NewTCPProxy(t testing.TB, ns *Netns, addr, target string) *Proxy {
	t.Helper()
	p, err := harness.NewTCPProxy(ns.Netns, addr, target)
	return wrap(t, p, err)
}

func wrap(t testing.TB, p *harness.Proxy, err error) *Proxy {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Cut)
	return &Proxy{p, t}
}

// Restore listens again at the same address.
func (p *Proxy) Restore() {
	p.t.Helper()
	if err := p.Proxy.Restore(); err != nil {
		p.t.Fatal(err)
	}
}
