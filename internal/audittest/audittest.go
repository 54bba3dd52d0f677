// Package audittest owns the helpers for tests that touch the real kernel
// audit subsystem: Kernel skips a test that lacks the privilege, serializes
// it against every other such test on the machine (auditctl.LockMachine),
// and puts the kernel back the way it found it when the test ends, even when
// the test fails or panics.
//
// What Kernel restores: it deletes the rules added through K.AddRule and any
// rule carrying a key made by K.Key, sets enabled, failure, rate_limit,
// backlog_limit and backlog_wait_time back to the values it saw when the test
// started, and unregisters the audit daemon if the registered pid is the test
// process or a process that no longer exists. Rules left behind that K cannot
// attribute to the test are reported as test errors, not deleted. It cannot
// restore anything if the test binary dies outright (a panic in a goroutine
// other than the test's, a kill, a timeout): the next test then starts from
// the changed settings, which `auditctl -s` and `auditctl -l` show.
//
// Kernel skips the test when the kernel is in failure mode 2 (panic) or its
// audit configuration is locked (enabled 2): a test must never risk a kernel
// panic, and could restore nothing under a lock.
package audittest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/rule"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// LockPath is the machine-wide lock file Kernel holds for the whole test.
const LockPath = auditctl.LockPath

// maxKeyLen bounds the keys Key makes. The kernel accepts keys of up to 256
// bytes; short keys keep records and rule listings readable.
const maxKeyLen = 31

// K is a test's handle on the kernel audit subsystem, returned by Kernel.
//
// Concurrency: K's methods may be called from several goroutines, but the
// ones that fail the test (AddRule, SetStatus, StopAuditd) call t.Fatal and
// so, like t.Fatal itself, belong on the test's goroutine.
type K struct {
	t     testing.TB
	conn  *auditctl.Conn
	saved libaudit.AuditStatus // status when the test started
	rules [][]byte             // rules present when the test started

	mu      sync.Mutex
	added   [][]byte        // rules added with AddRule, in order
	keys    map[string]bool // keys made by Key
	counter int
	stopped []int // pids of the auditd processes StopAuditd stopped
}

// Kernel prepares a test that touches the kernel audit subsystem. It skips
// the test (t.Skipf, with the reason) without root or CAP_AUDIT_CONTROL,
// without kernel audit support, in failure mode 2 or with the configuration
// locked. Otherwise it waits for the machine-wide lock, opens an
// auditctl.Conn, saves the status and the rule list, and registers a cleanup
// that undoes the test's changes (see the package documentation) and then
// releases the lock. A test must not call Kernel twice: the second call would
// wait for the lock the first one holds.
func Kernel(t testing.TB) *K {
	t.Helper()
	conn, err := auditctl.Dial()
	if err != nil {
		if skippable(err) {
			t.Skipf("skipping: requires root with CAP_AUDIT_CONTROL and kernel audit support: %v", err)
		}
		t.Fatalf("audittest: %v", err)
	}
	unlock, ok, err := auditctl.TryLockMachine()
	if err == nil && !ok {
		t.Logf("audittest: waiting for %s: another test or benchmark is using the kernel", LockPath)
		unlock, err = auditctl.LockMachine()
	}
	if err != nil {
		_ = conn.Close()
		t.Fatalf("audittest: %v", err)
	}
	k := &K{t: t, conn: conn, keys: make(map[string]bool)}
	armed := false // set once the state to restore has been saved
	t.Cleanup(func() {
		if armed {
			k.cleanup()
		}
		_ = conn.Close()
		unlock()
	})

	st, err := conn.Status()
	if err != nil {
		t.Fatalf("audittest: %v", err)
	}
	switch {
	case st.Failure == unix.AUDIT_FAIL_PANIC:
		t.Skipf("skipping: kernel audit failure mode is 2 (panic); refusing to touch the kernel")
	case st.Enabled == 2:
		t.Skipf("skipping: kernel audit configuration is locked (enabled 2) until reboot")
	}
	rules, err := conn.Rules()
	if err != nil {
		t.Fatalf("audittest: %v", err)
	}
	k.saved, k.rules = st, rules
	armed = true
	return k
}

