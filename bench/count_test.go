package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	sys := keyMatcher("SYSCALL", 1300, "adbench_1_1")
	usr := markerMatcher("USER", 1005, "adbench_1_1")
	f := func(m Matcher, line string, want bool) {
		t.Helper()
		if got := m.Match([]byte(line)); got != want {
			t.Errorf("Match(%q) = %v, want %v", line, got, want)
		}
	}
	const raw = `type=SYSCALL msg=audit(1732564000.123:4567): arch=c000003e syscall=110 success=yes exit=1 a0=0 items=0 ppid=1 pid=2 comm="bench" key="adbench_1_1"`
	f(sys, raw, true)
	f(sys, "node=host1 "+raw, true)
	f(sys, strings.Replace(raw, "type=SYSCALL", "type=UNKNOWN[1300]", 1), true)
	f(sys, raw+"\x1dARCH=x86_64 SYSCALL=getppid AUID=\"unset\"", true) // ENRICHED
	f(sys, strings.Replace(raw, `key="adbench_1_1"`, `key="adbench_1_10"`, 1), false)
	f(sys, strings.Replace(raw, `key="adbench_1_1"`, `key=(null)`, 1), false)
	f(sys, `type=PROCTITLE msg=audit(1732564000.123:4567): proctitle=6B65793D22616462656E63685F315F3122 key="adbench_1_1"`, false)
	f(sys, `type=SYSCALLX msg=audit(1.2:3): key="adbench_1_1"`, false)
	f(sys, `node=nospace`, false)
	f(sys, ``, false)

	const user = `type=USER msg=audit(1732564000.123:4568): pid=7 uid=0 auid=4294967295 ses=4294967295 msg='auditdrain-bench key=adbench_1_1 end'`
	f(usr, user, true)
	f(usr, strings.Replace(user, "type=USER", "type=UNKNOWN[1005]", 1), true)
	f(usr, strings.Replace(user, "adbench_1_1 end", "adbench_1_10 end", 1), false)
	f(usr, strings.Replace(user, "type=USER", "type=USER_LOGIN", 1), false)
}

func TestCountLines(t *testing.T) {
	m := keyMatcher("SYSCALL", 1300, "k")
	long := "type=EXECVE msg=audit(1.1:1): argc=2 a0=" + strings.Repeat("41", 1<<20) // longer than the reader's buffer
	f := func(in string, want Count) {
		t.Helper()
		got, err := CountLines(strings.NewReader(in), m)
		if err != nil || got != want {
			t.Errorf("CountLines(%.60q...) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	f("", Count{})
	f("\n\n", Count{})
	f("type=SYSCALL msg=audit(1.1:1): key=\"k\"\n", Count{1, 1})
	f("type=SYSCALL msg=audit(1.1:1): key=\"k\"", Count{1, 1}) // no final newline
	f("type=SYSCALL msg=audit(1.1:1): key=\"k\"\ntype=PROCTITLE msg=audit(1.1:1): x\ntype=EOE msg=audit(1.1:1): \n", Count{3, 1})
	f(long+"\ntype=SYSCALL msg=audit(1.1:2): key=\"k\"\n"+long, Count{3, 1})
	f("type=SYSCALL msg=audit(1.1:1): "+strings.Repeat("x", 3<<20)+" key=\"k\"\ntype=SYSCALL msg=audit(1.1:2): key=\"k\"\n", Count{2, 2})
}

func TestCountFiles(t *testing.T) {
	dir := t.TempDir()
	rec := "type=SYSCALL msg=audit(1.1:1): key=\"k\"\ntype=EOE msg=audit(1.1:1): \n"
	files := map[string]string{
		"audit.log":   rec,
		"audit.log.1": rec + rec,
		"other.txt":   rec,
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "audit.log.d"), 0o700)
	c, size, err := countFiles(dir, "audit.log", keyMatcher("SYSCALL", 1300, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if c != (Count{Records: 6, Matched: 3}) || size != int64(3*len(rec)) {
		t.Fatalf("countFiles = %+v, %d bytes; want 6 records, 3 matched, %d bytes", c, size, 3*len(rec))
	}
	total, err := dirSize(dir)
	if err != nil || total != int64(4*len(rec)) {
		t.Fatalf("dirSize = %d, %v; want %d", total, err, 4*len(rec))
	}
	if _, _, err := countFiles(filepath.Join(dir, "missing"), "audit.log", Matcher{}); err == nil {
		t.Fatal("countFiles on a missing directory: no error")
	}
}

func BenchmarkCountLines(b *testing.B) {
	line := "type=SYSCALL msg=audit(1732564000.123:4567): arch=c000003e syscall=110 success=yes exit=1 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\"bench\" exe=\"/usr/bin/bench\" key=\"adbench_1_1\"\n"
	data := strings.Repeat(line, 10000)
	m := keyMatcher("SYSCALL", 1300, "adbench_1_1")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if c, _ := CountLines(strings.NewReader(data), m); c.Matched != 10000 {
			b.Fatal(c)
		}
	}
}
