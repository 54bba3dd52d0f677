package audittest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

func TestMakeKey(t *testing.T) {
	f := func(name string, pid, n int, want string) {
		t.Helper()
		got := makeKey(name, pid, n)
		if got != want {
			t.Errorf("makeKey(%q, %d, %d) = %q, want %q", name, pid, n, got, want)
		}
		if len(got) > maxKeyLen {
			t.Errorf("makeKey(%q, %d, %d) = %q: %d bytes, over %d", name, pid, n, got, len(got), maxKeyLen)
		}
	}
	f("list", 123, 1, "adt_list_123_1")
	f("a-b c/d", 7, 2, "adt_a_b_c_d_7_2")
	f("averyveryverylongtestname", 4194304, 12, "adt_averyveryverylon_4194304_12")
	f("", 1, 1, "adt__1_1")
	f("x", 4194304, 1<<40, "adt_x_4194304_1099511627776")
}

// restingState reads the kernel's audit status and rules while holding the
// machine lock, that is, between tests, when every test has restored what
// it changed.
func restingState(t *testing.T) (libaudit.AuditStatus, [][]byte) {
	t.Helper()
	c, err := auditctl.Dial()
	if err != nil {
		t.Skipf("skipping: requires root with CAP_AUDIT_CONTROL: %v", err)
	}
	defer c.Close()
	unlock, err := auditctl.LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	return st, rs
}

// sameSettings compares the fields Kernel restores.
func sameSettings(a, b libaudit.AuditStatus) bool {
	return a.Enabled == b.Enabled && a.Failure == b.Failure && a.RateLimit == b.RateLimit &&
		a.BacklogLimit == b.BacklogLimit && a.BacklogWaitTime == b.BacklogWaitTime && a.PID == b.PID
}

func TestKernelRestores(t *testing.T) {
	var (
		ran   bool
		saved libaudit.AuditStatus
		keys  []string
	)
	t.Run("changes", func(t *testing.T) {
		k := Kernel(t)
		ran, saved = true, k.Saved()
		k.SetStatus(libaudit.AuditStatus{
			Mask:         libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusRateLimit | libaudit.AuditStatusBacklogWaitTime,
			BacklogLimit: saved.BacklogLimit + 11, RateLimit: saved.RateLimit + 3, BacklogWaitTime: saved.BacklogWaitTime/2 + 1,
		})
		k1, k2 := k.Key("restore"), k.Key("restore")
		keys = []string{k1, k2}
		k.AddRule("-a always,exit -F arch=b64 -S getppid -k " + k1)
		// Added behind K's back, but with a key K made: deleted too.
		rs, err := auditctl.ParseRules("direct", strings.NewReader("-w /etc/hostname -p wa -k "+k2))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Conn().AddRules(rs); err != nil {
			t.Fatal(err)
		}
		st, err := k.Conn().Status()
		if err != nil {
			t.Fatal(err)
		}
		if sameSettings(st, saved) {
			t.Fatalf("SetStatus changed nothing: %+v", st)
		}
	})
	if !ran {
		t.Skip("skipping: the subtest skipped")
	}
	st, rs := restingState(t)
	if !sameSettings(st, saved) {
		t.Errorf("status not restored:\n got %+v\nwant %+v", st, saved)
	}
	for _, w := range rs {
		for _, key := range auditctl.RuleKeys(w) {
			if slices.Contains(keys, key) {
				t.Errorf("rule with key %s left behind", key)
			}
		}
	}
}

// TestCleanupAfterPanic runs a test that changes the kernel and then panics,
// in a child process, and checks that its cleanup still restored everything.
func TestCleanupAfterPanic(t *testing.T) {
	if os.Getenv("AUDITTEST_HELPER") == "panic" {
		k := Kernel(t)
		s := k.Saved()
		k.SetStatus(libaudit.AuditStatus{Mask: libaudit.AuditStatusBacklogLimit, BacklogLimit: s.BacklogLimit + 13})
		key := k.Key("panic")
		k.AddRule("-a always,exit -F arch=b64 -S getppid -k " + key)
		fmt.Printf("HELPER_KEY=%s\n", key)
		panic("audittest helper panics on purpose")
	}
	before, _ := restingState(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanupAfterPanic$", "-test.v")
	cmd.Env = append(os.Environ(), "AUDITTEST_HELPER=panic")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("helper did not fail:\n%s", out)
	}
	m := regexp.MustCompile(`HELPER_KEY=(\S+)`).FindSubmatch(out)
	if m == nil || !strings.Contains(string(out), "audittest helper panics on purpose") {
		t.Fatalf("helper did not reach its panic: %v\n%s", err, out)
	}
	key := string(m[1])
	after, rs := restingState(t)
	if !sameSettings(before, after) {
		t.Errorf("status not restored after a panic:\n got %+v\nwant %+v", after, before)
	}
	for _, w := range rs {
		if slices.Contains(auditctl.RuleKeys(w), key) {
			t.Errorf("rule with key %s left behind after a panic", key)
		}
	}
}

