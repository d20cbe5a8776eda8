// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package envfile

import (
	"fmt"
	"strings"
)

// Ignored is a line that systemd ignores (and so does Read): one without
// "=", or whose name is not a valid variable name. Why never quotes the
// line, which may hold a password.
type Ignored struct {
	Line int
	Why  string
}

// The states of Read, those of systemd's env-file parser.
const (
	preKey = iota
	inKey
	preValue
	inValue
	valueEscape
	singleQuote
	doubleQuote
	doubleQuoteEscape
	comment
	commentEscape
)

// Read parses KEY=VALUE data as systemd's EnvironmentFile= does, state for
// state: blank lines and lines starting with # or ; are comments, and a
// backslash at the end of a line (a comment's too) joins the next one; an
// unquoted value loses its trailing whitespace and a backslash in it
// escapes the next character; '…' is literal; in "…" a backslash escapes
// only " \ ` and $ (and a line break), else it stays; quoted and unquoted
// parts join ('a'b is ab), and a quote runs across lines until it closes
// (or to the end of the file); \r ends a line as \n does. Lines without
// "=" and invalid names are ignored, and reported.
func Read(data []byte) (map[string]string, []Ignored) {
	r := reader{out: map[string]string{}, keyEnd: -1, valueEnd: -1}
	state, line := preKey, 1
	for _, c := range data {
		newline := c == '\n' || c == '\r'
		space := newline || c == ' ' || c == '\t'
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case !space:
				state, r.key, r.keyLine = inKey, append(r.key[:0], c), line
			}
		case inKey:
			switch {
			case newline:
				r.noEquals()
				state = preKey
			case c == '=':
				state = preValue
			default:
				r.key, r.keyEnd = appendTracking(r.key, r.keyEnd, c, space)
			}
		case preValue:
			switch {
			case newline:
				r.push()
				state = preKey
			case c == '\'':
				state = singleQuote
			case c == '"':
				state = doubleQuote
			case c == '\\':
				state = valueEscape
			case !space:
				state, r.value = inValue, append(r.value, c)
			}
		case inValue:
			switch {
			case newline:
				r.push()
				state = preKey
			case c == '\\':
				state, r.valueEnd = valueEscape, -1
			default:
				r.value, r.valueEnd = appendTracking(r.value, r.valueEnd, c, space)
			}
		case valueEscape:
			state = inValue
			if !newline {
				r.value, r.valueEnd = append(r.value, c), -1
			}
		case singleQuote:
			if c == '\'' {
				state = preValue
			} else {
				r.value = append(r.value, c)
			}
		case doubleQuote:
			switch c {
			case '"':
				state = preValue
			case '\\':
				state = doubleQuoteEscape
			default:
				r.value = append(r.value, c)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				r.value = append(r.value, c)
			case newline:
			default:
				r.value = append(r.value, '\\', c)
			}
		case comment:
			switch {
			case c == '\\':
				state = commentEscape
			case newline:
				state = preKey
			}
		case commentEscape:
			state = comment
		}
		if c == '\n' {
			line++
		}
	}
	switch state {
	case inKey:
		r.noEquals()
	case preValue, inValue, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		r.push()
	}
	return r.out, r.ignored
}

// reader is Read's key and value in progress.
type reader struct {
	out              map[string]string
	ignored          []Ignored
	key, value       []byte
	keyLine          int
	keyEnd, valueEnd int // where trailing whitespace began, or -1
}

// appendTracking appends c to b, keeping end at the start of the run of
// whitespace b ends with (-1 when it ends with none).
func appendTracking(b []byte, end int, c byte, space bool) ([]byte, int) {
	switch {
	case !space:
		end = -1
	case end < 0:
		end = len(b)
	}
	return append(b, c), end
}

func (r *reader) push() {
	if r.keyEnd >= 0 {
		r.key = r.key[:r.keyEnd]
	}
	if r.valueEnd >= 0 {
		r.value = r.value[:r.valueEnd]
	}
	if validKey(string(r.key)) {
		r.out[string(r.key)] = string(r.value)
	} else {
		r.ignored = append(r.ignored, Ignored{r.keyLine, fmt.Sprintf("%q is not a valid variable name", r.key)})
	}
	r.key, r.value, r.keyEnd, r.valueEnd = nil, nil, -1, -1
}

func (r *reader) noEquals() {
	r.ignored = append(r.ignored, Ignored{r.keyLine, `no "=" on the line (not KEY=VALUE)`})
	r.key, r.keyEnd = nil, -1
}

// Parse is Read for files that must be whole: a line Read would ignore is
// an error naming the file and the line (never its text, which may hold a
// password). name is used in errors only.
func Parse(name string, data []byte) (map[string]string, error) {
	out, ignored := Read(data)
	if len(ignored) > 0 {
		return nil, fmt.Errorf("%s line %d: %s", name, ignored[0].Line, ignored[0].Why)
	}
	return out, nil
}
