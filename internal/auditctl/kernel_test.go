package auditctl_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/rule"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

// parseOne parses a single rule line.
func parseOne(t testing.TB, text string) auditctl.Rule {
	t.Helper()
	rs, err := auditctl.ParseRules(t.Name(), strings.NewReader(text))
	if err != nil || len(rs) != 1 {
		t.Fatalf("ParseRules(%q) = %d rules, %v", text, len(rs), err)
	}
	return rs[0]
}

// rulesWithKeys returns the kernel's rules carrying any of keys, in order.
func rulesWithKeys(t testing.TB, c *auditctl.Conn, keys ...string) [][]byte {
	t.Helper()
	all, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, w := range all {
		if slices.ContainsFunc(auditctl.RuleKeys(w), func(k string) bool { return slices.Contains(keys, k) }) {
			out = append(out, w)
		}
	}
	return out
}

func TestStatusRoundTrip(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	before, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if before.FeatureBitmap == 0 {
		t.Errorf("status has no feature bitmap: %+v", before)
	}

	check := func(what string, set func() error, get func(libaudit.AuditStatus) uint32, want uint32) {
		t.Helper()
		if err := set(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		st, err := c.Status()
		if err != nil {
			t.Fatal(err)
		}
		if got := get(st); got != want {
			t.Errorf("%s: read back %d, want %d", what, got, want)
		}
	}
	bl := before.BacklogLimit + 97
	check("SetBacklogLimit", func() error { return c.SetBacklogLimit(bl) },
		func(s libaudit.AuditStatus) uint32 { return s.BacklogLimit }, bl)
	check("SetRateLimit", func() error { return c.SetRateLimit(before.RateLimit + 5) },
		func(s libaudit.AuditStatus) uint32 { return s.RateLimit }, before.RateLimit+5)
	check("SetBacklogWaitTime", func() error { return c.SetBacklogWaitTime(before.BacklogWaitTime/3 + 1) },
		func(s libaudit.AuditStatus) uint32 { return s.BacklogWaitTime }, before.BacklogWaitTime/3+1)
	check("SetEnabled", func() error { return c.SetEnabled(before.Enabled) },
		func(s libaudit.AuditStatus) uint32 { return s.Enabled }, before.Enabled)
	check("Set two fields", func() error {
		return c.Set(libaudit.AuditStatus{
			Mask:         libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusRateLimit,
			BacklogLimit: bl + 1, RateLimit: before.RateLimit,
		})
	}, func(s libaudit.AuditStatus) uint32 { return s.BacklogLimit + s.RateLimit }, bl+1+before.RateLimit)

	// The kernel's errno comes back wrapped.
	err = c.SetBacklogWaitTime(0xffffffff) // over ten times the kernel default
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "backlog_wait_time=4294967295") {
		t.Errorf("SetBacklogWaitTime(max): error %v, want EINVAL naming the value", err)
	}
	if err := c.SetEnabled(7); !errors.Is(err, unix.EINVAL) {
		t.Errorf("SetEnabled(7): error %v, want EINVAL", err)
	}
}

func TestFeatures(t *testing.T) {
	c := audittest.Kernel(t).Conn()
	f, err := c.Features()
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != unix.AUDIT_FEATURE_VERSION || f.Mask&(1<<unix.AUDIT_FEATURE_LOGINUID_IMMUTABLE) == 0 {
		t.Errorf("Features = %+v, want version %d and loginuid_immutable known", f, unix.AUDIT_FEATURE_VERSION)
	}
}

// TestPanicRefusedNothingSent sends, through Set, requests that would set
// failure mode 2 and checks that they are refused before reaching the
// kernel. Each request also asks for enabled 99, which the kernel rejects
// (EINVAL) before it looks at the failure mode, so even a broken guard could
// not set mode 2: getting ErrPanicRefused rather than EINVAL is what proves
// nothing was sent. SetFailure(2, false) is only tested on a zero Conn
// (internal_test.go), never against the kernel.
func TestPanicRefusedNothingSent(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	before, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	reqs := []libaudit.AuditStatus{
		{Mask: libaudit.AuditStatusEnabled | libaudit.AuditStatusFailure, Enabled: 99, Failure: 2},
		{
			Mask:    libaudit.AuditStatusEnabled | libaudit.AuditStatusFailure | libaudit.AuditStatusBacklogLimit,
			Enabled: 99, Failure: 2, BacklogLimit: before.BacklogLimit + 1,
		},
	}
	for i, r := range reqs {
		err := c.Set(r)
		if !errors.Is(err, auditctl.ErrPanicRefused) {
			t.Errorf("request %d: error %v, want ErrPanicRefused", i, err)
		}
		if errors.Is(err, unix.EINVAL) {
			t.Errorf("request %d reached the kernel: %v", i, err)
		}
	}
	// The same request with failure 1 does reach the kernel, which rejects
	// it on the enabled value before touching the failure mode.
	err = c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusEnabled | libaudit.AuditStatusFailure, Enabled: 99, Failure: 1})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("control request: error %v, want EINVAL from the kernel", err)
	}
	after, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Failure != before.Failure || after.BacklogLimit != before.BacklogLimit || after.Enabled != before.Enabled {
		t.Errorf("status changed: before %+v, after %+v", before, after)
	}
}