// register makes this process the registered audit daemon through a socket
// of its own, as a reader would, and returns that socket.
func register(t *testing.T) *netlink.Conn {
	t.Helper()
	nl, err := netlink.Dial(unix.NETLINK_AUDIT, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 44) // struct audit_status: mask, enabled, failure, pid, ...
	binary.NativeEndian.PutUint32(b[0:], uint32(libaudit.AuditStatusPID))
	binary.NativeEndian.PutUint32(b[12:], uint32(os.Getpid()))
	if _, err := nl.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.AUDIT_SET, Flags: netlink.Request | netlink.Acknowledge},
		Data:   b,
	}); err != nil {
		_ = nl.Close()
		t.Fatalf("registering as audit daemon: %v", err)
	}
	return nl
}

// TestStopAuditdLeavesOthers registers this test process as the audit daemon
// and checks that StopAuditd leaves it alone (it is not auditd; had it been
// signalled, this test would have died) and that the cleanup unregisters it.
func TestStopAuditdLeavesOthers(t *testing.T) {
	ran := false
	t.Run("registered", func(t *testing.T) {
		k := Kernel(t)
		if k.Saved().PID != 0 {
			t.Skipf("skipping: an audit daemon (pid %d) is registered", k.Saved().PID)
		}
		nl := register(t)
		defer nl.Close()
		ran = true
		st, err := k.Conn().Status()
		if err != nil || int(st.PID) != os.Getpid() {
			t.Fatalf("after registering: pid %d, %v; want %d", st.PID, err, os.Getpid())
		}
		k.StopAuditd()
		if len(k.stopped) != 0 {
			t.Errorf("StopAuditd stopped %v", k.stopped)
		}
	})
	if !ran {
		t.Skip("skipping: the subtest skipped")
	}
	st, _ := restingState(t)
	if st.PID != 0 {
		t.Errorf("registered pid %d after the cleanup, want 0", st.PID)
	}
}

// TestStopAuditd starts auditd in the foreground as a child (so this test
// only ever signals a process it started) and checks that StopAuditd stops
// it and that the kernel no longer lists it.
func TestStopAuditd(t *testing.T) {
	bin, err := exec.LookPath("auditd")
	if err != nil {
		t.Skipf("skipping: auditd not installed: %v", err)
	}
	k := Kernel(t)
	if k.Saved().PID != 0 {
		t.Skipf("skipping: an audit daemon (pid %d) is already registered", k.Saved().PID)
	}
	cmd := exec.Command(bin, "-n", "-s", "nochange")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot start auditd: %v", err)
	}
	exited := make(chan struct{}) // closed once the child is reaped
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default: // StopAuditd failed: stop our own child
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				t.Errorf("auditd child pid %d not reaped 5s after SIGKILL", cmd.Process.Pid)
			}
		}
	})

	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := k.Conn().Status()
		if err != nil {
			t.Fatal(err)
		}
		if int(st.PID) == cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("skipping: auditd did not register within 5s (pid %d registered):\n%s", st.PID, out)
		}
		time.Sleep(20 * time.Millisecond)
	}

	k.StopAuditd()
	if !slices.Equal(k.stopped, []int{cmd.Process.Pid}) {
		t.Errorf("stopped %v, want [%d]", k.stopped, cmd.Process.Pid)
	}
	select {
	case <-exited:
	case <-time.After(time.Second):
		t.Fatalf("auditd still running after StopAuditd returned")
	}
	st, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	if int(st.PID) == cmd.Process.Pid {
		t.Errorf("kernel still lists auditd pid %d", st.PID)
	}
}

func TestSkippable(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := skippable(err); got != want {
			t.Errorf("skippable(%v) = %v, want %v", err, got, want)
		}
	}
	f(fmt.Errorf("x: %w", unix.EPERM), true)
	f(fmt.Errorf("x: %w", unix.EACCES), true)
	f(fmt.Errorf("x: %w", unix.ECONNREFUSED), true)
	f(fmt.Errorf("x: %w", unix.EPROTONOSUPPORT), true)
	f(fmt.Errorf("x: %w", unix.EINVAL), false)
	f(errors.New("other"), false)
}
