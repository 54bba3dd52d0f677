package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseRates(t *testing.T) {
	f := func(in string, want []float64, wantErr bool) {
		t.Helper()
		got, err := parseRates(in)
		if (err != nil) != wantErr || !slices.Equal(got, want) {
			t.Errorf("parseRates(%q) = %v, %v; want %v (error %v)", in, got, err, want, wantErr)
		}
		if err != nil && !errors.Is(err, ErrOptions) {
			t.Errorf("parseRates(%q) error %v does not wrap ErrOptions", in, err)
		}
	}
	f("20000,40000", []float64{20000, 40000}, false)
	f(" 20k, 1.5M ,max,0,,", []float64{20000, 1.5e6, 0, 0}, false)
	f("2.5K", []float64{2500}, false)
	f("", nil, true)
	f(",", nil, true)
	f("-5", nil, true)
	f("fast", nil, true)
	f("1e400", nil, true)
	f("NaN", nil, true)
}

func TestCommandRejectsBadFlagsBeforeTouchingTheKernel(t *testing.T) {
	f := func(args ...string) error {
		t.Helper()
		var out, errw bytes.Buffer
		err := Command(context.Background(), args, &out, &errw)
		if out.Len() != 0 || errw.Len() != 0 {
			t.Errorf("Command(%q) wrote %q to stdout and %q to stderr", args, out.String(), errw.String())
		}
		return err
	}
	var out, errw bytes.Buffer
	if err := Command(context.Background(), []string{"-h"}, &out, &errw); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "\n  --readers ") || errw.Len() != 0 {
		t.Errorf("-h wrote %q to stdout and %q to stderr; want the flags, spelled --name, on stdout only", out.String(), errw.String())
	}
	for _, args := range [][]string{
		{"--rates", "x"},
		{"--readers", "auditdrain,journald"},
		{"--readers", ""},
		{"--load", "disk"},
		{"--duration", "0s"},
		{"--threads", "0"},
		{"--backlog-limit", "4294967296"},
		{"extra"},
		{"--bin", "/nonexistent/auditdrain", "--readers", "auditdrain"},
	} {
		err := f(args...)
		if err == nil {
			t.Errorf("Command(%q): no error", args)
			continue
		}
		if !errors.Is(err, ErrOptions) && !errors.Is(err, ErrUnknownLoad) && !strings.Contains(err.Error(), "flag") {
			t.Errorf("Command(%q) = %v: not an options error", args, err)
		}
	}
}

func TestSplitList(t *testing.T) {
	if got := splitList(" a, b,,c "); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("splitList = %q", got)
	}
}

func TestReadRuleLines(t *testing.T) {
	dir := t.TempDir()
	f := func(text string, want []string, ok bool) {
		t.Helper()
		path := filepath.Join(dir, "r.rules")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readRuleLines(path)
		if (err == nil) != ok || !slices.Equal(got, want) {
			t.Errorf("readRuleLines(%q) = %q, %v; want %q, ok %v", text, got, err, want, ok)
		}
		if !ok && !errors.Is(err, ErrOptions) {
			t.Errorf("readRuleLines(%q): %v does not wrap ErrOptions", text, err)
		}
	}
	f("# STIG\n\n-a always,exit -F arch=b64 -S execve -k exec\n  -w /etc/passwd -p wa -k identity\n",
		[]string{"-a always,exit -F arch=b64 -S execve -k exec", "-w /etc/passwd -p wa -k identity"}, true)
	f("-D\n-a always,exit -S execve\n", nil, false)
	f("-e 2\n", nil, false)
	f("-f 2\n", nil, false)
}
