// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package ifupdown

import (
	"strings"
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func FuzzParse(f *testing.F) {
	netconftest.Fuzz(f, Backend{}, func(p string) bool { return strings.HasSuffix(p, ".link") })
}
