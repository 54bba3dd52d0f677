package rulesd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// writeFile writes a rules file and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.rules")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// stepTexts lists the lines of s in the order Load applies them.
func stepTexts(s *Set) []string {
	var out []string
	for _, st := range s.steps {
		out = append(out, strings.TrimSpace(st.line.Text))
	}
	return out
}

// TestReadFileControlLines: a rules file takes the control lines auditctl
// -R takes, placed as in a rules directory, and refuses what rules.d
// refuses, with file and line.
func TestReadFileControlLines(t *testing.T) {
	p := writeFile(t, "# settings\n-b 64\n-a always,exit -F arch=b64 -S getppid -k one\n-e 1\n"+
		"--backlog_wait_time 5000\n-r 10\n-D\n-f 1\n-i\n-c\n  \n-w /etc/passwd -p wa -k two\n--reset-lost\n")
	s, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != p || len(s.Files) != 1 || s.Files[0] != p {
		t.Errorf("Dir %q, Files %q; want the file", s.Dir, s.Files)
	}
	if !s.Delete || !eqPtr(s.Backlog, u32(64)) || !eqPtr(s.Failure, u32(1)) || !eqPtr(s.Enabled, u32(1)) ||
		!eqPtr(s.RateLimit, u32(10)) || !eqPtr(s.BacklogWaitTime, u32(5000)) || !s.ResetLost ||
		!s.ContinueOnError || !s.IgnoreErrors || len(s.Rules) != 2 {
		t.Errorf("set: %+v", s)
	}
	want := []string{"-D", "-b 64", "-f 1", "-a always,exit -F arch=b64 -S getppid -k one",
		"--backlog_wait_time 5000", "-r 10", "-i", "-c", "-w /etc/passwd -p wa -k two", "--reset-lost", "-e 1"}
	if got := stepTexts(s); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines in load order:\n%q\nwant\n%q", got, want)
	}
	if r := s.Rules[1]; r.File != p || r.Line != 12 {
		t.Errorf("second rule at %s:%d, want %s:12", r.File, r.Line, p)
	}

	// Failure mode 2 is read, and refused by Check and Load unless allowed;
	// this test never loads it.
	s, err = ReadFile(writeFile(t, "-f 2\n-w /etc/passwd -p wa -k x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(false); !errors.Is(err, auditctl.ErrPanicRefused) || !strings.Contains(err.Error(), `audit.rules:1 "-f 2"`) {
		t.Errorf("Check(false) = %v, want ErrPanicRefused naming the line", err)
	}
	if _, err := s.Load(nil, false); !errors.Is(err, auditctl.ErrPanicRefused) {
		t.Errorf("Load = %v, want ErrPanicRefused", err)
	}
	if err := s.Check(true); err != nil {
		t.Errorf("Check(true) = %v", err)
	}

	s, err = ReadFile(writeFile(t, "-b 64\n-l\n-b\n-w /etc/passwd -p wa -k x -D\n"))
	if s == nil || err == nil {
		t.Fatalf("bad lines: set %v, error %v", s, err)
	}
	for _, want := range []string{`audit.rules:2: "-l"`, `audit.rules:3: "-b": -b needs a value`, `audit.rules:4: "-w /etc/passwd -p wa -k x -D": an auditctl command mixed with a rule`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := s.Check(false); !errors.Is(err, ErrInvalid) {
		t.Errorf("Check of a set with errors = %v, want ErrInvalid", err)
	}

	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.rules")); !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "rulesd: reading rules file: ") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// kernelAnswer is the error auditctl.Conn returns for a request the kernel
// refused with errno.
func kernelAnswer(errno unix.Errno) error {
	return &netlink.OpError{Op: "receive", Err: errno}
}

// TestReportPolicy: what a refused line does to the lines after it and to
// Report.Err, under no flag, -i and -c, as auditctl 3.0.9 does.
func TestReportPolicy(t *testing.T) {
	l := Line{File: "/etc/audit/rules.d/10.rules", Line: 21, Text: " -a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale "}
	cases := []struct {
		name          string
		controls      []ctlKind
		goOn, stopped bool
		fails         bool
	}{
		{"none", nil, false, true, true},
		{"-i", []ctlKind{ctlIgnore}, true, false, false},
		{"-c", []ctlKind{ctlContinue}, true, false, true},
		{"-c then -i", []ctlKind{ctlContinue, ctlIgnore}, true, false, true},
		{"-i then -c", []ctlKind{ctlIgnore, ctlContinue}, true, false, true},
	}
	for _, tc := range cases {
		p := errStop
		for _, k := range tc.controls {
			p = p.next(control{kind: k})
		}
		var rep Report
		goOn, fatal := rep.refuse(l, errors.Join(errors.New("auditctl: adding rule"), kernelAnswer(unix.ENOENT)), p)
		if fatal != nil || goOn != tc.goOn || rep.Stopped != tc.stopped || (rep.Err() != nil) != tc.fails {
			t.Errorf("%s: goOn %v, fatal %v, report %+v, Err %v; want goOn %v, stopped %v, failing %v",
				tc.name, goOn, fatal, rep, rep.Err(), tc.goOn, tc.stopped, tc.fails)
			continue
		}
		if len(rep.Refused) != 1 {
			t.Fatalf("%s: refused %v", tc.name, rep.Refused)
		}
		re := rep.Refused[0]
		want := `rules: /etc/audit/rules.d/10.rules:21: "-a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale": refused by the kernel: no such file or directory`
		if re.File != l.File || re.Line != 21 || re.Error() != want || !errors.Is(re, unix.ENOENT) {
			t.Errorf("%s: refusal %+v reads\n%s\nwant\n%s", tc.name, re, re.Error(), want)
		}
		if tc.fails && !errors.Is(rep.Err(), unix.ENOENT) {
			t.Errorf("%s: Err %v does not wrap ENOENT", tc.name, rep.Err())
		}
	}

	// An error that is not the kernel's answer stops loading as an error.
	var rep Report
	goOn, fatal := rep.refuse(l, errors.New("no reply to message type 1011 within 5s"), errContinue)
	if goOn || fatal == nil || len(rep.Refused) != 0 || !strings.Contains(fatal.Error(), "10.rules:21") {
		t.Errorf("timeout: goOn %v, fatal %v, refused %v; want a fatal error naming the line", goOn, fatal, rep.Refused)
	}
}
