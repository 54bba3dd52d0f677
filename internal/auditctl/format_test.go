package auditctl_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

func TestFormatStatus(t *testing.T) {
	var b bytes.Buffer
	err := auditctl.FormatStatus(&b, libaudit.AuditStatus{
		Mask: 0x7f, Enabled: 1, Failure: 1, PID: 4242, RateLimit: 3, BacklogLimit: 8192, Lost: 17,
		Backlog: 5, FeatureBitmap: 0x7f, BacklogWaitTime: 60000, BacklogWaitTimeActual: 4294967295,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "enabled 1\nfailure 1\npid 4242\nrate_limit 3\nbacklog_limit 8192\nlost 17\nbacklog 5\n" +
		"backlog_wait_time 60000\nbacklog_wait_time_actual 4294967295\n"
	if b.String() != want {
		t.Errorf("FormatStatus:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFormatFeatures(t *testing.T) {
	f := func(feat auditctl.Features, want string) {
		t.Helper()
		var b bytes.Buffer
		if err := auditctl.FormatFeatures(&b, feat); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("FormatFeatures(%+v) = %q, want %q", feat, b.String(), want)
		}
	}
	f(auditctl.Features{}, "")
	f(auditctl.Features{Mask: 1, Features: 3, Lock: 3}, "") // only only_unset_loginuid known
	f(auditctl.Features{Version: 1, Mask: 3}, "loginuid_immutable 0 unlocked\n")
	f(auditctl.Features{Version: 1, Mask: 3, Features: 2}, "loginuid_immutable 1 unlocked\n")
	f(auditctl.Features{Version: 1, Mask: 3, Features: 2, Lock: 2}, "loginuid_immutable 1 locked\n")
	f(auditctl.Features{Version: 1, Mask: 0xffffffff, Features: 1, Lock: 1}, "loginuid_immutable 0 unlocked\n")
}

// TestFormatStatusMatchesAuditctl compares FormatStatus+FormatFeatures with
// the real `auditctl -s`, after setting distinctive values. The counters that
// can move between the two reads (lost, backlog, backlog_wait_time_actual)
// are compared by name and position only.
func TestFormatStatusMatchesAuditctl(t *testing.T) {
	bin, err := exec.LookPath("auditctl")
	if err != nil {
		t.Skipf("skipping: auditctl not installed: %v", err)
	}
	k := audittest.Kernel(t)
	c := k.Conn()
	saved := k.Saved()
	k.SetStatus(libaudit.AuditStatus{
		Mask:         libaudit.AuditStatusRateLimit | libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusBacklogWaitTime,
		RateLimit:    saved.RateLimit + 123,
		BacklogLimit: saved.BacklogLimit + 4321,
		// Stay within the kernel's bound of ten times its default.
		BacklogWaitTime: saved.BacklogWaitTime/2 + 7,
	})

	out, err := exec.Command(bin, "-s").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -s: %v\n%s", err, out)
	}
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	feat, err := c.Features()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := auditctl.FormatStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	if err := auditctl.FormatFeatures(&b, feat); err != nil {
		t.Fatal(err)
	}

	theirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	ours := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(theirs) != len(ours) {
		t.Fatalf("auditctl -s printed %d lines, we print %d:\n%s\n--- ours:\n%s", len(theirs), len(ours), out, b.String())
	}
	volatile := map[string]bool{"lost": true, "backlog": true, "backlog_wait_time_actual": true}
	for i := range theirs {
		name, _, _ := strings.Cut(theirs[i], " ")
		ourName, _, _ := strings.Cut(ours[i], " ")
		if name != ourName {
			t.Errorf("line %d: auditctl prints %q, we print %q", i+1, theirs[i], ours[i])
			continue
		}
		if !volatile[name] && theirs[i] != ours[i] {
			t.Errorf("line %d: auditctl prints %q, we print %q", i+1, theirs[i], ours[i])
		}
	}
	for _, want := range []string{"rate_limit ", "backlog_limit ", "backlog_wait_time "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
