// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package networkd

import (
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func BenchmarkRender(b *testing.B) { netconftest.BenchRender(b, Backend{}) }

// BenchmarkParse is what the agent pays when a file changed (unchanged
// files are cached).
func BenchmarkParse(b *testing.B) { netconftest.BenchParse(b, Backend{}) }
