package tally

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
)

func sys(serial int, syscall int, auid, uid, exe, key string) []byte {
	return []byte("audit(1795637279.731:" + strconv.Itoa(serial) + "): arch=c000003e syscall=" + strconv.Itoa(syscall) +
		" success=yes exit=0 a0=5 a1=7ffe8ef01f30 a2=428 a3=0 items=2 ppid=13264 pid=13283 auid=" + auid + " uid=" + uid +
		" gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"x\" exe=" + exe +
		" subj=unconfined key=" + key)
}

const typePath = 1302

func TestParseSyscall(t *testing.T) {
	f := parseSyscall(sys(9, 59, "1000", "0", `"/usr/bin/true"`, `"k"`))
	if f.arch != 0xc000003e || f.syscall != 59 || string(f.auid) != "1000" || string(f.uid) != "0" ||
		string(f.exe) != "/usr/bin/true" || f.exeHex {
		t.Fatalf("%+v", f)
	}
	f = parseSyscall(sys(9, 2, "4294967295", "33", "2F746D702F6120622F78", "(null)"))
	if f.syscall != 2 || string(f.auid) != "4294967295" || string(f.uid) != "33" || string(f.exe) != "2F746D702F6120622F78" || !f.exeHex {
		t.Fatalf("%+v", f)
	}
	f = parseSyscall([]byte("audit(1.000:1): uring_op=1 items=0 ppid=1 pid=2 exe=(null) key=(null)"))
	if f.syscall != -1 || f.hasExe || f.auid != nil {
		t.Fatalf("%+v", f)
	}
}

// Counts by every dimension, exact below the sketches' sizes, with hex
// exe and multi-key names decoded, and rates over the windows from the
// frames' times.
func TestCounterTop(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := New(t0)
	if _, ok := c.Top(); ok {
		t.Fatal("Top before any Tick")
	}
	multi := strings.ToUpper("61016b") // "a\x01k": auditctl -k a -k k
	for s := 1; s <= 100; s++ {
		switch {
		case s <= 90:
			c.Count(record.TypeSyscall, sys(s, 59, "4294967295", "0", `"/usr/bin/true"`, `"noisy"`))
		case s <= 95:
			c.Count(record.TypeSyscall, sys(s, 2, "1000", "1000", "2F746D702F6120622F78", multi))
		default:
			c.Count(record.TypeSyscall, sys(s, 257, "1000", "1000", `"/usr/bin/cat"`, "(null)"))
		}
		c.Count(typePath, []byte("audit(1795637279.731:1): item=0 name=\"/x\""))
		c.Count(record.TypeEOE, []byte("audit(1795637279.731:1): "))
	}
	c.Tick(t0.Add(10*time.Second), Kernel{Backlog: 3, BacklogPeak: 64, BacklogLimit: 64, Losses: pipeline.Losses{pipeline.CauseKernel: 7}})
	for s := 101; s <= 110; s++ {
		c.Count(record.TypeSyscall, sys(s, 59, "4294967295", "0", `"/usr/bin/true"`, `"noisy"`))
	}
	c.Tick(t0.Add(11*time.Second), Kernel{Backlog: 1, BacklogPeak: 64, BacklogLimit: 64, Losses: pipeline.Losses{pipeline.CauseKernel: 9}})
	top, ok := c.Top()
	if !ok {
		t.Fatal("no Top after Tick")
	}
	if top.Events != 110 || top.Records != 310 || top.Backlog != 1 || top.BacklogPeak != 64 || top.BacklogPeak1m != 3 {
		t.Fatalf("top %+v", top)
	}
	if top.EventRate[0] != 10 {
		t.Errorf("events/s over 1 s: %v, want 10", top.EventRate[0])
	}
	// 10 s and 60 s windows reach back to the oldest frame (1 s ago).
	if top.EventRate[2] != 10 {
		t.Errorf("events/s over 60 s: %v, want 10 (since the oldest frame)", top.EventRate[2])
	}
	want := map[string]map[string]uint64{
		"key":     {"noisy": 100, "a,k": 5, NoKey: 5},
		"exe":     {"/usr/bin/true": 100, "/tmp/a b/x": 5, "/usr/bin/cat": 5},
		"syscall": {"execve": 100, "open": 5, "openat": 5},
		"auid":    {"unset": 100, "1000": 10},
		"uid":     {"0": 100, "1000": 10},
		"type":    {"SYSCALL": 110, "PATH": 100, "EOE": 100},
	}
	for dim, rows := range want {
		tab := top.Table(dim)
		if tab == nil || !tab.Complete || len(tab.Rows) != len(rows) {
			t.Fatalf("%s: %+v", dim, tab)
		}
		for name, n := range rows {
			if r := tab.Row(name); r == nil || r.Total != n || r.Err != 0 {
				t.Errorf("%s %q: %+v, want total %d", dim, name, r, n)
			}
		}
	}
	k := top.Table("key").Row("noisy")
	if k.Rate[0] != 10 || k.Share[0] != 1 || top.Table("key").Rows[0].Name != "noisy" {
		t.Errorf("noisy: %+v", k)
	}
	var kl LossRow
	for _, l := range top.Loss {
		if l.Cause == "kernel" {
			kl = l
		}
	}
	if kl.Total != 9 || kl.LastHour != 9 || kl.Rate[0] != 2 || top.LostTotal != 9 {
		t.Errorf("kernel loss %+v, lost total %d", kl, top.LostTotal)
	}
	if _, err := json.Marshal(top); err != nil {
		t.Fatal(err)
	}
}

