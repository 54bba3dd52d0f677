package auditctl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func TestStatusWireFormat(t *testing.T) {
	s := libaudit.AuditStatus{
		Mask: 0x3f, Enabled: 1, Failure: 2, PID: 3, RateLimit: 4, BacklogLimit: 5, Lost: 6,
		Backlog: 7, FeatureBitmap: 8, BacklogWaitTime: 9, BacklogWaitTimeActual: 10,
	}
	b := marshalStatus(s)
	if len(b) != 44 {
		t.Fatalf("marshalStatus: %d bytes, want 44", len(b))
	}
	for i, want := range []uint32{0x3f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} {
		if got := binary.NativeEndian.Uint32(b[4*i:]); got != want {
			t.Errorf("word %d = %d, want %d", i, got, want)
		}
	}
	// libaudit's own decoder must agree with our encoding.
	var viaLib libaudit.AuditStatus
	if err := viaLib.FromWireFormat(b); err != nil {
		t.Fatal(err)
	}
	if viaLib != s {
		t.Errorf("libaudit decodes %+v, want %+v", viaLib, s)
	}
	got, err := unmarshalStatus(b)
	if err != nil || got != s {
		t.Errorf("unmarshalStatus = %+v, %v; want %+v", got, err, s)
	}
	// Longer replies from future kernels: extra bytes ignored.
	if got, err := unmarshalStatus(append(b, 1, 2, 3, 4)); err != nil || got != s {
		t.Errorf("unmarshalStatus(48 bytes) = %+v, %v", got, err)
	}
}

func TestStatusShortReply(t *testing.T) {
	full := marshalStatus(libaudit.AuditStatus{Enabled: 1, Backlog: 7, FeatureBitmap: 8, BacklogWaitTime: 9})
	f := func(n int, want libaudit.AuditStatus, wantErr bool) {
		t.Helper()
		got, err := unmarshalStatus(full[:n])
		if (err != nil) != wantErr {
			t.Fatalf("unmarshalStatus(%d bytes) error = %v, want error %v", n, err, wantErr)
		}
		if wantErr {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
			}
			return
		}
		if got != want {
			t.Errorf("unmarshalStatus(%d bytes) = %+v, want %+v", n, got, want)
		}
	}
	f(31, libaudit.AuditStatus{}, true)
	f(32, libaudit.AuditStatus{Enabled: 1, Backlog: 7}, false) // 2.6.32 layout
	f(40, libaudit.AuditStatus{Enabled: 1, Backlog: 7, FeatureBitmap: 8, BacklogWaitTime: 9}, false)
}

