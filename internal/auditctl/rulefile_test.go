package auditctl_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-libaudit/v2/rule"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

func TestParseRules(t *testing.T) {
	dir := t.TempDir()
	in := "# audit rules\n" +
		"\n" +
		"-a always,exit -F arch=b64 -S getppid -k k1\n" +
		"   # indented comment\n" +
		"  -w " + dir + " -p wa -k k2\r\n" +
		"-a always,exit -F arch=b64 -S getpid -F key=k3 -k k4\n" +
		"-w '/etc/some file' -p r\n"
	rs, err := auditctl.ParseRules("t.rules", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line      int
		text      string
		keys      []string
		cmdPrefix string
	}{
		{3, "-a always,exit -F arch=b64 -S getppid -k k1", []string{"k1"}, "-a always,exit -F arch=b64 -S getppid -F key=k1"},
		{5, "-w " + dir + " -p wa -k k2", []string{"k2"}, "-w " + dir + " -p wa -k k2"},
		{6, "-a always,exit -F arch=b64 -S getpid -F key=k3 -k k4", []string{"k3", "k4"}, "-a always,exit -F arch=b64 -S getpid"},
		{7, "-w '/etc/some file' -p r", nil, "-w /etc/some file -p r"},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d rules, want %d: %+v", len(rs), len(want), rs)
	}
	for i, w := range want {
		r := rs[i]
		if r.File != "t.rules" || r.Line != w.line || r.Text != w.text {
			t.Errorf("rule %d = %s:%d %q, want t.rules:%d %q", i, r.File, r.Line, r.Text, w.line, w.text)
		}
		if got := auditctl.RuleKeys(r.Wire); !slices.Equal(got, w.keys) {
			t.Errorf("rule %d keys = %q, want %q", i, got, w.keys)
		}
		cmd, err := rule.ToCommandLine(r.Wire, false)
		if err != nil || !strings.HasPrefix(cmd, w.cmdPrefix) {
			t.Errorf("rule %d decodes to %q (%v), want prefix %q", i, cmd, err, w.cmdPrefix)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	f := func(line, wantSub string, control bool) {
		t.Helper()
		in := "# header\n-a always,exit -F arch=b64 -S getppid -k ok\n" + line + "\n"
		rs, err := auditctl.ParseRules("/etc/x.rules", strings.NewReader(in))
		if err == nil {
			t.Errorf("%q: no error, rules %+v", line, rs)
			return
		}
		if rs != nil {
			t.Errorf("%q: got %d rules along with the error, want none", line, len(rs))
		}
		prefix := `rules: /etc/x.rules:3: "` + strings.TrimSpace(line) + `": `
		if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), wantSub) {
			t.Errorf("%q: error %q, want prefix %q and %q", line, err, prefix, wantSub)
		}
		var re *auditctl.RuleError
		if !errors.As(err, &re) || re.Line != 3 || re.File != "/etc/x.rules" {
			t.Errorf("%q: error %v is not a *RuleError for line 3", line, err)
		}
		if got := errors.Is(err, auditctl.ErrControlLine); got != control {
			t.Errorf("%q: errors.Is(ErrControlLine) = %v, want %v", line, got, control)
		}
	}
	ctl := auditctl.ErrControlLine.Error()
	f("-D", ctl, true)
	f("-D -k foo", ctl, true)
	f("-b 8192", ctl, true)
	f("-b8192", ctl, true)
	f("-f 1", ctl, true)
	f("-e 2", ctl, true)
	f("-r 100", ctl, true)
	f("--backlog_wait_time 60000", ctl, true)
	f("--backlog_wait_time=60000", ctl, true)
	f("--reset-lost", ctl, true)
	f("--loginuid-immutable", ctl, true)
	f("-d always,exit -S getppid", ctl, true)
	f("-W /etc/passwd -p wa", ctl, true)
	f("-a always,exit -S getppid -k x -b 10", ctl, true)
	f("-a bogus", "bogus", false)
	f("-a always,exit -F arch=b64 -S getppid extra", `unexpected argument "extra"`, false)
	f("-a always,exit -F arch=b64 -S getppid -- -k x", `unexpected argument "-k"`, false)
	f("-a always,exit -F arch=b64 -S no_such_syscall_xyz", "no_such_syscall_xyz", false)
	f("-a always,exit -F arch=b64 -S getppid -k 'open", "unterminated single quote", false)
	f("-w relative/path -p wa", "absolute", false)
	f("-w /etc/passwd -p z", "z", false)
	f("-x foo", "-x", false)
	f("-a always,exit -F nosuchfield=1", "nosuchfield", false)
	f("  -b 8192   ", ctl, true)
}

func TestParseRulesReportsAllErrors(t *testing.T) {
	in := "-a always,exit -S getppid junk\n-a always,exit -F arch=b64 -S getppid\n-b 10\n"
	rs, err := auditctl.ParseRules("f", strings.NewReader(in))
	if err == nil || rs != nil {
		t.Fatalf("got %d rules, error %v; want no rules and an error", len(rs), err)
	}
	for _, sub := range []string{`rules: f:1: "-a always,exit -S getppid junk"`, `rules: f:3: "-b 10"`} {
		if !strings.Contains(err.Error(), sub) {
			t.Errorf("error %q does not contain %q", err, sub)
		}
	}
	if strings.Contains(err.Error(), "f:2:") {
		t.Errorf("error %q mentions the valid line 2", err)
	}
}

func TestParseRulesLineTooLong(t *testing.T) {
	in := "-a always,exit -S getppid -k " + strings.Repeat("x", 2<<20) + "\n"
	if _, err := auditctl.ParseRules("long", strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "rules: reading long") {
		t.Errorf("error %v, want a read error naming the file", err)
	}
}

func BenchmarkParseRules(b *testing.B) {
	var sb strings.Builder
	for range 100 {
		sb.WriteString("-a always,exit -F arch=b64 -S openat,open -F exit=-EACCES -F auid>=1000 -k access\n")
	}
	in := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auditctl.ParseRules("bench", strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
