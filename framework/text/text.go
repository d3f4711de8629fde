// Package text shortens strings for error messages and reports, so a long body or log never floods one line.
package text

import (
	"strings"
	"unicode/utf8"
)

// Truncate keeps the first n bytes of s and marks the cut with "...". It never splits a UTF-8 sequence: a message
// cut mid-rune is invalid UTF-8 in the JSON and YAML reports it ends up in.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Tail keeps the last n bytes of s, marking the cut with a leading "...". It is for command output, whose end
// says why it failed; surrounding whitespace (the final newline) is dropped first.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	if n < 0 {
		n = 0
	}
	start := len(s) - n
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return "..." + s[start:]
}