func TestRuleAddListDelete(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	key := k.Key("list")
	r := parseOne(t, "-a always,exit -F arch=b64 -S getppid -k "+key)
	if err := c.AddRule(r.Wire); err != nil {
		t.Fatal(err)
	}
	got := rulesWithKeys(t, c, key)
	if len(got) != 1 {
		t.Fatalf("%d rules with key %s after AddRule, want 1", len(got), key)
	}
	if !slices.Equal(got[0], r.Wire) {
		t.Errorf("the kernel lists the rule as %d bytes, ParseRules made %d: Wire must compare equal to the listing", len(got[0]), len(r.Wire))
	}
	text, err := rule.ToCommandLine(got[0], false)
	if want := "-a always,exit -F arch=b64 -S getppid -F key=" + key; err != nil || text != want {
		t.Errorf("listed rule %q (%v), want %q", text, err, want)
	}
	if err := c.AddRule(r.Wire); !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), key) {
		t.Errorf("adding it twice: error %v, want EEXIST naming the rule", err)
	}
	if err := c.DeleteRule(r.Wire); err != nil {
		t.Fatal(err)
	}
	if got := rulesWithKeys(t, c, key); len(got) != 0 {
		t.Errorf("%d rules with key %s after DeleteRule", len(got), key)
	}
	if err := c.DeleteRule(r.Wire); !errors.Is(err, unix.ENOENT) {
		t.Errorf("deleting it twice: error %v, want ENOENT", err)
	}

	// A watch, deleted with the wire format the kernel listed.
	wkey := k.Key("watch")
	path := t.TempDir() + "/watched"
	w := parseOne(t, "-w "+path+" -p wa -k "+wkey)
	if err := c.AddRule(w.Wire); err != nil {
		t.Fatal(err)
	}
	got = rulesWithKeys(t, c, wkey)
	if len(got) != 1 {
		t.Fatalf("%d rules with key %s, want 1", len(got), wkey)
	}
	if !slices.Equal(got[0], w.Wire) {
		t.Errorf("the kernel lists the watch as %d bytes, ParseRules made %d", len(got[0]), len(w.Wire))
	}
	if text, _ := rule.ToCommandLine(got[0], false); text != "-w "+path+" -p wa -k "+wkey {
		t.Errorf("listed watch %q", text)
	}
	if err := c.DeleteRule(got[0]); err != nil {
		t.Fatal(err)
	}
	if got := rulesWithKeys(t, c, wkey); len(got) != 0 {
		t.Errorf("watch still listed after DeleteRule")
	}
}

