package text

import (
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdefgh", 3, "abc..."},
		{" keeps space ", 6, " keeps..."},
		{"héllo", 2, "h..."}, // é is two bytes: cutting at 2 would split it
		{"abc", 0, "..."},
		{"abc", -1, "..."},
	} {
		got := Truncate(tc.s, tc.n)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tc.s, tc.n, got)
		}
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short\n", 10, "short"},
		{"line1\nline2\nerror: boom\n", 11, "...error: boom"},
		{"line1\nline2\nerror: boom\n", 5, "... boom"},
		{"abcé", 1, "..."}, // the last byte is inside é: keep nothing rather than half a rune
		{"abcé", 2, "...é"},
		{"abc", -1, "..."},
	} {
		got := Tail(tc.s, tc.n)
		if got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Tail(%q, %d) = %q is not valid UTF-8", tc.s, tc.n, got)
		}
	}
}
