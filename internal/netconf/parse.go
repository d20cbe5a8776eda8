// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var headerRow = regexp.MustCompile(`^` + regexp.QuoteMeta(Marker) + ` \(row (\d+)\)`)

// HeaderRow returns the row id recorded in an owned file's first line.
func HeaderRow(content []byte) (int64, error) {
	m := headerRow.FindSubmatch(content)
	if m == nil {
		return 0, errors.New("first line is not the multinic-agent header")
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// NormalMAC parses a MAC address and returns it lower-case, colon separated.
// Only 6-byte Ethernet addresses are accepted.
func NormalMAC(s string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not an Ethernet MAC address", s)
	}
	return hw.String(), nil
}

// ParsePrefix parses "address/len" as rendered in a file, keeping the host bits.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address/prefix", s)
	}
	return p, nil
}

// ParseMTU parses a file's MTU value.
func ParseMTU(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 68 || n > 65535 {
		return 0, fmt.Errorf("%q is not an MTU", s)
	}
	return n, nil
}
