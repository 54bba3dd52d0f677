package rulesd

import (
	"errors"
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
			if err := s.Load(k.Conn(), false); err != nil {
				t.Fatal(err)
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

// TestLoadIsAllOrNothing: a rule the kernel rejects (a duplicate) undoes
// the -D and the rules added before it, and -e is not applied.
func TestLoadIsAllOrNothing(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	initial, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(initial) > 0 {
		t.Skipf("skipping: -D would delete the %d audit rules that were in the kernel before this test", len(initial))
	}
	k0, k1, k2 := k.Key("keep"), k.Key("dup"), k.Key("first")
	k.AddRule("-a always,exit -F arch=b64 -S settimeofday -k " + k0)
	before := readKernel(t, k)
	for _, del := range []string{"-D\n", ""} {
		s, err := mergeFiles(t, map[string]string{
			"x.rules": del + "-w /etc/passwd -p wa -k " + k2 + "\n-A always,exit -F arch=b64 -S kill -k " + k2 + "\n-w /etc/shadow -p wa -k " + k1 + "\n-w /etc/shadow -p wa -k " + k1 + "\n-e 1\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Load(c, false)
		if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "x.rules:") {
			t.Fatalf("Load (%q) = %v, want EEXIST naming x.rules", del, err)
		}
		if after := readKernel(t, k); after != before {
			t.Fatalf("Load (%q) left the kernel changed:\nbefore %+v\nafter  %+v", del, before, after)
		}
	}
}

// TestLoadContinueOnError: with -c, a failing rule is skipped, the rest and
// -e are applied, and the error wraps ErrPartialLoad.
func TestLoadContinueOnError(t *testing.T) {
	k := audittest.Kernel(t)
	k1, k2 := k.Key("dup"), k.Key("after")
	s, err := mergeFiles(t, map[string]string{
		"x.rules": "-c\n-w /etc/shadow -p wa -k " + k1 + "\n-w /etc/shadow -p wa -k " + k1 + "\n-a always,exit -F arch=b64 -S settimeofday -k " + k2 + "\n-e 1\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Load(k.Conn(), false)
	if !errors.Is(err, ErrPartialLoad) || !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Load = %v, want ErrPartialLoad wrapping EEXIST", err)
	}
	got := readKernel(t, k)
	if !strings.Contains(got.rules, k1) || !strings.Contains(got.rules, k2) || got.enabled != 1 {
		t.Fatalf("after a partial load: %+v", got)
	}
}

// TestReloadWithUnload: a set without -D cannot be loaded twice (EEXIST);
// Unload removes exactly its rules, then it loads again.
func TestReloadWithUnload(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	other := k.Key("other")
	k.AddRule("-w /etc/passwd -p wa -k " + other)
	k1, k2 := k.Key("set"), k.Key("set")
	s, err := mergeFiles(t, map[string]string{
		"x.rules": "-A always,exit -F arch=b64 -S kill -k " + k1 + "\n-w /etc/shadow -p wa -k " + k2 + "\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(c, false); err != nil {
		t.Fatal(err)
	}
	loaded := readKernel(t, k)
	if err := s.Load(c, false); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second Load = %v, want EEXIST", err)
	}
	if err := s.Unload(c); err != nil {
		t.Fatal(err)
	}
	if got := readKernel(t, k).rules; strings.Contains(got, k1) || strings.Contains(got, k2) || !strings.Contains(got, other) {
		t.Fatalf("after Unload:\n%s", got)
	}
	if err := s.Unload(c); err != nil {
		t.Fatalf("second Unload: %v", err)
	}
	if err := s.Load(c, false); err != nil {
		t.Fatal(err)
	}
	if got := readKernel(t, k); got != loaded {
		t.Fatalf("reloaded:\n%+v\nfirst load:\n%+v", got, loaded)
	}
}
