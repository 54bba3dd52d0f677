package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/internal/config"
)

// writeRules writes a rules file and returns its path.
func writeRules(t *testing.T, path string, lines ...string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "audit.rules")
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrepareRulesFile: a rules file (rules = FILE) takes auditctl -R's
// control lines; failure mode 2 is refused before anything reaches the
// kernel unless allow_panic is set (this test never loads it).
func TestPrepareRulesFile(t *testing.T) {
	cfg := config.Default()
	cfg.Rules = writeRules(t, "", "-D", "-b 64", "--backlog_wait_time 60000", "-f 1", "-r 0", "-c", "-i",
		"-a always,exit -F arch=b64 -S getppid -k bench", "-e 1")
	rs, err := prepareRules(cfg)
	if err != nil {
		t.Fatalf("prepareRules: %v", err)
	}
	if rs.set == nil || len(rs.set.Rules) != 1 || rs.set.Backlog == nil || *rs.set.Backlog != 64 || rs.where != cfg.Rules {
		t.Fatalf("rule source %+v", rs)
	}

	cfg.Rules = writeRules(t, "", "-b 64", "-f 2")
	if _, err := prepareRules(cfg); !errors.Is(err, auditctl.ErrPanicRefused) || !strings.Contains(err.Error(), cfg.Rules+`:2 "-f 2"`) {
		t.Errorf("-f 2 without allow_panic: %v, want ErrPanicRefused naming the line", err)
	}
	cfg.AllowPanic = true
	if _, err := prepareRules(cfg); err != nil {
		t.Errorf("-f 2 with allow_panic: %v", err)
	}

	cfg.Rules = writeRules(t, "", "-b 64", "-a always,exit -S no_such_call_xyz")
	if _, err := prepareRules(cfg); err == nil || !strings.Contains(err.Error(), cfg.Rules+`:2: "-a always,exit -S no_such_call_xyz"`) {
		t.Errorf("bad rule: %v, want an error naming the line", err)
	}
}

// TestStatusRulesRefused: the refused lines reach Status, and its JSON, with
// file, line, rule and the kernel's error.
func TestStatusRulesRefused(t *testing.T) {
	rs := &ruleSource{loaded: 2, refused: []*auditctl.RuleError{{
		File: "/etc/audit/rules.d/10.rules", Line: 21,
		Text: "-a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale",
		Err:  fmt.Errorf("refused by the kernel: %w", unix.ENOENT),
	}}}
	var s Status
	s.RulesLoaded, s.RulesRefused = rs.statusRules()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `"rules_loaded":2,"rules_refused":[{"file":"/etc/audit/rules.d/10.rules","line":21,"rule":"-a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale","error":"no such file or directory"}]`
	if !strings.Contains(string(b), want) {
		t.Errorf("status JSON:\n%s\nwant in it:\n%s", b, want)
	}
	if got := rs.summary(); !strings.Contains(got, "2 rules loaded") || !strings.Contains(got, "1 line refused by the kernel") {
		t.Errorf("summary %q", got)
	}
	s = Status{}
	if b, _ := json.Marshal(s); strings.Contains(string(b), "rules_refused") {
		t.Errorf("rules_refused shown with nothing refused: %s", b)
	}
}

// halt stops a daemon started with start and fails the test on error.
func (r *running) halt(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("daemon: %v\n%s", err, r.log.String())
	}
	r.done <- nil // for start's cleanup
}

// keyCount counts the kernel's rules carrying key.
func keyCount(t *testing.T, k *audittest.K, key string) int {
	t.Helper()
	rules, err := k.Conn().Rules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range rules {
		for _, rk := range auditctl.RuleKeys(w) {
			if rk == key {
				n++
			}
		}
	}
	return n
}

