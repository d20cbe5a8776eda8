package netplan

import (
	"testing"

	"github.com/multinic-agent/multinic-agent/internal/netconf/netconftest"
)

func FuzzParse(f *testing.F) { netconftest.Fuzz(f, Backend{}, nil) }