// TestRulesMultipart lists enough rules that the kernel's reply spans many
// datagrams, and checks they come back complete and in order.
func TestRulesMultipart(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	const n = 64
	var rs []auditctl.Rule
	var keys []string
	for i := range n {
		key := k.Key("multi")
		keys = append(keys, key)
		rs = append(rs, auditctl.Rule{File: "gen", Line: i + 1, Wire: parseOne(t, "-a always,exit -F arch=b64 -S getppid -k "+key).Wire})
	}
	if err := c.AddRules(rs); err != nil {
		t.Fatal(err)
	}
	got := rulesWithKeys(t, c, keys...)
	if len(got) != n {
		t.Fatalf("listed %d of our %d rules", len(got), n)
	}
	for i, w := range got {
		if ks := auditctl.RuleKeys(w); len(ks) != 1 || ks[0] != keys[i] {
			t.Fatalf("rule %d has keys %q, want %s", i, ks, keys[i])
		}
	}
	for _, w := range got {
		if err := c.DeleteRule(w); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAddRulesAllOrNothing(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	f := func(name, bad string, wantErr error) {
		t.Helper()
		k1, k2 := k.Key(name), k.Key(name)
		if strings.Contains(bad, "%s") {
			bad = fmt.Sprintf(bad, k1)
		}
		in := "# first two are fine\n" +
			"-a always,exit -F arch=b64 -S getppid -k " + k1 + "\n" +
			"-a always,exit -F arch=b64 -S getpid -k " + k2 + "\n" +
			bad + "\n" +
			"-a always,exit -F arch=b64 -S gettid -k " + k2 + "\n"
		rs, err := auditctl.ParseRules("/etc/x.rules", strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		err = c.AddRules(rs)
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: AddRules error %v, want %v", name, err, wantErr)
		}
		if want := fmt.Sprintf("auditctl: adding rule /etc/x.rules:4 %q: ", bad); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want prefix %q", name, err, want)
		}
		if got := rulesWithKeys(t, c, k1, k2); len(got) != 0 {
			t.Errorf("%s: %d rules left after a failed AddRules", name, len(got))
		}
	}
	f("dup", "-a always,exit -F arch=b64 -S getppid -k %s", unix.EEXIST)
	f("noparent", fmt.Sprintf("-w /nonexistent-adt-%d/sub/file -p wa", os.Getpid()), unix.ENOENT)

	// And all rules go in when all are valid.
	k3 := k.Key("ok")
	rs, err := auditctl.ParseRules("ok.rules", strings.NewReader(
		"-a always,exit -F arch=b64 -S getppid -k "+k3+"\n-w /etc/hostname -p wa -k "+k3+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddRules(rs); err != nil {
		t.Fatal(err)
	}
	if got := rulesWithKeys(t, c, k3); len(got) != 2 {
		t.Errorf("%d rules after AddRules, want 2", len(got))
	}
}

func TestDeleteAllRules(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	pre, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(pre) != 0 {
		t.Skipf("skipping: the kernel has %d rules this test would delete", len(pre))
	}
	for _, sc := range []string{"getppid", "getpid", "gettid"} {
		k.AddRule("-a always,exit -F arch=b64 -S " + sc + " -k " + k.Key("delall"))
	}
	n, err := c.DeleteAllRules()
	if err != nil || n != 3 {
		t.Errorf("DeleteAllRules = %d, %v; want 3, nil", n, err)
	}
	if rs, err := c.Rules(); err != nil || len(rs) != 0 {
		t.Errorf("after DeleteAllRules: %d rules, %v", len(rs), err)
	}
}

func TestUnregisterWithoutDaemon(t *testing.T) {
	k := audittest.Kernel(t)
	c := k.Conn()
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 0 {
		t.Skipf("skipping: an audit daemon (pid %d) is registered", st.PID)
	}
	if err := c.Unregister(); err != nil {
		t.Errorf("Unregister with no daemon: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	c, err := auditctl.Dial()
	if err != nil {
		t.Skipf("skipping: requires root with CAP_AUDIT_CONTROL: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Status(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Status after Close: %v, want os.ErrClosed", err)
	}
	if _, err := c.Rules(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Rules after Close: %v, want os.ErrClosed", err)
	}
}

// TestConcurrentRequests checks that concurrent callers each get their own
// reply (run with -race).
func TestConcurrentRequests(t *testing.T) {
	c, err := auditctl.Dial()
	if err != nil {
		t.Skipf("skipping: requires root with CAP_AUDIT_CONTROL: %v", err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for range 50 {
				var err error
				if g%2 == 0 {
					_, err = c.Status()
				} else {
					_, err = c.Rules()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDialUnprivileged checks the error Dial gives without
// CAP_AUDIT_CONTROL: directly when not root, else by running this test
// binary under setpriv with the capability dropped.
func TestDialUnprivileged(t *testing.T) {
	if os.Getenv("AUDITCTL_TEST_UNPRIVILEGED") == "1" || os.Geteuid() != 0 {
		_, err := auditctl.Dial()
		const want = "auditctl: opening audit control socket: requires root or CAP_AUDIT_CONTROL: "
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, unix.EPERM) {
			t.Fatalf("Dial without CAP_AUDIT_CONTROL: error %v, want prefix %q wrapping EPERM", err, want)
		}
		fmt.Println("UNPRIVILEGED_DIAL_CHECKED:", err)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("skipping: setpriv not installed: %v", err)
	}
	cmd := exec.Command(setpriv, "--inh-caps=-audit_control", "--bounding-set=-audit_control", "--",
		os.Args[0], "-test.run=^TestDialUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), "AUDITCTL_TEST_UNPRIVILEGED=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "UNPRIVILEGED_DIAL_CHECKED") {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
}

func BenchmarkStatus(b *testing.B) {
	c, err := auditctl.Dial()
	if err != nil {
		b.Skipf("skipping: requires root with CAP_AUDIT_CONTROL: %v", err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Status(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatusSocket reads the status on the blocking status socket: the
// same settings as the control connection sees, and no allocation per poll.
func TestStatusSocket(t *testing.T) {
	k := audittest.Kernel(t)
	s, err := auditctl.OpenStatusSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Status()
	if err != nil {
		t.Fatal(err)
	}
	if got.FeatureBitmap == 0 || got.Enabled != want.Enabled || got.BacklogLimit != want.BacklogLimit ||
		got.BacklogWaitTime != want.BacklogWaitTime || got.Failure != want.Failure || got.PID != want.PID {
		t.Errorf("status socket says %+v, control connection %+v", got, want)
	}
	if n := testing.AllocsPerRun(20, func() {
		if _, err := s.Status(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Status allocates %.1f times per call, want 0", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Status after Close: %v, want os.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
