package rulesd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

// kernelState is what a rules load changes: the rule listing (auditctl -l)
// and the status settings.
type kernelState struct {
	rules                                                  string
	enabled, failure, rateLimit, backlogLimit, backlogWait uint32
}

func readKernel(t *testing.T, k *audittest.K) kernelState {
	t.Helper()
	out, err := exec.Command("auditctl", "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -l: %v\n%s", err, out)
	}
	st, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	return kernelState{string(out), st.Enabled, st.Failure, st.RateLimit, st.BacklogLimit, st.BacklogWaitTime}
}

// resetKernel deletes the rules carrying one of keys and puts the status
// settings back as they were when the test started.
func resetKernel(t *testing.T, k *audittest.K, keys []string) {
	t.Helper()
	c := k.Conn()
	rules, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rules {
		for _, key := range auditctl.RuleKeys(w) {
			if slices.Contains(keys, key) {
				if err := c.DeleteRule(w); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	s := k.Saved()
	k.SetStatus(libaudit.AuditStatus{
		Mask: libaudit.AuditStatusEnabled | libaudit.AuditStatusFailure | libaudit.AuditStatusRateLimit |
			libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusBacklogWaitTime,
		Enabled: s.Enabled, Failure: s.Failure, RateLimit: s.RateLimit, BacklogLimit: s.BacklogLimit, BacklogWaitTime: s.BacklogWaitTime,
	})
}

// TestLoadMatchesAugenrulesLoad loads rules.d sets with Set.Load and with
// `augenrules --load` (auditctl -R) and compares `auditctl -l` and the status
// settings after each.
func TestLoadMatchesAugenrulesLoad(t *testing.T) {
	augenrulesPath(t)
	k := audittest.Kernel(t)
	initial, err := k.Conn().Rules()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range 8 {
		keys = append(keys, k.Key("rulesd"))
	}
	rules := "-w /etc/shadow -p wa -k " + keys[0] + "\n" +
		"-w /etc/ssh -p wa -k " + keys[1] + "\n" +
		"-w /etc/auditdrain-test-no-such-file -p rwxa -k " + keys[2] + "\n" +
		"-a always,exit -F arch=b64 -S settimeofday,adjtimex -k " + keys[3] + "\n" +
		"-a always,exit -F arch=b64 -S unlinkat -F auid>=1000 -F auid!=-1 -F success=0 -k " + keys[4] + "\n" +
		"-a always,exit -F arch=b32 -S chmod -k " + keys[5] + "\n" +
		"-A always,exit -F arch=b64 -S kill -F a1=9 -k " + keys[6] + "\n" +
		"-a never,exit -F arch=b64 -S getpid -k " + keys[7] + "\n"
	sets := []struct {
		name    string
		files   map[string]string
		deletes bool
	}{
		{"settings and rules", map[string]string{
			"10-settings.rules": "## settings\n-b 320\n-f 1\n--backlog_wait_time 1000\n-r 50\n",
			"20-rules.rules":    rules,
			"99-finalize.rules": "-e 1\n",
		}, false},
		{"delete all first", map[string]string{
			"audit.rules":  strings.Replace(debianRules, "60000", "3000", 1),
			"5-late.rules": "-f 0\n-b 256\n" + rules + "-e 1\n",
		}, true},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			if set.deletes && len(initial) > 0 {
				t.Skipf("skipping: -D would delete the %d audit rules that were in the kernel before this test", len(initial))
			}
			swapRulesD(t, set.files, true)
			t.Cleanup(func() { resetKernel(t, k, keys) })
			s, err := Merge(sysRulesDir)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := s.Load(k.Conn(), false)
			if err != nil || rep.Err() != nil || rep.Loaded != 8 {
				t.Fatalf("Load: %+v, %v", rep, err)
			}
			ours := readKernel(t, k)
			resetKernel(t, k, keys)
			runAugenrules(t, "--load")
			theirs := readKernel(t, k)
			resetKernel(t, k, keys)
			if ours != theirs {
				t.Fatalf("after Set.Load:\n%+v\nafter augenrules --load:\n%+v", ours, theirs)
			}
			if n := strings.Count(ours.rules, "\n"); n != 8 || ours.enabled != 1 {
				t.Fatalf("load had no effect: %d rules, enabled %d:\n%s", n, ours.enabled, ours.rules)
			}
		})
	}
}

// missingDir returns a directory that does not exist, for a watch the
// kernel refuses with ENOENT.
func missingDir(t *testing.T) string {
	return t.TempDir() + "/missing/"
}

// TestLoadRefusedRule: a rule the kernel refuses (a watch on a missing
// directory) is reported with its file and line; the rules before it stay
// loaded; without -c or -i loading stops there, with them it goes on.
func TestLoadRefusedRule(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	start := k.Saved().RateLimit
	cases := []struct {
		name, before, after string
		stops, fails        bool
	}{
		{"no -c or -i", "", "", true, true},
		{"-c", "-c\n", "", false, true},
		{"-i", "-i\n", "", false, false},
		{"-c after the refused line", "", "-c\n", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kA, kB, kC := k.Key("good"), k.Key("refused"), k.Key("after")
			s, err := mergeFiles(t, map[string]string{"x.rules": tc.before +
				"-w /etc/passwd -p wa -k " + kA + "\n" +
				"-a always,exit -F dir=" + missingDir(t) + " -F perm=wa -k " + kB + "\n" + tc.after +
				"-a always,exit -F arch=b64 -S settimeofday -k " + kC + "\n" +
				fmt.Sprintf("-r %d\n", start+7),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resetKernel(t, k, []string{kA, kB, kC}) })
			rep, err := s.Load(c, false)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			line := 2 + strings.Count(tc.before, "\n")
			if len(rep.Refused) != 1 {
				t.Fatalf("refused %+v, want one line", rep.Refused)
			}
			re := rep.Refused[0]
			if !strings.HasSuffix(re.File, "/x.rules") || re.Line != line || !strings.Contains(re.Text, kB) || !errors.Is(re.Err, unix.ENOENT) {
				t.Errorf("refused %+v, want x.rules:%d with ENOENT", re, line)
			}
			want := fmt.Sprintf(`x.rules:%d: %q: refused by the kernel: no such file or directory`, line, re.Text)
			if !strings.Contains(re.Error(), want) {
				t.Errorf("refusal reads %q, want %q in it", re.Error(), want)
			}
			got := readKernel(t, k)
			if !strings.Contains(got.rules, kA) || strings.Contains(got.rules, kB) {
				t.Errorf("rules after Load:\n%s", got.rules)
			}
			if loadedC := strings.Contains(got.rules, kC); loadedC == tc.stops || (got.rateLimit == start+7) == tc.stops {
				t.Errorf("the lines after the refused one: rule loaded %v, rate_limit %d (started %d); want applied %v", loadedC, got.rateLimit, start, !tc.stops)
			}
			if rep.Stopped != tc.stops || (rep.Err() != nil) != tc.fails {
				t.Errorf("report %+v, Err %v; want stopped %v, failing %v", rep, rep.Err(), tc.stops, tc.fails)
			}
			if skip := 2 + strings.Count(tc.after, "\n"); tc.stops && (rep.Loaded != 1 || rep.Skipped != skip) {
				t.Errorf("report %+v, want 1 loaded and %d lines skipped", rep, skip)
			}
			if tc.fails && !errors.Is(rep.Err(), unix.ENOENT) {
				t.Errorf("Err %v does not wrap ENOENT", rep.Err())
			}
		})
	}
}

