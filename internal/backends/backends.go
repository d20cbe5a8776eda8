// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package backends is the one list of the configuration backends the
// agent writes, by the names NETWORK_BACKEND takes.
package backends

import (
	"github.com/multinic-agent/multinic-agent/internal/ifcfg"
	"github.com/multinic-agent/multinic-agent/internal/ifupdown"
	"github.com/multinic-agent/multinic-agent/internal/keyfile"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
	"github.com/multinic-agent/multinic-agent/internal/netplan"
	"github.com/multinic-agent/multinic-agent/internal/networkd"
)

// All returns every backend, in the order the documentation lists them.
func All() []netconf.Backend {
	return []netconf.Backend{netplan.Backend{}, ifcfg.Backend{}, keyfile.Backend{}, networkd.Backend{}, ifupdown.Backend{}}
}

// Names returns the NETWORK_BACKEND values of All.
func Names() []string {
	var out []string
	for _, b := range All() {
		out = append(out, b.Name())
	}
	return out
}
