package jsonevent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rec builds a payload "audit(SEC.MSS:SERIAL): fields".
func rec(ms int64, serial uint64, fields string) []byte {
	return []byte(fmt.Sprintf("audit(%d.%03d:%d): %s", ms/1000, ms%1000, serial, fields))
}

// serialsOf lists the events' serials and record counts, "serial:n".
func serialsOf(evs []*Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", ev.Serial, len(ev.Records))
		if ev.End != EndLastRecord {
			b.WriteString("/" + ev.End.String())
		}
		if ev.Dropped > 0 {
			fmt.Fprintf(&b, "-%d", ev.Dropped)
		}
	}
	return b.String()
}

func mustAdd(t *testing.T, a *Assembler, typ uint16, p []byte) {
	t.Helper()
	if err := a.AddRecord(typ, p); err != nil {
		t.Fatalf("AddRecord(%d, %q): %v", typ, p, err)
	}
}

const (
	tSyscall   = 1300
	tPath      = 1302
	tCWD       = 1307
	tConfig    = 1305
	tEOE       = 1320
	tProctitle = 1327
	tUserLogin = 1112
)

func TestAssemblerInterleavedAndEOE(t *testing.T) {
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	t0 := int64(1795637279000)
	mustAdd(t, a, tSyscall, rec(t0, 10, "arch=c000003e syscall=2"))
	mustAdd(t, a, tSyscall, rec(t0, 11, "arch=c000003e syscall=2"))
	mustAdd(t, a, tCWD, rec(t0, 10, `cwd="/"`))
	mustAdd(t, a, tPath, rec(t0, 11, `item=0 name="/a"`))
	mustAdd(t, a, tEOE, rec(t0, 11, ""))
	if got := serialsOf(evs); got != "11:2" {
		t.Fatalf("after EOE of 11: events %q, want 11:2", got)
	}
	mustAdd(t, a, tPath, rec(t0, 10, `item=0 name="/b"`))
	mustAdd(t, a, tEOE, rec(t0, 10, ""))
	if got := serialsOf(evs); got != "11:2 10:3" {
		t.Fatalf("events %q, want 11:2 10:3", got)
	}
	// An EOE of no pending event is ignored.
	mustAdd(t, a, tEOE, rec(t0, 10, ""))
	if a.Pending() != 0 || len(evs) != 2 {
		t.Fatalf("stray EOE: pending %d, events %d", a.Pending(), len(evs))
	}
}

func TestAssemblerLastRecordTypes(t *testing.T) {
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	t0 := int64(1795637279000)
	// auditctl: CONFIG_CHANGE, then its sendto's SYSCALL and PROCTITLE,
	// one event (as captured: testdata serial 8).
	mustAdd(t, a, tConfig, rec(t0, 8, `op=add_rule key="k" list=4 res=1`))
	if len(evs) != 0 {
		t.Fatalf("CONFIG_CHANGE ended its event: %s", serialsOf(evs))
	}
	mustAdd(t, a, tSyscall, rec(t0, 8, "arch=c000003e syscall=44"))
	mustAdd(t, a, tProctitle, rec(t0, 8, "proctitle=6100"))
	// A user-space message is its event's last record.
	mustAdd(t, a, tUserLogin, rec(t0, 9, "pid=1 uid=0 msg='op=login res=success'"))
	// Serial 0: written by a daemon, never an event's.
	mustAdd(t, a, 1203, rec(t0, 0, "op=x"))
	mustAdd(t, a, 1203, rec(t0, 0, "op=y"))
	if got := serialsOf(evs); got != "8:3 9:1 0:1 0:1" {
		t.Fatalf("events %q, want 8:3 9:1 0:1 0:1", got)
	}
	if a.Pending() != 0 {
		t.Fatalf("%d events still pending", a.Pending())
	}
}

func TestIsLastRecord(t *testing.T) {
	for typ, want := range map[uint16]bool{
		1005: true, 1006: false, 1100: true, 1112: true, 1203: true,
		1300: false, 1302: false, 1305: false, 1309: false, 1320: true,
		1327: true, 1406: true, 1419: true, 1400: false, 1700: true,
		2000: true, 2100: true,
	} {
		if got := IsLastRecord(typ); got != want {
			t.Errorf("IsLastRecord(%d) = %v, want %v", typ, got, want)
		}
	}
}

func TestAssemblerWindowAndSerialLag(t *testing.T) {
	t0 := int64(1795637279000)
	var evs []*Event
	a := collect(AssemblerOptions{Window: 2 * time.Second, SerialLag: 100}, &evs)
	mustAdd(t, a, tSyscall, rec(t0, 10, "a=1"))
	mustAdd(t, a, tSyscall, rec(t0+1999, 11, "a=1"))
	if len(evs) != 0 {
		t.Fatalf("ended before the window: %s", serialsOf(evs))
	}
	mustAdd(t, a, tSyscall, rec(t0+2000, 12, "a=1"))
	if got := serialsOf(evs); got != "10:1/window" {
		t.Fatalf("events %q, want 10:1/window", got)
	}
	mustAdd(t, a, tSyscall, rec(t0+2000, 111, "a=1"))
	if got := serialsOf(evs); got != "10:1/window 11:1/window" {
		t.Fatalf("events %q, want 11 ended by serial lag", got)
	}
	a.Flush()
	if got := serialsOf(evs); got != "10:1/window 11:1/window 12:1/flush 111:1/flush" {
		t.Fatalf("events %q after Flush", got)
	}
}

