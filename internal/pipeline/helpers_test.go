package pipeline

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/ring"
)

// Payloads as the kernel sends them (shapes taken from ../../testdata/records.txt).

func sys(serial uint64, key string) []byte {
	return fmt.Appendf(nil, `audit(1795637279.731:%d): arch=c000003e syscall=59 success=yes exit=0 a0=55be1eee19c0 a1=55be1eede2c0 a2=55be1eedc7e0 a3=0 items=2 ppid=13264 pid=13285 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditctl" exe="/usr/sbin/auditctl" key=%s`, serial, key)
}

func uring(serial uint64, key string) []byte {
	return fmt.Appendf(nil, `audit(1795637279.731:%d): uring_op=18 success=yes exit=0 items=0 ppid=13264 pid=13285 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 subj=unconfined key=%s`, serial, key)
}

func path(serial uint64) []byte {
	return fmt.Appendf(nil, `audit(1795637279.731:%d): item=0 name="/usr/sbin/auditctl" inode=325835 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`, serial)
}

func eoe(serial uint64) []byte { return fmt.Appendf(nil, `audit(1795637279.731:%d): `, serial) }

func configChange(serial uint64) []byte {
	return fmt.Appendf(nil, `audit(1795637279.731:%d): auid=4294967295 ses=4294967295 op=add_rule key="x" list=4 res=1`, serial)
}

// quoted and multi are a key= value as the kernel logs it: one printable
// key in quotes, several keys (auditctl -k a -k b) as the hex of their
// 0x01-joined bytes.
func quoted(k string) string { return `"` + k + `"` }

func multi(keys ...string) string {
	return strings.ToUpper(hex.EncodeToString([]byte(strings.Join(keys, "\x01"))))
}

// newRing returns the smallest ring (64 KiB), closed at the end of the test.
func newRing(t testing.TB) *ring.Ring {
	t.Helper()
	r, err := ring.New(ring.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// fillerType and filler are what tests put into the ring themselves to
// bring it to a level; drained records of this type are left out.
const fillerType = uint16(1399)

var filler = make([]byte, 1000)

// fillTo pushes fillers into r until it holds at least bytes (or is full,
// for bytes > Cap), bypassing the pipeline, and fails if it cannot.
func fillTo(t testing.TB, r *ring.Ring, bytes int) {
	t.Helper()
	for r.Len() < bytes {
		ok, err := r.TryPush(fillerType, filler)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if bytes > r.Cap() {
				return // full, as asked
			}
			t.Fatalf("ring full at %d bytes, wanted %d", r.Len(), bytes)
		}
	}
}

// drained empties r and returns the payloads of the records the test pushed
// through the pipeline (not fillers), in order.
func drained(r *ring.Ring) []string {
	var out []string
	for r.Drain(1<<30, func(typ uint16, p []byte) {
		if typ != fillerType {
			out = append(out, string(p))
		}
	}) > 0 {
	}
	return out
}

// fixedClock is the clock of the tests: 1795636980.303.
var fixedNow = time.UnixMilli(1795636980303)

func fixedClock() time.Time { return fixedNow }

// emitted collects what a pipeline emits.
type emitted struct{ recs []string }

func (e *emitted) emit(typ uint16, p []byte) {
	if typ != record.TypeDaemonErr {
		panic(fmt.Sprintf("emitted type %d", typ))
	}
	e.recs = append(e.recs, string(p))
}
