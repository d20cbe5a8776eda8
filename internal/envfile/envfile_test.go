// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package envfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// readCases are config files and what systemd's EnvironmentFile= makes of
// them; TestReadAsSystemdDoes checks each against systemd itself.
var readCases = []struct {
	name, in string
	want     map[string]string
	ignored  []int // lines reported as ignored
	// generator is set where the environment generator differs from
	// EnvironmentFile= on purpose, and says how.
	generator string
}{
	{"plain values and comments", "# comment\n  ; also\n\nMNTT_A=1\n", map[string]string{"MNTT_A": "1"}, nil, ""},
	{"spaces around the name and the value", "MNTT_B = two words  \n", map[string]string{"MNTT_B": "two words"}, nil, ""},
	{"single quotes are literal", "MNTT_C='single # kept \\n'\n", map[string]string{"MNTT_C": `single # kept \n`}, nil, ""},
	{"double quotes escape only \" \\ ` and $", `MNTT_D="esc \"q\" \\ \n \t end"` + "\n", map[string]string{"MNTT_D": `esc "q" \ \n \t end`}, nil, ""},
	{"a backslash escapes in an unquoted value", `MNTT_E=x\ y\\z\#` + "\n", map[string]string{"MNTT_E": `x y\z#`}, nil, ""},
	{"a backslash at the end joins lines", "MNTT_F=a\\\nb\n", map[string]string{"MNTT_F": "ab"}, nil, ""},
	{"a comment joins the next line too", "# c \\\nMNTT_G=hidden\nMNTT_H=seen\n", map[string]string{"MNTT_H": "seen"}, nil, ""},
	{"quoted and unquoted parts join", "MNTT_I='q'rest\nMNTT_J='a' 'b'\nMNTT_K=\"x\"y\n", map[string]string{"MNTT_I": "qrest", "MNTT_J": "ab", "MNTT_K": "xy"}, nil, ""},
	{"a quote runs across lines", "MNTT_L='l1\nl2'\nMNTT_M=after\n", map[string]string{"MNTT_L": "l1\nl2", "MNTT_M": "after"}, nil, ""},
	{"an unclosed quote takes the rest of the file", "MNTT_N='open\nMNTT_O=2\n", map[string]string{"MNTT_N": "open\nMNTT_O=2\n"}, nil, ""},
	{"an empty value", "MNTT_P=\nMNTT_Q=''\n", map[string]string{"MNTT_P": "", "MNTT_Q": ""}, nil, "environment.d unsets a variable assigned nothing; EnvironmentFile= sets it empty"},
	{"a line without = is ignored", "MNTT_PASSWORD S3cr3t\nMNTT_R=kept\n", map[string]string{"MNTT_R": "kept"}, []int{1}, ""},
	{"an invalid name is ignored", "export MNTT_S=1\n1MNTT=2\nMNTT_T=3\n", map[string]string{"MNTT_T": "3"}, []int{1, 2}, ""},
	{"the last assignment wins", "MNTT_U=1\nMNTT_U=2\n", map[string]string{"MNTT_U": "2"}, nil, ""},
	{"CR ends a line", "MNTT_V=crlf\r\nMNTT_W=next\r\n", map[string]string{"MNTT_V": "crlf", "MNTT_W": "next"}, nil, ""},
	{"no newline at the end", "MNTT_X=last", map[string]string{"MNTT_X": "last"}, nil, ""},
	{"an = in the value", "MNTT_Y=a=b==c\n", map[string]string{"MNTT_Y": "a=b==c"}, nil, ""},
	{"a # after the value is part of it", "MNTT_Z=value # not a comment\n", map[string]string{"MNTT_Z": "value # not a comment"}, nil, ""},
}

func TestRead(t *testing.T) {
	for _, c := range readCases {
		t.Run(c.name, func(t *testing.T) {
			got, ignored := Read([]byte(c.in))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
			var lines []int
			for _, i := range ignored {
				lines = append(lines, i.Line)
				if strings.Contains(i.Why, "S3cr3t") {
					t.Errorf("the reason quotes the line: %s", i.Why)
				}
			}
			if !reflect.DeepEqual(lines, c.ignored) {
				t.Errorf("ignored lines %v, want %v (%v)", lines, c.ignored, ignored)
			}
		})
	}
}

// TestReadAsSystemdDoes feeds every case to systemd's own env-file
// parser, the one behind EnvironmentFile=, through the user environment
// generator (which reads $XDG_CONFIG_HOME/environment.d with it and prints
// the result); no case uses $, which only that generator expands.
func TestReadAsSystemdDoes(t *testing.T) {
	gen := "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"
	if _, err := os.Stat(gen); err != nil {
		skip(t, "systemd's environment generator is not installed (package systemd)")
	}
	for _, c := range readCases {
		t.Run(c.name, func(t *testing.T) {
			if c.generator != "" {
				t.Skip(c.generator)
			}
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "environment.d"), 0o755)
			os.WriteFile(filepath.Join(dir, "environment.d", "t.conf"), []byte(c.in), 0o644)
			cmd := exec.Command(gen)
			cmd.Env = []string{"XDG_CONFIG_HOME=" + dir, "HOME=" + dir}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", gen, err)
			}
			systemd := map[string]string{}
			for _, line := range strings.Split(string(out), "\n") {
				k, v, ok := strings.Cut(line, "=")
				if !ok || !strings.HasPrefix(k, "MNTT_") {
					continue
				}
				if strings.HasPrefix(v, `"`) {
					if v, err = strconv.Unquote(v); err != nil {
						t.Fatalf("cannot read the generator's %q: %v", line, err)
					}
				}
				systemd[k] = v
			}
			got, _ := Read([]byte(c.in))
			if !reflect.DeepEqual(got, systemd) {
				t.Errorf("Read: %q\nsystemd: %q", got, systemd)
			}
		})
	}
}

func skip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MULTINIC_REQUIRE_PRIVILEGED") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func TestParseNamesTheLineNotItsText(t *testing.T) {
	_, err := Parse("config.env", []byte("DB_HOST=db\nDB_PASSWORD S3cr3t\n"))
	if err == nil || !strings.Contains(err.Error(), "config.env line 2") || strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("error %v", err)
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
