package writer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
)

type rec struct {
	typ     uint16
	payload []byte
}

// genEvents returns realistic kernel records: events of SYSCALL, CWD,
// PATH x2, PROCTITLE, EOE (~300 bytes each), with increasing timestamps
// and serials starting at the current time.
func genEvents(n int, seed uint64) []rec {
	return genEventsAt(n, seed, time.Now().UnixMilli())
}

// genEventsAt is genEvents with the first timestamp given (Unix ms).
func genEventsAt(n int, seed uint64, ms int64) []rec {
	r := rand.New(rand.NewPCG(seed, 1))
	comms := []string{"bash", "sshd", "cron", "systemd", "nginx", "python3", "ls", "cat"}
	files := []string{"/etc/passwd", "/etc/shadow", "/var/log/syslog", "/usr/bin/ls", "/tmp/x", "/home/u/.bashrc"}
	serial := 1000 + r.IntN(1000)
	var out []rec
	add := func(typ uint16, format string, args ...any) {
		ts := fmt.Sprintf("audit(%d.%03d:%d): ", ms/1000, ms%1000, serial)
		out = append(out, rec{typ, []byte(ts + fmt.Sprintf(format, args...))})
	}
	for len(out) < n {
		pid := 1000 + r.IntN(60000)
		comm := comms[r.IntN(len(comms))]
		file := files[r.IntN(len(files))]
		add(1300, `arch=c000003e syscall=%d success=%s exit=%d a0=%x a1=%x a2=%x a3=0 items=2 ppid=%d pid=%d auid=1000 uid=%d gid=%d euid=%d suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=%d comm="%s" exe="/usr/bin/%s" subj=unconfined key="audit_%s"`,
			[]int{2, 59, 257, 42, 110}[r.IntN(5)], []string{"yes", "no"}[r.IntN(2)], r.IntN(20), r.Uint32(), r.Uint32(), r.IntN(4096),
			pid-1, pid, r.IntN(2)*1000, r.IntN(2)*1000, r.IntN(2)*1000, r.IntN(10), comm, comm, comm)
		add(1307, `cwd="/home/u"`)
		add(1302, `item=0 name="%s" inode=%d dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`, file, r.IntN(1<<20))
		add(1302, `item=1 name="/lib64/ld-linux-x86-64.so.2" inode=%d dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`, r.IntN(1<<20))
		add(1327, `proctitle=%X`, comm+"\x00-c\x00"+file)
		add(1320, ``)
		serial++
		ms += int64(r.IntN(3))
	}
	return out[:n]
}

// wantText formats records independently of the package (valid for
// payloads without NUL or newline).
func wantText(recs []rec, node string) string {
	var b strings.Builder
	for _, r := range recs {
		if node != "" {
			fmt.Fprintf(&b, "node=%s ", node)
		}
		payload := string(r.payload)
		if node == "" {
			// auditd drops one trailing space; with a node name it drops
			// the space its own appended newline became instead.
			payload = strings.TrimSuffix(payload, " ")
		}
		fmt.Fprintf(&b, "type=%s msg=%s\n", auparse.AuditMessageType(r.typ).String(), payload)
	}
	return b.String()
}

func appendAll(t testing.TB, w *Writer, recs []rec) {
	t.Helper()
	for i, r := range recs {
		if err := w.Append(r.typ, r.payload); err != nil {
			t.Fatalf("Append record %d: %v", i, err)
		}
	}
}

func catDir(t testing.TB, dir string) string {
	t.Helper()
	paths, err := segment.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := segment.Cat(&buf, paths...); err != nil {
		t.Fatalf("Cat: %v", err)
	}
	return buf.String()
}

func needZstd(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skipf("skipping: requires the zstd command: %v", err)
	}
}

// zstdCmd runs the zstd CLI in dir and returns its standard output.
func zstdCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	needZstd(t)
	cmd := exec.Command("zstd", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zstd %v in %s: %v\n%s", args, dir, err, stderr.String())
	}
	return stdout.String()
}

// zstdGlobDC runs `zstd -dc audit-*.log.zst` through the shell, as a user
// would.
func zstdGlobDC(t testing.TB, dir string) string {
	t.Helper()
	needZstd(t)
	cmd := exec.Command("sh", "-c", "zstd -q -dc audit-*.log.zst")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zstd -dc audit-*.log.zst in %s: %v\n%s", dir, err, stderr.String())
	}
	return stdout.String()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func listNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func firstDiff(a, b string) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			lo := max(0, i-60)
			return fmt.Sprintf("at byte %d (len %d vs %d): %q vs %q", i, len(a), len(b), a[lo:min(len(a), i+60)], b[lo:min(len(b), i+60)])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// tracer records the appender's trace events (see traceEvent).
type tracer struct {
	mu  sync.Mutex
	evs []traceEvent
}

func (tr *tracer) add(ev traceEvent) {
	tr.mu.Lock()
	tr.evs = append(tr.evs, ev)
	tr.mu.Unlock()
}

