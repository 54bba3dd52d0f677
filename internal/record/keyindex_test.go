package record

import (
	"encoding/hex"
	"strings"
	"testing"
)

func hexKey(keys ...string) string {
	return strings.ToUpper(hex.EncodeToString([]byte(strings.Join(keys, "\x01"))))
}

// TestKeyIndex includes the cases on which the overflow policy and the
// rate limiter used to disagree (a multi-key rule, URINGOP).
func TestKeyIndex(t *testing.T) {
	x := NewKeyIndex([]string{"a", "b c", "exec", "a"})
	if x.Len() != 3 {
		t.Fatalf("Len = %d, want 3", x.Len())
	}
	const sys = `audit(1.000:7): arch=c000003e syscall=59 success=yes exit=0 comm="x" exe="/x" subj=unconfined key=`
	for _, tc := range []struct {
		name string
		typ  uint16
		p    string
		want int
	}{
		{"quoted", TypeSyscall, sys + `"a"`, 1},
		{"quoted unknown", TypeSyscall, sys + `"zz"`, 0},
		{"null", TypeSyscall, sys + `(null)`, 0},
		{"no key field", TypeSyscall, `audit(1.000:7): arch=c000003e syscall=59`, 0},
		{"multi-key first", TypeSyscall, sys + hexKey("a", "b"), 1},
		{"multi-key second", TypeSyscall, sys + hexKey("zz", "exec"), 3},
		{"multi-key none", TypeSyscall, sys + hexKey("zz", "yy"), 0},
		{"hex single with space", TypeSyscall, sys + hexKey("b c"), 2},
		{"lower-case hex", TypeSyscall, sys + strings.ToLower(hexKey("zz", "exec")), 3},
		{"bad hex", TypeSyscall, sys + "6G", 0},
		{"odd hex", TypeSyscall, sys + "616", 0},
		{"uringop", TypeURingOp, `audit(1.000:8): uring_op=18 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 subj=unconfined key="exec"`, 3},
		{"config change names a rule, not the event", TypeConfigChange, `audit(1.000:9): auid=0 ses=1 op=add_rule key="a" list=4 res=1`, 0},
		{"path carries no key", 1302, `audit(1.000:7): item=0 name="/x" key="a"`, 0},
	} {
		if got := x.Lookup(tc.typ, []byte(tc.p)); got != tc.want {
			t.Errorf("%s: Lookup = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := NewKeyIndex(nil).Lookup(TypeSyscall, []byte(sys+`"a"`)); got != 0 {
		t.Errorf("empty index: %d", got)
	}
}

func TestKeyIndexNoAllocs(t *testing.T) {
	x := NewKeyIndex([]string{"a", "exec"})
	const sys = `audit(1.000:7): arch=c000003e syscall=59 success=yes exit=0 key=`
	q, h := []byte(sys+`"exec"`), []byte(sys+hexKey("zz", "exec"))
	if n := testing.AllocsPerRun(1000, func() {
		if x.Lookup(TypeSyscall, q) != 2 || x.Lookup(TypeSyscall, h) != 2 {
			panic("lookup")
		}
	}); n != 0 {
		t.Fatalf("Lookup allocates %v per call", n)
	}
}
