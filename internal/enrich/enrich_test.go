package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// newTestEnricher writes passwd and group files into a temporary directory
// and returns an Enricher reading them with a fake clock.
func newTestEnricher(t *testing.T, passwd, group string) (*Enricher, *fakeClock, string, string) {
	t.Helper()
	dir := t.TempDir()
	pw, gr := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	if err := os.WriteFile(pw, []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gr, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	return New(Options{Passwd: pw, Group: gr, Machine: "x86_64", Now: clock.now}), clock, pw, gr
}

func appendString(e *Enricher, typ uint16, payload string) string {
	return string(e.Append(nil, typ, []byte(payload)))
}

const hdr = "audit(1800000000.123:42): "

// Interpretations the live capture does not reach (no 32-bit process, no
// odd names in this machine's passwd), derived from auparse 3.0.9's code.
func TestInterpretations(t *testing.T) {
	long := strings.Repeat("x", 70)
	e, _, _, _ := newTestEnricher(t,
		"root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n# comment\nbob smith:x:1001:1001::/:/bin/sh\n"+
			"jürgen:x:1002:1002::/:/bin/sh\n"+long+":x:1003:1003::/:/bin/sh\nalice2:x:1000:1000::/:/bin/sh\n",
		"root:x:0:\nstaff:x:50:\n")
	for _, c := range []struct {
		typ  uint16
		in   string
		want string
	}{
		{1300, "arch=40000003 syscall=102 success=yes exit=0 a0=3 a1=0", "\x1dARCH=i386 SYSCALL=socketcall(connect)"},
		{1300, "arch=40000003 syscall=117 success=yes exit=0 a0=17 a1=0", "\x1dARCH=i386 SYSCALL=ipc(shmget)"},
		{1300, "arch=40000003 syscall=102 success=yes exit=0 a0=63 a1=0", "\x1dARCH=i386 SYSCALL=socketcall"},
		{1300, "arch=c000003e syscall=451 success=yes", "\x1dARCH=x86_64 SYSCALL=unknown-syscall(451)"}, // after 3.0.9's table
		{1300, "arch=c00000b7 syscall=63", "\x1dARCH=aarch64 SYSCALL=read"},
		{1300, "arch=12345 syscall=1", "\x1dARCH=unknown-elf-type(12345) SYSCALL=write"}, // host machine
		{1300, "arch=c000003e syscall=1 success=yes exit=1 a0=1 items=0 ppid=1 pid=2 auid=1000 uid=1001 gid=50 euid=1002 suid=1003 fsuid=3000000000 egid=51",
			"\x1dARCH=x86_64 SYSCALL=write AUID=\"alice\" UID=626F6220736D697468 GID=\"staff\" EUID=6AC3BC7267656E SUID=\"" + long[:63] + "\" FSUID=\"unknown(-1294967296)\" EGID=\"unknown(51)\""},
		{1302, "item=0 name=\"/x\" ouid=4294967295 ogid=0", "\x1dOUID=\"unset\" OGID=\"root\""},
		{1306, "saddr=0A000050000000000000000000000000000000010000000000000000", "\x1dSADDR={ saddr_fam=inet6 laddr=::1:0:0 lport=80 }"},
		{1306, "saddr=0A0000500000000000000000000000000000FFFF0102030400000000", "\x1dSADDR={ saddr_fam=inet6 laddr=::ffff:1.2.3.4 lport=80 }"},
		{1306, "saddr=0A000050000000002001" + "0DB8000000000001000000000001" + "07000000", "\x1dSADDR={ saddr_fam=inet6 laddr=2001:db8::1:0:0:1%7 lport=80 }"},
		{1306, "saddr=0300414243000000000000", "\x1dSADDR={ saddr_fam=ax25 call=ABC"},
		{1306, "saddr=0000", "\x1dSADDR=unknown-family(0)"},
		{1306, "saddr=1100AABB", "\x1dSADDR={ saddr_fam=packet (unsupported) }"},
		{1306, "saddr=01000061626300", "\x1dSADDR={ saddr_fam=local path=abc }"},
		{1121, "uid=0 auid=0", ""}, // TRUSTED_APP: nothing interpreted
		{1116, "pid=1 uid=0 msg='op=add id=50 res=1'", "\x1dUID=\"root\" ID=\"staff\""}, // ADD_GROUP: id is a group
		{1309, "argc=2 a0=\"uid=0\" a1=\"x\"", ""},                                      // EXECVE
		{1320, "", ""}, // EOE
		{1400, "avc:  denied  { read } for  pid=1 comm=\"x\" saddr=0200 scontext=a", ""},
	} {
		if got := appendString(e, c.typ, hdr+c.in); got != c.want {
			t.Errorf("type %d %q:\n got %q\nwant %q", c.typ, c.in, got, c.want)
		}
	}
	if got := appendString(e, 1300, "no header uid=0"); got != "" {
		t.Errorf("a payload without audit(...) header got %q", got)
	}
}

// auditd leaves no room past its 9225-byte buffer: a field that does not
// fit is skipped (the separator stays), and nothing is added once 24 bytes
// or fewer remain.
func TestBufferLimit(t *testing.T) {
	e, _, _, _ := newTestEnricher(t, "", "")
	prefix := len("type=USER msg=")
	pad := func(total int) string { // a payload making the RAW line total bytes long
		body := hdr + "uid=0 auid=0 x="
		return body + strings.Repeat("y", total-prefix-len(body))
	}
	// 9225-9160 = 65 bytes left: both fields fit.
	if got := appendString(e, 1005, pad(9160)); got != "\x1dUID=\"root\" AUID=\"root\"" {
		t.Errorf("65 bytes left: got %q", got)
	}
	// 9225-9201 = 24 left: nothing at all.
	if got := appendString(e, 1005, pad(9201)); got != "" {
		t.Errorf("24 bytes left: got %q", got)
	}
	// 25 left: the separator, then UID="root" needs 1+10+1 = 12 < 24: fits;
	// then 13 left, not more than 24: stop.
	if got := appendString(e, 1005, pad(9200)); got != "\x1dUID=\"root\"" {
		t.Errorf("25 bytes left: got %q", got)
	}
}

// Names come from the files, are cached, and are reread when a file
// changes, looked at no more than once per CheckEvery; ADD_USER and
// USER_MGMT records make the next lookup look at once, as auditd flushes
// its caches around them.
func TestNameCacheRefresh(t *testing.T) {
	e, clock, pw, _ := newTestEnricher(t, "alice:x:1000:1000::/:/bin/sh\n", "")
	rec := hdr + "pid=1 uid=1000 auid=1234"
	if got := appendString(e, 1005, rec); got != "\x1dUID=\"alice\" AUID=\"unknown(1234)\"" {
		t.Fatalf("got %q", got)
	}
	if err := os.WriteFile(pw, []byte("alice:x:1000:1000::/:/bin/sh\ncarol:x:1234:1234::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(500 * time.Millisecond)
	loads := e.users.loads
	if got := appendString(e, 1005, rec); got != "\x1dUID=\"alice\" AUID=\"unknown(1234)\"" {
		t.Fatalf("within the second: got %q (the file was looked at)", got)
	}
	if e.users.loads != loads {
		t.Fatalf("file reloaded within the second")
	}
	clock.t = clock.t.Add(600 * time.Millisecond)
	if got := appendString(e, 1005, rec); got != "\x1dUID=\"alice\" AUID=\"carol\"" {
		t.Fatalf("after the second: got %q", got)
	}
	// Unchanged file: looked at again, not reread.
	clock.t = clock.t.Add(2 * time.Second)
	loads = e.users.loads
	appendString(e, 1005, rec)
	if e.users.loads != loads {
		t.Fatalf("unchanged file reread")
	}

	// A USER_MGMT record: the next lookup looks at the file at once.
	if err := os.WriteFile(pw, []byte("alice:x:1000:1000::/:/bin/sh\ndave:x:1234:1234::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendString(e, 1102, hdr+"pid=1 uid=0 msg='op=changing id=7 res=success'")
	if got := appendString(e, 1005, rec); got != "\x1dUID=\"alice\" AUID=\"dave\"" {
		t.Fatalf("after USER_MGMT: got %q", got)
	}
	// An ADD_USER record sees the new name itself.
	if err := os.WriteFile(pw, []byte("erin:x:1234:1234::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := appendString(e, 1114, hdr+"pid=1 uid=0 msg='op=adding user id=1234 res=success'"); got != "\x1dUID=\"root\" ID=\"erin\"" {
		t.Fatalf("ADD_USER: got %q", got)
	}
	// A missing file: every id unnamed, and retried.
	os.Remove(pw)
	clock.t = clock.t.Add(2 * time.Second)
	if got := appendString(e, 1005, rec); got != "\x1dUID=\"unknown(1000)\" AUID=\"unknown(1234)\"" {
		t.Fatalf("missing file: got %q", got)
	}
	if e.users.err == nil {
		t.Fatalf("no error recorded for the missing file")
	}
}

// With warm caches Append allocates nothing, whatever the record.
func TestAppendAllocs(t *testing.T) {
	recs := readRecords(t, capturedRecords)
	e := New(Options{Passwd: capturedPasswd, Group: capturedGroup, Machine: "x86_64"})
	buf := make([]byte, 0, 1<<16)
	for _, r := range recs {
		buf = e.Append(buf[:0], r.Type, r.Payload)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(recs)*3, func() {
		r := recs[i%len(recs)]
		i++
		buf = e.Append(buf[:0], r.Type, r.Payload)
	})
	if allocs != 0 {
		t.Fatalf("%.3f allocations per record", allocs)
	}
}

// FuzzAppend checks that no payload makes Append panic, and that what it
// adds, if anything, starts with the separator.
func FuzzAppend(f *testing.F) {
	for i, r := range readRecords(f, capturedRecords) {
		if i%7 == 0 {
			f.Add(r.Type, r.Payload)
		}
	}
	f.Add(uint16(1400), []byte(hdr+"avc: denied { "+strings.Repeat("perm ", 60)+"} for pid=1"))
	f.Add(uint16(1306), []byte(hdr+"saddr=(null"))
	e := New(Options{Passwd: capturedPasswd, Group: capturedGroup, Machine: "x86_64"})
	f.Fuzz(func(t *testing.T, typ uint16, payload []byte) {
		out := e.Append(nil, typ, payload)
		if len(out) > 0 && out[0] != Separator {
			t.Fatalf("output does not start with the separator: %q", out)
		}
	})
}