func (tr *tracer) events() []traceEvent {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]traceEvent(nil), tr.evs...)
}

func (tr *tracer) count(k traceKind) int {
	n := 0
	for _, ev := range tr.events() {
		if ev.kind == k {
			n++
		}
	}
	return n
}

// openTraced opens a Writer whose appender reports every step to a tracer.
func openTraced(t testing.TB, cfg Config) (*Writer, *tracer) {
	t.Helper()
	s, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	s.trace = tr.add
	w, err := openSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	return w, tr
}

// events collects the Events a Writer delivers to Config.Notify.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) notify(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.evs...)
}

// find returns the events of a kind and cause.
func (e *events) find(k EventKind, c Cause) []Event {
	var out []Event
	for _, ev := range e.all() {
		if ev.Kind == k && ev.Cause == c {
			out = append(out, ev)
		}
	}
	return out
}

// serialRecs returns n PROCTITLE records with serials first, first+1, ...
// and a timestamp advancing 1 ms per record from ms, whose payloads are
// hexBytes of random hex (compressing about 2:1).
func serialRecs(n int, first uint64, ms int64, hexBytes int, seed uint64) []rec {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]rec, n)
	for i := range out {
		t := ms + int64(i)
		p := fmt.Appendf(nil, "audit(%d.%03d:%d): proctitle=", t/1000, t%1000, first+uint64(i))
		for range hexBytes / 16 {
			p = fmt.Appendf(p, "%016X", r.Uint64())
		}
		out[i] = rec{1327, p}
	}
	return out
}

// waitProcessed waits until the appender has written or dropped n records.
func waitProcessed(t testing.TB, w *Writer, n uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d records written or dropped", n), func() bool {
		st := w.Stats()
		return st.Records+st.RecordsLost >= n
	})
}

// checkSegments runs zstd -t on every zstd segment of dir.
func checkSegments(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := segment.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var zst []string
	for _, p := range paths {
		if strings.HasSuffix(p, ".log.zst") {
			zst = append(zst, p)
		}
	}
	if len(zst) > 0 {
		zstdCmd(t, dir, append([]string{"-q", "-t"}, zst...)...)
	}
	return paths
}

var noticeRe = regexp.MustCompile(`^type=DAEMON_RESUME msg=audit\(\d+\.\d{3}:0\): op=resume cause=(\w+) records_not_written=(\d+) first_serial=(\d+) last_serial=(\d+)$`)

// gapReport is what checkGaps found.
type gapReport struct {
	written, notices, noticed, trailing int
	skipped                             int // records before the first line found (deleted segments)
}

// checkGaps verifies that log is recs in order, except runs of records
// that were not written, each followed (where writing went on) by a
// DAEMON_RESUME notice giving exactly their number and serial range, and
// except records before the first line found when allowSkip (segments
// deleted on purpose). Records missing at the end, with no notice after
// them, are counted in trailing.
func checkGaps(t testing.TB, log string, recs []rec, allowSkip bool) gapReport {
	t.Helper()
	var g gapReport
	lines := strings.SplitAfter(log, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	want := make([]string, len(recs))
	for i, r := range recs {
		want[i] = wantText(recs[i:i+1], "")
		_ = r
	}
	serial := func(r rec) uint64 {
		_, s, _ := record.HeaderMillis(r.payload)
		return s
	}
	i := 0
	if allowSkip && len(lines) > 0 {
		if m := noticeRe.FindStringSubmatch(strings.TrimSuffix(lines[0], "\n")); m != nil {
			var first uint64
			fmt.Sscan(m[3], &first)
			for i < len(recs) && serial(recs[i]) != first {
				i++
			}
		} else {
			for i < len(want) && want[i] != lines[0] {
				i++
			}
		}
		g.skipped = i
	}
	for n, line := range lines {
		if m := noticeRe.FindStringSubmatch(strings.TrimSuffix(line, "\n")); m != nil {
			var cnt, first, last int
			fmt.Sscan(m[2], &cnt)
			fmt.Sscan(m[3], &first)
			fmt.Sscan(m[4], &last)
			g.notices++
			g.noticed += cnt
			if cnt > 0 {
				if i+cnt > len(recs) {
					t.Fatalf("line %d: notice of %d records not written, only %d records left", n, cnt, len(recs)-i)
				}
				if a, b := serial(recs[i]), serial(recs[i+cnt-1]); uint64(first) != a || uint64(last) != b {
					t.Errorf("line %d: notice says serials %d..%d, the records not written are %d..%d", n, first, last, a, b)
				}
			}
			i += cnt
			continue
		}
		if i >= len(want) || line != want[i] {
			w := ""
			if i < len(want) {
				w = want[i]
			}
			t.Fatalf("line %d: %.120q, want record %d %.120q", n, line, i, w)
		}
		i++
		g.written++
	}
	g.trailing = len(recs) - i
	return g
}