// The last hour's loss is the difference with the minute mark an hour back.
func TestLossLastHour(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := New(t0)
	var l pipeline.Losses
	for s := 1; s <= 2*3600; s += 10 {
		l[pipeline.CauseDropped] += 10
		c.Tick(t0.Add(time.Duration(s)*time.Second), Kernel{Losses: l})
	}
	top, _ := c.Top()
	var d LossRow
	for _, r := range top.Loss {
		if r.Cause == "dropped" {
			d = r
		}
	}
	if d.Total != 7200 || d.LastHour < 3540 || d.LastHour > 3600 || top.HourCovered > 3600 || top.HourCovered < 3540 {
		t.Fatalf("dropped %+v, hour covered %v s", d, top.HourCovered)
	}
}

// loadRecords reads testdata/records.txt: real records from the kernel.
func loadRecords(tb testing.TB) (types []uint16, payloads [][]byte) {
	f, err := os.Open("../../testdata/records.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		typ, js, ok := strings.Cut(sc.Text(), "\t")
		if !ok || strings.HasPrefix(typ, "#") {
			continue
		}
		n, err := strconv.Atoi(typ)
		if err != nil {
			tb.Fatal(err)
		}
		var p string
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			tb.Fatal(err)
		}
		types = append(types, uint16(n))
		payloads = append(payloads, []byte(p))
	}
	return types, payloads
}

func TestCountDoesNotAllocate(t *testing.T) {
	types, payloads := loadRecords(t)
	c := New(time.Now())
	i := 0
	if n := testing.AllocsPerRun(20000, func() { c.Count(types[i%len(types)], payloads[i%len(types)]); i++ }); n != 0 {
		t.Fatalf("Count allocates %v times per record", n)
	}
}

// BenchmarkCount is the CPU Count adds per record, over the real records
// of testdata (a mix of SYSCALL, PATH, PROCTITLE, CONFIG_CHANGE...).
func BenchmarkCount(b *testing.B) {
	types, payloads := loadRecords(b)
	c := New(time.Now())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Count(types[i], payloads[i])
		if i++; i == len(types) {
			i = 0
		}
	}
}

// BenchmarkCountSyscall is Count's cost for one SYSCALL record (the
// records of an event parsed).
func BenchmarkCountSyscall(b *testing.B) {
	p := sys(9, 59, "1000", "0", `"/usr/bin/true"`, `"exec_rule"`)
	c := New(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		c.Count(record.TypeSyscall, p)
	}
}