// TestLoadTwice: loading a set whose rules are already in the kernel (a
// restart) succeeds and counts them as present, without duplicating them;
// a reload to an empty set removes exactly its rules, then it loads again.
func TestLoadTwice(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	other := k.Key("other")
	k.AddRule("-w /etc/passwd -p wa -k " + other)
	k1, k2, k3 := k.Key("set"), k.Key("set"), k.Key("set")
	s, err := mergeFiles(t, map[string]string{
		"x.rules": "-A always,exit -F arch=b64 -S kill -k " + k1 + "\n-w /etc/shadow -p wa -k " + k2 +
			"\n-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=unset -k " + k3 + "\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Load(c, false); err != nil || rep.Loaded != 3 || rep.Present != 0 || len(rep.Refused) != 0 {
		t.Fatalf("Load: %+v, %v", rep, err)
	}
	loaded := readKernel(t, k)
	rep, err := s.Load(c, false)
	if err != nil || rep.Err() != nil || rep.Loaded != 3 || rep.Present != 3 || len(rep.Refused) != 0 {
		t.Fatalf("second Load: %+v, %v; want 3 loaded, all present\n%s", rep, err, readKernel(t, k).rules)
	}
	if got := readKernel(t, k); got != loaded {
		t.Fatalf("after the second Load:\n%+v\nafter the first:\n%+v", got, loaded)
	}
	for _, key := range []string{k1, k2, k3} {
		if n := strings.Count(loaded.rules, key); n != 1 {
			t.Errorf("key %s: %d rules, want 1", key, n)
		}
	}
	// Reloading to an empty set deletes exactly the set's rules.
	if rep, err := (&Set{}).Reload(c, s); err != nil || rep.Deleted != 3 {
		t.Fatalf("Reload to nothing: %+v, %v; want 3 deleted", rep, err)
	}
	if got := readKernel(t, k).rules; strings.Contains(got, k1) || strings.Contains(got, k2) || strings.Contains(got, k3) || !strings.Contains(got, other) {
		t.Fatalf("after Reload to nothing:\n%s", got)
	}
	if rep, err := (&Set{}).Reload(c, s); err != nil || rep.Deleted != 0 {
		t.Fatalf("second Reload to nothing: %+v, %v", rep, err)
	}
	if _, err := s.Load(c, false); err != nil {
		t.Fatal(err)
	}
	if got := readKernel(t, k); got != loaded {
		t.Fatalf("reloaded:\n%+v\nfirst load:\n%+v", got, loaded)
	}
}

// TestLoadFileControlLines: a rules file's -b and --backlog_wait_time are
// applied, as auditctl -R applies them.
func TestLoadFileControlLines(t *testing.T) {
	k := audittest.Kernel(t)
	saved := k.Saved()
	key := k.Key("file")
	backlog, wait := saved.BacklogLimit+17, saved.BacklogWaitTime+23
	path := t.TempDir() + "/audit.rules"
	text := fmt.Sprintf("-b %d\n--backlog_wait_time %d\n-w /etc/shadow -p wa -k %s\n", backlog, wait, key)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Load(k.Conn(), false)
	if err != nil || rep.Err() != nil || rep.Loaded != 1 {
		t.Fatalf("Load: %+v, %v", rep, err)
	}
	got := readKernel(t, k)
	if got.backlogLimit != backlog || got.backlogWait != wait || !strings.Contains(got.rules, key) {
		t.Fatalf("after loading %s: %+v; want backlog_limit %d, backlog_wait_time %d and the rule", path, got, backlog, wait)
	}
}

// TestReload: Reload adds the new rules, keeps the common ones, deletes the
// ones the new set dropped, and reports a refused rule without failing.
func TestReload(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	kA, kB, kC, kD := k.Key("gone"), k.Key("kept"), k.Key("new"), k.Key("refused")
	ruleA := "-w /etc/passwd -p wa -k " + kA + "\n"
	ruleB := "-a always,exit -F arch=b64 -S settimeofday -k " + kB + "\n"
	ruleC := "-a always,exit -F arch=b64 -S adjtimex -k " + kC + "\n"
	ruleD := "-a always,exit -F dir=" + missingDir(t) + " -F perm=wa -k " + kD + "\n"
	old, err := mergeFiles(t, map[string]string{"x.rules": ruleA + ruleB})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Load(c, false); err != nil {
		t.Fatal(err)
	}
	next, err := mergeFiles(t, map[string]string{"x.rules": "-c\n" + ruleB + ruleD + ruleC})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := next.Reload(c, old)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Loaded != 2 || rep.Present != 1 || rep.Deleted != 1 || len(rep.Refused) != 1 || rep.Refused[0].Line != 3 {
		t.Errorf("Reload: %+v, want 2 loaded (1 present), 1 deleted, line 3 refused", rep)
	}
	got := readKernel(t, k).rules
	if strings.Contains(got, kA) || strings.Count(got, kB) != 1 || !strings.Contains(got, kC) || strings.Contains(got, kD) {
		t.Errorf("rules after Reload:\n%s", got)
	}
}

// TestApplyKeepsLoadedRules: a daemon's start (Apply) that finds exactly
// its rules in the kernel, as after a crash or an upgrade, keeps them: no
// -D (nothing deleted, so no moment without rules), all counted present. A
// kernel with other rules gets the full Load, -D included.
func TestApplyKeepsLoadedRules(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	if initial, err := c.Rules(); err != nil {
		t.Fatal(err)
	} else if len(initial) != 0 {
		t.Skipf("skipping: the kernel has %d rules that are not this test's, and the set's -D would delete them", len(initial))
	}
	k1, k2, k3, k4 := k.Key("apply"), k.Key("apply"), k.Key("apply"), k.Key("apply")
	defer resetKernel(t, k, []string{k1, k2, k3, k4})
	backlog := k.Saved().BacklogLimit + 5
	s, err := mergeFiles(t, map[string]string{
		"x.rules": fmt.Sprintf("-D\n-b %d\n-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=unset -k %s\n"+
			"-w /etc/shadow -p wa -k %s\n-A always,exit -F arch=b64 -S kill -k %s\n", backlog, k1, k2, k3),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, unchanged, err := s.Apply(c, nil, false)
	if err != nil || unchanged || rep.Loaded != 3 || rep.Present != 0 {
		t.Fatalf("first Apply: %+v, unchanged %v, %v; want 3 loaded", rep, unchanged, err)
	}
	first := readKernel(t, k)
	if first.backlogLimit != backlog {
		t.Errorf("backlog_limit %d, want the set's %d", first.backlogLimit, backlog)
	}
	rep, unchanged, err = s.Apply(c, nil, false)
	if err != nil || !unchanged || rep.Loaded != 3 || rep.Present != 3 || rep.Deleted != 0 {
		t.Fatalf("second Apply: %+v, unchanged %v, %v; want the rules kept: 3 present, none deleted", rep, unchanged, err)
	}
	if got := readKernel(t, k); got != first {
		t.Fatalf("after the second Apply:\n%+v\nafter the first:\n%+v", got, first)
	}
	// One more rule in the kernel: not the set's state, so Load it is (-D).
	k.AddRule("-a always,exit -F arch=b64 -S getppid -k " + k4)
	rep, unchanged, err = s.Apply(c, nil, false)
	if err != nil || unchanged || rep.Deleted != 4 || rep.Loaded != 3 {
		t.Fatalf("Apply over a changed kernel: %+v, unchanged %v, %v; want -D (4 deleted) and 3 loaded", rep, unchanged, err)
	}
	if got := readKernel(t, k); got != first {
		t.Fatalf("after Apply over a changed kernel:\n%+v\nwant:\n%+v", got, first)
	}
}

// TestControlHolds: a control line is skipped only when the kernel
// already has its value.
func TestControlHolds(t *testing.T) {
	st := libaudit.AuditStatus{Enabled: 1, Failure: 1, RateLimit: 0, BacklogLimit: 8192, BacklogWaitTime: 15000}
	for _, tc := range []struct {
		ctl  control
		want bool
	}{
		{control{ctlBacklog, 8192}, true}, {control{ctlBacklog, 8191}, false},
		{control{ctlFailure, 1}, true}, {control{ctlFailure, 0}, false},
		{control{ctlEnabled, 1}, true}, {control{ctlEnabled, 2}, false},
		{control{ctlRateLimit, 0}, true}, {control{ctlRateLimit, 100}, false},
		{control{ctlBacklogWaitTime, 15000}, true}, {control{ctlBacklogWaitTime, 0}, false},
		{control{ctlResetLost, 0}, false}, {control{ctlDelete, 0}, false},
	} {
		if got := controlHolds(tc.ctl, st); got != tc.want {
			t.Errorf("controlHolds(%+v) = %v, want %v", tc.ctl, got, tc.want)
		}
	}
}
