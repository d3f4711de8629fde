package env

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "e2ea", "abcdefghijkl", "0"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":              "empty",
		"abcdefghijklm": "longer than 12",
		"my-env":        "no hyphens",
		"Env":           "lower-case",
		"a b":           "lower-case",
		"é":             "lower-case",
	} {
		if err := ValidateName(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateName(%q) = %v, want an error saying %q", bad, err, want)
		}
	}
}

func TestDefaultNameIsStableDistinctAndValid(t *testing.T) {
	a, b := DefaultName("/root/.meshconform"), DefaultName("/tmp/job2/.meshconform")
	if a != DefaultName("/root/./.meshconform/") || a == b || !strings.HasPrefix(a, "meshconf") {
		t.Errorf("default names %q and %q", a, b)
	}
	for _, dir := range []string{"/root/.meshconform", "/", "relative/dir", "/tmp/---", strings.Repeat("x", 300), "/tmp/ÄÖ"} {
		if err := ValidateName(DefaultName(dir)); err != nil {
			t.Errorf("DefaultName(%q) = %q: %v", dir, DefaultName(dir), err)
		}
	}
	rel, _ := filepath.Abs("relative/dir")
	if DefaultName("relative/dir") != DefaultName(rel) {
		t.Error("a relative directory names a different environment than its absolute path")
	}
}

func TestResolveName(t *testing.T) {
	t.Setenv(NameEnv, "")
	dir := "/tmp/home1"
	for _, c := range []struct{ flag, envVar, recorded, want, err string }{
		{want: DefaultName(dir)},
		{recorded: "rec", want: "rec"},
		{envVar: "fromenv", want: "fromenv"},
		{flag: "flag", envVar: "fromenv", want: "flag"},
		{flag: "rec", recorded: "rec", want: "rec"},
		{flag: "other", recorded: "rec", err: `holds environment "rec", not "other"`},
		{envVar: "other", recorded: "rec", err: "$MESHCONFORM_ENV other"},
		{flag: "Bad-Name", err: "--env: "},
	} {
		t.Setenv(NameEnv, c.envVar)
		got, err := ResolveName(c.flag, dir, c.recorded)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: error %v, want one containing %q", c, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%+v: %q, %v; want %q", c, got, err, c.want)
		}
	}
}

func TestEnvOfName(t *testing.T) {
	for name, want := range map[string]string{
		KindClusterName("ab", "cluster-1"): "ab",
		DockerNetworkName("a", "network1"): "a",
		"mc-a":                             "",
		"mc--x":                            "",
		"mc-Bad-x":                         "",
		"meshconform-cluster1":             "",
		"kind":                             "",
	} {
		got, ok := EnvOfName(name)
		if got != want || ok != (want != "") {
			t.Errorf("EnvOfName(%q) = %q, %t; want %q", name, got, ok, want)
		}
	}
}

func TestCheckKindNamesSaysWhatToShorten(t *testing.T) {
	if errs := CheckKindNames("abcdefghijkl", []string{strings.Repeat("c", 33)}); len(errs) != 0 {
		t.Errorf("the longest names validation allows: %v", errs)
	}
	errs := CheckKindNames("abcdefghijkl", []string{"ok", strings.Repeat("c", 40)})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "shorten the cluster's name to 33 characters") ||
		!strings.Contains(errs[0].Error(), "--env") {
		t.Errorf("errors %v", errs)
	}
}

func TestLockExcludesASecondHolderUntilReleased(t *testing.T) {
	dir := t.TempDir()
	release, err := LockDir(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var said string
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := LockDir(ctx, dir, func(s string) { said = s }); err == nil {
		t.Fatal("a second lock of a held directory succeeded")
	}
	if !strings.Contains(said, "holds its lock") || !strings.Contains(said, "pid ") {
		t.Errorf("waiting message %q does not say who holds the lock", said)
	}
	release()
	again, err := LockDir(t.Context(), dir, nil)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
