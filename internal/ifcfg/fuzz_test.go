// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifcfg

import (
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func FuzzParse(f *testing.F) { netconftest.Fuzz(f, Backend{}, nil) }

func FuzzParsePrevious(f *testing.F) {
	netconftest.FuzzPrevious(f, Backend{}, "/etc/sysconfig/network-scripts/ifcfg-multinic1", "/etc/sysconfig/network-scripts/ifcfg-multinic3")
}
