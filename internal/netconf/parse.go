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

// NameFrom returns the interface name that re's first group takes from an
// owned file's path.
func NameFrom(re *regexp.Regexp, path string) (string, bool) {
	m := re.FindStringSubmatch(path)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ParseMAC parses a 6-byte Ethernet MAC address in any form net.ParseMAC takes.
func ParseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet MAC address", s)
	}
	return hw, nil
}

// NormalMAC parses a MAC address and returns it lower-case, colon separated.
func NormalMAC(s string) (string, error) {
	hw, err := ParseMAC(s)
	if err != nil {
		return "", err
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

// MTU bounds, the same for a row and for a file: 68 is IPv4's minimum, 9216
// the largest jumbo frame NICs commonly take.
const (
	MinMTU = 68
	MaxMTU = 9216
)

// CheckMTU says whether n is an MTU the agent sets.
func CheckMTU(n int64) error {
	if n < MinMTU || n > MaxMTU {
		return fmt.Errorf("mtu %d is outside %d..%d", n, MinMTU, MaxMTU)
	}
	return nil
}

// ParseMTU parses a file's MTU value.
func ParseMTU(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an MTU", s)
	}
	if err := CheckMTU(n); err != nil {
		return 0, err
	}
	return int(n), nil
}
