// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package envfile

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	in := "# comment\n  ; also\n\nA=1\nB = two words  \nC='single # kept'\nD=\"esc \\\"q\\\" \\\\ end\"\nE=a\\\nb\nF=\n"
	got, err := Parse("f", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": `esc "q" \ end`, "E": "ab", "F": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"NOEQUALS\n", "1A=x\n", "A='open\n", "A=\"open\n", "A='x' y\n"} {
		if _, err := Parse("f", []byte(bad)); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}

func TestQuoteRoundTrips(t *testing.T) {
	cases := []struct{ name, value, written string }{
		{"plain", "s3cret", "s3cret"},
		{"host and port characters", "db-1.example.com:3306", "db-1.example.com:3306"},
		{"empty", "", "''"},
		{"spaces kept", " pass word ", "' pass word '"},
		{"shell characters", `a$b"c\d#e`, `'a$b"c\d#e'`},
		{"a single quote", `it's$"\` + "`", `"it's\$\"\\` + "\\`" + `"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Quote(c.value)
			if err != nil {
				t.Fatal(err)
			}
			if q != c.written {
				t.Errorf("Quote(%q) = %s, want %s", c.value, q, c.written)
			}
			got, err := Parse("test", []byte("KEY="+q+"\n"))
			if err != nil || got["KEY"] != c.value {
				t.Errorf("KEY=%s read back as %q (%v), want %q", q, got["KEY"], err, c.value)
			}
		})
	}
	if _, err := Quote("two\nlines"); err == nil {
		t.Error("a value with a line break was quoted")
	}
}