// TestRulesFileRestart: `run --rules FILE`, stop, and the same again: the
// second start finds the first run's rules loaded and takes them as loaded,
// without duplicates; the file's -b and --backlog_wait_time are applied.
func TestRulesFileRestart(t *testing.T) {
	k := kernelFor(t, 8192)
	keys := []string{k.Key("restart"), k.Key("restart"), k.Key("restart")}
	backlog, wait := k.Saved().BacklogLimit+64, uint32(1234)
	cfg := config.Default()
	cfg.Rules = writeRules(t, "",
		fmt.Sprintf("-b %d", backlog),
		fmt.Sprintf("--backlog_wait_time %d", wait),
		fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F ppid=%d -k %s", os.Getpid(), keys[0]),
		fmt.Sprintf("-A always,exit -F arch=b64 -S getgid -F ppid=%d -k %s", os.Getpid(), keys[1]),
		fmt.Sprintf("-w %s -p wa -k %s", t.TempDir(), keys[2]))
	for run := 1; run <= 2; run++ {
		r := start(t, k, cfg, Options{Discard: true})
		st := r.d.Status()
		if st.RulesLoaded != 3 || len(st.RulesRefused) != 0 {
			t.Errorf("run %d: %d rules loaded, refused %+v; want 3 and none\n%s", run, st.RulesLoaded, st.RulesRefused, r.log)
		}
		for _, key := range keys {
			if n := keyCount(t, k, key); n != 1 {
				t.Errorf("run %d: %d rules with key %s, want 1", run, n, key)
			}
		}
		ks, err := k.Conn().Status()
		if err != nil {
			t.Fatal(err)
		}
		if ks.BacklogLimit != backlog || ks.BacklogWaitTime != wait {
			t.Errorf("run %d: backlog_limit %d, backlog_wait_time %d; want %d and %d from the rules file", run, ks.BacklogLimit, ks.BacklogWaitTime, backlog, wait)
		}
		r.halt(t)
		if log := r.log.String(); !strings.Contains(log, "3 rules loaded from "+cfg.Rules) || strings.Contains(log, "refused") {
			t.Errorf("run %d log:\n%s", run, log)
		}
	}
}

// TestRefusedRuleKeepsRunning: a rule the kernel refuses (a watch on a
// missing directory) does not stop the daemon: the rules before it load,
// the refusal is logged and in Status with file and line; loading stops
// there (no -c or -i). A reload once the directory exists loads the rest,
// and a reload without a rule deletes it and keeps the others.
func TestRefusedRuleKeepsRunning(t *testing.T) {
	k := kernelFor(t, 8192)
	kA, kB, kC := k.Key("before"), k.Key("refused"), k.Key("after")
	missing := filepath.Join(t.TempDir(), "NetworkManager")
	lineA := "-w /etc/passwd -p wa -k " + kA
	lineB := "-a always,exit -F dir=" + missing + "/ -F perm=wa -F key=" + kB
	lineC := fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F ppid=%d -k %s", os.Getpid(), kC)
	cfg := config.Default()
	cfg.Rules = writeRules(t, "", lineA, lineB, lineC)
	r := start(t, k, cfg, Options{Discard: true})

	st := r.d.Status()
	want := RuleError{File: cfg.Rules, Line: 2, Rule: lineB, Error: "no such file or directory"}
	if st.RulesLoaded != 1 || len(st.RulesRefused) != 1 || st.RulesRefused[0] != want {
		t.Fatalf("status: %d loaded, refused %+v; want 1 and %+v\n%s", st.RulesLoaded, st.RulesRefused, want, r.log)
	}
	if keyCount(t, k, kA) != 1 || keyCount(t, k, kB) != 0 || keyCount(t, k, kC) != 0 {
		t.Errorf("rules loaded: %s %d, %s %d, %s %d; want 1, 0, 0", kA, keyCount(t, k, kA), kB, keyCount(t, k, kB), kC, keyCount(t, k, kC))
	}
	log := r.log.String()
	for _, w := range []string{
		fmt.Sprintf("%s:2: %q: refused by the kernel: no such file or directory", cfg.Rules, lineB),
		"stopped at the first line the kernel refused",
		"1 rule loaded from " + cfg.Rules + ", 1 line refused by the kernel",
	} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}

	if err := os.Mkdir(missing, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(cfg); err != nil {
		t.Fatalf("reload: %v\n%s", err, r.log)
	}
	if st := r.d.Status(); st.RulesLoaded != 3 || len(st.RulesRefused) != 0 {
		t.Errorf("after reload: %d loaded, refused %+v; want 3 and none", st.RulesLoaded, st.RulesRefused)
	}
	if keyCount(t, k, kA) != 1 || keyCount(t, k, kB) != 1 || keyCount(t, k, kC) != 1 {
		t.Errorf("after reload: %s %d, %s %d, %s %d; want one each", kA, keyCount(t, k, kA), kB, keyCount(t, k, kB), kC, keyCount(t, k, kC))
	}

	writeRules(t, cfg.Rules, lineB, lineC)
	if err := r.d.Reload(cfg); err != nil {
		t.Fatalf("second reload: %v\n%s", err, r.log)
	}
	if keyCount(t, k, kA) != 0 || keyCount(t, k, kB) != 1 || keyCount(t, k, kC) != 1 {
		t.Errorf("after dropping line 1: %s %d, %s %d, %s %d; want 0, 1, 1", kA, keyCount(t, k, kA), kB, keyCount(t, k, kB), kC, keyCount(t, k, kC))
	}
	if st := r.d.Status(); st.RulesLoaded != 2 {
		t.Errorf("after the second reload: %d loaded, want 2", st.RulesLoaded)
	}
	r.halt(t)
}
