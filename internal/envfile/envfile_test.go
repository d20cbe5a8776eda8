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