// skippable reports whether Dial failed for lack of privilege or of kernel
// support, rather than because something is broken.
func skippable(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, unix.ECONNREFUSED) ||
		errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT)
}

// Conn returns the test's control connection. It is closed when the test
// ends; do not close it.
func (k *K) Conn() *auditctl.Conn { return k.conn }

// Saved returns the audit status as it was when Kernel was called, which the
// cleanup restores.
func (k *K) Saved() libaudit.AuditStatus { return k.saved }

// Key returns a rule key, "adt_<name>_<pid>_<counter>", at most 31 bytes:
// name is cut short and any byte other than a letter, digit or '_' becomes
// '_'. Keys are unique among those of one K, and so among all keys in use on
// the machine, since Kernel lets one test at a time hold a K; a later test in
// the same process may get the same key again. Rules carrying a key made by
// Key are deleted when the test ends, however they were added.
func (k *K) Key(name string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counter++
	key := makeKey(name, os.Getpid(), k.counter)
	k.keys[key] = true
	return key
}

// makeKey builds the key Key returns.
func makeKey(name string, pid, n int) string {
	suffix := fmt.Sprintf("_%d_%d", pid, n)
	clean := []byte(name)
	for i, c := range clean {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			clean[i] = '_'
		}
	}
	if room := maxKeyLen - len("adt_") - len(suffix); len(clean) > room {
		clean = clean[:max(room, 0)]
	}
	return "adt_" + string(clean) + suffix
}

// AddRule parses one rule in auditctl syntax, adds it to the kernel and
// remembers it for deletion when the test ends. It fails the test on error.
func (k *K) AddRule(text string) {
	k.t.Helper()
	rs, err := auditctl.ParseRules(k.t.Name(), strings.NewReader(text))
	if err != nil {
		k.t.Fatalf("audittest: %v", err)
	}
	if len(rs) != 1 {
		k.t.Fatalf("audittest: AddRule(%q): want exactly one rule, got %d", text, len(rs))
	}
	if err := k.conn.AddRule(rs[0].AddWire()); err != nil {
		k.t.Fatalf("audittest: AddRule(%q): %v", text, err)
	}
	k.mu.Lock()
	k.added = append(k.added, rs[0].Wire)
	k.mu.Unlock()
}

// SetStatus sets the fields selected by s.Mask; the cleanup restores them.
// It fails the test for a request that would set failure mode 2, lock the
// configuration (enabled 2) or set the daemon pid (register a daemon through
// its own data socket, and let the cleanup unregister it).
func (k *K) SetStatus(s libaudit.AuditStatus) {
	k.t.Helper()
	switch {
	case s.Mask&libaudit.AuditStatusFailure != 0 && s.Failure == unix.AUDIT_FAIL_PANIC:
		k.t.Fatalf("audittest: SetStatus: refusing failure mode 2 (kernel panic)")
	case s.Mask&libaudit.AuditStatusEnabled != 0 && s.Enabled == 2:
		k.t.Fatalf("audittest: SetStatus: refusing enabled 2 (locks the configuration until reboot)")
	case s.Mask&libaudit.AuditStatusPID != 0:
		k.t.Fatalf("audittest: SetStatus: refusing to set the daemon pid from the control connection")
	}
	if err := k.conn.Set(s); err != nil {
		k.t.Fatalf("audittest: SetStatus: %v", err)
	}
}

