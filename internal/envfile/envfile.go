// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package envfile parses KEY=VALUE files as systemd's EnvironmentFile= and
// os-release(5) write them.
package envfile

import (
	"fmt"
	"strings"
)

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Quote writes v as a value that Parse and systemd's EnvironmentFile= both
// read back as v: bare when it has no special character, single-quoted
// when it has no single quote, else double-quoted with \ before " \ ` $.
// A value with a newline cannot be written.
func Quote(v string) (string, error) {
	switch {
	case strings.ContainsAny(v, "\n\r"):
		return "", fmt.Errorf("a value with a line break cannot be written to an environment file")
	case v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+,=") == "":
		return v, nil
	case !strings.Contains(v, "'"):
		return "'" + v + "'", nil
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if strings.IndexByte("\"\\`$", v[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String(), nil
}