func TestAssemblerBounds(t *testing.T) {
	t0 := int64(1795637279000)
	var evs []*Event
	a := collect(AssemblerOptions{MaxPending: 2, MaxRecords: 3, MaxBytes: 1 << 20}, &evs)
	for i := 0; i < 5; i++ {
		mustAdd(t, a, tPath, rec(t0, 7, "item=0"))
	}
	mustAdd(t, a, tSyscall, rec(t0, 8, "a=1"))
	mustAdd(t, a, tSyscall, rec(t0, 9, "a=1")) // evicts 7
	if got := serialsOf(evs); got != "7:3/evicted-2" {
		t.Fatalf("events %q, want 7:3/evicted-2", got)
	}
	if !evs[0].Incomplete() {
		t.Fatal("evicted event with dropped records not Incomplete")
	}
	a.Flush()
	if evs[1].Incomplete() {
		t.Fatalf("flushed event %d flagged Incomplete", evs[1].Serial)
	}

	evs = nil
	b := collect(AssemblerOptions{MaxBytes: 40}, &evs)
	mustAdd(t, b, tPath, rec(t0, 7, "item=0 name=aaaa"))  // 39 bytes
	mustAdd(t, b, tPath, rec(t0, 7, "item=1"))            // over 40: dropped
	mustAdd(t, b, tProctitle, rec(t0, 7, "proctitle=61")) // dropped, still ends it
	if got := serialsOf(evs); got != "7:1-2" {
		t.Fatalf("events %q, want 7:1-2", got)
	}
}

func TestAssemblerExpire(t *testing.T) {
	var evs []*Event
	a := collect(AssemblerOptions{Timeout: time.Minute}, &evs)
	mustAdd(t, a, tSyscall, rec(1795637279000, 5, "a=1"))
	a.Expire(time.Now())
	if len(evs) != 0 {
		t.Fatalf("expired before the timeout: %s", serialsOf(evs))
	}
	a.Expire(time.Now().Add(time.Minute))
	if got := serialsOf(evs); got != "5:1/timeout" {
		t.Fatalf("events %q, want 5:1/timeout", got)
	}
	// Without a Timeout, Expire does nothing.
	evs = nil
	b := collect(AssemblerOptions{}, &evs)
	mustAdd(t, b, tSyscall, rec(1795637279000, 5, "a=1"))
	b.Expire(time.Now().Add(24 * time.Hour))
	if len(evs) != 0 || b.Pending() != 1 {
		t.Fatalf("Expire without Timeout emitted %s", serialsOf(evs))
	}
}

func TestAssemblerAddLines(t *testing.T) {
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	lines := []string{
		"node=a type=SYSCALL msg=audit(1795637279.000:5): arch=c000003e syscall=2 key=(null)\n",
		"node=b type=SYSCALL msg=audit(1795637279.000:5): arch=c000003e syscall=2 key=(null)\r\n",
		// ENRICHED: the suffix after 0x1d is dropped.
		"node=a type=CWD msg=audit(1795637279.000:5): cwd=\"/\"\x1dX=y\n",
		"node=a type=UNKNOWN[1336] msg=audit(1795637279.000:5): uring_op=1",
		"node=a type=1327 msg=audit(1795637279.000:5): proctitle=6100",
		"node=b type=PROCTITLE msg=audit(1795637279.000:5): proctitle=6100",
	}
	for _, l := range lines {
		if err := a.Add([]byte(l)); err != nil {
			t.Fatalf("Add(%q): %v", l, err)
		}
	}
	if len(evs) != 2 || evs[0].Node != "a" || evs[1].Node != "b" {
		t.Fatalf("events %s, want node a's then node b's", serialsOf(evs))
	}
	want := []Record{
		{1300, "audit(1795637279.000:5): arch=c000003e syscall=2 key=(null)"},
		{1307, `audit(1795637279.000:5): cwd="/"`},
		{1336, "audit(1795637279.000:5): uring_op=1"},
		{1327, "audit(1795637279.000:5): proctitle=6100"},
	}
	if fmt.Sprint(evs[0].Records) != fmt.Sprint(want) {
		t.Fatalf("node a's records\n%v\nwant\n%v", evs[0].Records, want)
	}

	for _, bad := range []string{
		"", "hello", "node=a", "type=SYSCALL", "type=NOPE msg=audit(1.000:1): x",
		"type=SYSCALL msg=audit(1.00:1): x", "type=SYSCALL msg=audit(x): y",
	} {
		err := a.Add([]byte(bad))
		if !errors.Is(err, ErrNotRecord) {
			t.Errorf("Add(%q) = %v, want ErrNotRecord", bad, err)
		}
	}
	if err := a.AddRecord(1300, []byte("no header")); !errors.Is(err, ErrNotRecord) {
		t.Errorf("AddRecord without header: %v", err)
	}
}
