package writer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
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
	paths, err := Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Cat(&buf, paths...); err != nil {
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