func TestSplitArgs(t *testing.T) {
	f := func(in string, want []string, wantErr bool) {
		t.Helper()
		got, err := splitArgs(in)
		if (err != nil) != wantErr {
			t.Fatalf("splitArgs(%q) error = %v, want error %v", in, err, wantErr)
		}
		if !wantErr && !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q, want %q", in, got, want)
		}
	}
	f("-a always,exit  -S open\t-k x", []string{"-a", "always,exit", "-S", "open", "-k", "x"}, false)
	f(`-w '/a b' -k "x y" -k z\ w`, []string{"-w", "/a b", "-k", "x y", "-k", "z w"}, false)
	f(`-k "a\"b\\c\d"`, []string{"-k", `a"b\c\d`}, false)
	f(`-k ''`, []string{"-k", ""}, false)
	f(`-k 'x`, nil, true)
	f(`-k "x`, nil, true)
	f(`-k x\`, nil, true)
}

func TestRuleKeysMalformed(t *testing.T) {
	for _, n := range []int{0, 10, ruleBufOff - 1} {
		if k := RuleKeys(make([]byte, n)); k != nil {
			t.Errorf("RuleKeys(%d zero bytes) = %q, want nil", n, k)
		}
	}
	// A field count above 64 or a buffer length past the end is rejected.
	w := make([]byte, ruleBufOff+8)
	binary.NativeEndian.PutUint32(w[8:], 65)
	if k := RuleKeys(w); k != nil {
		t.Errorf("RuleKeys(65 fields) = %q", k)
	}
	binary.NativeEndian.PutUint32(w[8:], 1)
	binary.NativeEndian.PutUint32(w[ruleFieldsOff:], 210)
	binary.NativeEndian.PutUint32(w[ruleValuesOff:], 9) // key of 9 bytes, only 8 in the buffer
	binary.NativeEndian.PutUint32(w[ruleBufLenOff:], 8)
	if k := RuleKeys(w); k != nil {
		t.Errorf("RuleKeys(key past buffer) = %q", k)
	}
	binary.NativeEndian.PutUint32(w[ruleValuesOff:], 8)
	copy(w[ruleBufOff:], "ab\x01cdefg")
	if k := RuleKeys(w); !slices.Equal(k, []string{"ab", "cdefg"}) {
		t.Errorf("RuleKeys = %q, want [ab cdefg]", k)
	}
}

// TestZeroConnRefusesPanicFirst checks, with no kernel involved, that the
// failure-2 guard runs before anything else: on a zero Conn a refused
// request reports ErrPanicRefused, and an allowed one reaches the (absent)
// socket and reports ErrNotDialed.
func TestZeroConnRefusesPanicFirst(t *testing.T) {
	var c Conn
	refused := []error{
		c.SetFailure(2, false),
		c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusFailure, Failure: 2}),
		c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusFailure | libaudit.AuditStatusBacklogLimit, Failure: 2, BacklogLimit: 5}),
	}
	for i, err := range refused {
		if !errors.Is(err, ErrPanicRefused) {
			t.Errorf("request %d: error %v, want ErrPanicRefused", i, err)
		}
	}
	passed := []error{
		c.SetFailure(2, true), // allowed: would be sent
		c.SetFailure(1, false),
		c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusBacklogLimit, Failure: 2}), // failure not in the mask
	}
	for i, err := range passed {
		if !errors.Is(err, ErrNotDialed) {
			t.Errorf("allowed request %d: error %v, want ErrNotDialed", i, err)
		}
	}
	if _, err := c.Status(); !errors.Is(err, ErrNotDialed) {
		t.Errorf("Status on zero Conn: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close on zero Conn: %v", err)
	}
}

// TestTimeoutReplacesSocket sends a request the kernel never answers
// (AUDIT_USER without NLM_F_ACK while auditing is off) and checks that the
// wait ends at the deadline and that the Conn still works afterwards, on a
// fresh socket.
func TestTimeoutReplacesSocket(t *testing.T) {
	c, err := Dial()
	if err != nil {
		t.Skipf("skipping: requires root with CAP_AUDIT_CONTROL: %v", err)
	}
	defer c.Close()
	unlock, err := LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled != 0 {
		t.Skipf("skipping: auditing is enabled (%d); AUDIT_USER would log a record", st.Enabled)
	}
	c.timeout = 100 * time.Millisecond
	old := c.nl.Load()
	start := time.Now()
	_, err = c.get(unix.AUDIT_USER)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unanswered request: error %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("unanswered request took %v, want about 100ms", d)
	}
	if c.nl.Load() == old {
		t.Errorf("socket not replaced after a timeout")
	}
	if _, err := c.Status(); err != nil {
		t.Errorf("Status after timeout: %v", err)
	}
}

func TestTryLockMachineConflicts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("skipping: creating %s requires root", LockPath)
	}
	unlock, err := LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// flock locks belong to open files: a second open in this process
	// conflicts like another process would.
	u2, ok, err := TryLockMachine()
	if err != nil || ok {
		if ok {
			u2()
		}
		t.Fatalf("TryLockMachine while locked = %v, %v; want false, nil", ok, err)
	}
	unlock()
	unlock() // idempotent
}

// -A rules keep their prepend flag for the add, which go-libaudit's
// rule.Build loses; Wire stays as the kernel lists the rule.
func TestParseRulesPrepend(t *testing.T) {
	rs, err := ParseRules("t.rules", strings.NewReader("-A always,exit -F arch=b64 -S getppid -k x\n-a always,exit -F arch=b64 -S getppid -k y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].Prepend || rs[1].Prepend {
		t.Fatalf("Prepend = %v, %v; want true, false", rs[0].Prepend, rs[1].Prepend)
	}
	flags := func(w []byte) uint32 { return binary.NativeEndian.Uint32(w) }
	if flags(rs[0].AddWire())&auditFilterPrepend == 0 || flags(rs[0].Wire)&auditFilterPrepend != 0 {
		t.Fatalf("-A: AddWire flags %#x, Wire flags %#x", flags(rs[0].AddWire()), flags(rs[0].Wire))
	}
	if !bytes.Equal(rs[1].AddWire(), rs[1].Wire) {
		t.Fatal("-a: AddWire differs from Wire")
	}
}

// TestParseRulesKernelLength: Wire is as long as the kernel lists the rule
// (struct audit_rule_data and buflen bytes), not go-libaudit's padded
// length, so that it compares equal to the kernel's listing.
func TestParseRulesKernelLength(t *testing.T) {
	for _, text := range []string{
		"-a always,exit -F arch=b64 -S getppid -k k",    // 1 byte of strings
		"-a always,exit -F arch=b64 -S getppid -k key",  // 3
		"-a always,exit -F arch=b64 -S getppid -k keys", // 4: no padding
		"-w /etc/hostname -p wa -k x",
		"-a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale",
		"-a always,exit -F arch=b64 -S getppid",
	} {
		rs, err := ParseRules("t", strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		w := rs[0].Wire
		if want := ruleBufOff + int(binary.NativeEndian.Uint32(w[ruleBufLenOff:])); len(w) != want {
			t.Errorf("%q: %d bytes, want %d", text, len(w), want)
		}
	}
}

// TestKernelErrno tells the kernel's answers from other failures.
func TestKernelErrno(t *testing.T) {
	answer := fmt.Errorf("auditctl: adding rule: %w", &netlink.OpError{Op: "receive", Err: unix.EEXIST})
	if errno, ok := KernelErrno(answer); !ok || errno != unix.EEXIST {
		t.Errorf("KernelErrno(%v) = %v, %v", answer, errno, ok)
	}
	for _, err := range []error{
		nil,
		errors.New("no reply"),
		&netlink.OpError{Op: "receive", Err: os.ErrDeadlineExceeded},
		&netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)},
		&netlink.OpError{Op: "receive", Err: unix.Errno(0)},
		ErrPanicRefused,
	} {
		if errno, ok := KernelErrno(err); ok {
			t.Errorf("KernelErrno(%v) = %v, true; want false", err, errno)
		}
	}
}
