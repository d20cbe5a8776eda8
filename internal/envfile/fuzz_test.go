// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package envfile

import "testing"

// FuzzParse: any input parses or fails with an error, never a panic, and
// every key returned is a valid variable name.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\nB='x y'\n", "C=\"a\\\"b\"\n", "D=a\\\nb\n", "=x\n", "E='open\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for k := range kv {
			if !validKey(k) {
				t.Fatalf("accepted invalid key %q from %q", k, data)
			}
		}
	})
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"plain", "", " a b ", `it's $"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, err := Quote(v)
		if err != nil {
			return
		}
		got, err := Parse("fuzz", []byte("KEY="+q+"\n"))
		if err != nil || got["KEY"] != v {
			t.Fatalf("KEY=%s read back as %q (%v), want %q", q, got["KEY"], err, v)
		}
	})
}