// cleanup undoes the test's changes, reporting failures with t.Errorf.
func (k *K) cleanup() {
	t := k.t
	k.mu.Lock()
	added, keys := slices.Clone(k.added), k.keys
	k.mu.Unlock()

	for i := len(added) - 1; i >= 0; i-- {
		if err := k.conn.DeleteRule(added[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Errorf("audittest: cleanup: %v", err)
		}
	}
	k.deleteKeyedRules(keys)
	k.reportLeftoverRules()
	k.restoreStatus()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, pid := range k.stopped {
		t.Logf("audittest: auditd (pid %d) was stopped by this test and not restarted", pid)
	}
}

// deleteKeyedRules deletes the rules carrying a key made by Key.
func (k *K) deleteKeyedRules(keys map[string]bool) {
	if len(keys) == 0 {
		return
	}
	rules, err := k.conn.Rules()
	if err != nil {
		k.t.Errorf("audittest: cleanup: %v", err)
		return
	}
	for _, w := range rules {
		if hasKey(w, keys) {
			if err := k.conn.DeleteRule(w); err != nil {
				k.t.Errorf("audittest: cleanup: %v", err)
			}
		}
	}
}

// reportLeftoverRules reports rules that were not there when the test began.
func (k *K) reportLeftoverRules() {
	rules, err := k.conn.Rules()
	if err != nil {
		k.t.Errorf("audittest: cleanup: %v", err)
		return
	}
	for _, w := range rules {
		if !slices.ContainsFunc(k.rules, func(s []byte) bool { return slices.Equal(s, w) }) {
			text, _ := rule.ToCommandLine(w, false)
			k.t.Errorf("audittest: cleanup: rule added during the test and left in the kernel: %q", text)
		}
	}
}

// restoreStatus puts back the saved settings and unregisters a daemon
// registered by this process.
func (k *K) restoreStatus() {
	cur, err := k.conn.Status()
	if err != nil {
		k.t.Errorf("audittest: cleanup: %v", err)
		return
	}
	switch {
	case cur.PID != 0 && int(cur.PID) == os.Getpid():
		if err := k.conn.Unregister(); err != nil {
			k.t.Errorf("audittest: cleanup: unregistering this test process as audit daemon: %v", err)
		}
	case cur.PID != 0 && errors.Is(unix.Kill(int(cur.PID), 0), unix.ESRCH):
		// A daemon that died without unregistering: the kernel only notices
		// at its next record. Any process may clear such a registration
		// (the kernel first checks the daemon with AUDIT_REPLACE).
		if err := k.conn.Unregister(); err != nil {
			k.t.Errorf("audittest: cleanup: clearing the registration of exited daemon pid %d: %v", cur.PID, err)
		}
	}
	want := libaudit.AuditStatus{
		Enabled: k.saved.Enabled, Failure: k.saved.Failure, RateLimit: k.saved.RateLimit,
		BacklogLimit: k.saved.BacklogLimit, BacklogWaitTime: k.saved.BacklogWaitTime,
	}
	if cur.Enabled != want.Enabled {
		want.Mask |= libaudit.AuditStatusEnabled
	}
	if cur.Failure != want.Failure && want.Failure != unix.AUDIT_FAIL_PANIC {
		want.Mask |= libaudit.AuditStatusFailure
	}
	if cur.RateLimit != want.RateLimit {
		want.Mask |= libaudit.AuditStatusRateLimit
	}
	if cur.BacklogLimit != want.BacklogLimit {
		want.Mask |= libaudit.AuditStatusBacklogLimit
	}
	if cur.BacklogWaitTime != want.BacklogWaitTime {
		want.Mask |= libaudit.AuditStatusBacklogWaitTime
	}
	if want.Mask == 0 {
		return
	}
	if err := k.conn.Set(want); err != nil {
		k.t.Errorf("audittest: cleanup: restoring audit status: %v", err)
	}
}

// hasKey reports whether the wire-format rule w carries one of keys.
func hasKey(w []byte, keys map[string]bool) bool {
	for _, key := range auditctl.RuleKeys(w) {
		if keys[key] {
			return true
		}
	}
	return false
}
