// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netplan

import (
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func FuzzParse(f *testing.F) { netconftest.Fuzz(f, Backend{}, nil) }

func FuzzParsePrevious(f *testing.F) {
	netconftest.FuzzPrevious(f, Backend{}, "/etc/netplan/91-multinic1.yaml", "/etc/netplan/93-multinic3.yaml")
}
