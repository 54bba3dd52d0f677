package main

// Durability end to end: the daemon killed with SIGKILL under sustained
// load, again and again. Uses the helpers of e2e_test.go.

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/internal/segment"
)

// loadSource is a load generator calling getppid(2) in a loop. It starts
// paused. SIGUSR1 pauses it: it then prints "paused N", N being the calls
// made so far, and makes no call until SIGUSR2. So the count it prints is
// exact: every call it counts was made, and none is made while it is
// paused.
const loadSource = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	var paused atomic.Bool
	resume := make(chan struct{}, 1)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	paused.Store(true)
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				paused.Store(true)
			} else {
				paused.Store(false)
				select {
				case resume <- struct{}{}:
				default:
				}
			}
		}
	}()
	var n int64
	for {
		if paused.Load() {
			fmt.Printf("paused %d\n", n)
			for paused.Load() {
				<-resume
			}
			fmt.Printf("running\n")
			continue
		}
		syscall.Getppid()
		n++
	}
}
`

// loadProc is the running load generator.
type loadProc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startLoad(t *testing.T, dir string) *loadProc {
	t.Helper()
	src := filepath.Join(dir, "load")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "main.go"), []byte(loadSource), 0o600)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module load\n\ngo 1.22\n"), 0o600)
	bin := filepath.Join(dir, "load-bin")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the load generator: %v\n%s", err, out)
	}
	l := &loadProc{cmd: exec.Command(bin), lines: make(chan string, 16)}
	out, err := l.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
	t.Cleanup(func() {
		l.cmd.Process.Kill()
		l.cmd.Wait()
	})
	return l
}

func (l *loadProc) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case s := <-l.lines:
		if !strings.HasPrefix(s, prefix) {
			t.Fatalf("load generator said %q, want %q...", s, prefix)
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("load generator did not say %q within 10s", prefix)
	}
	return ""
}

// pause stops the calls and returns how many were made so far.
func (l *loadProc) pause(t *testing.T) int64 {
	t.Helper()
	l.cmd.Process.Signal(syscall.SIGUSR1)
	n, err := strconv.ParseInt(strings.TrimPrefix(l.expect(t, "paused "), "paused "), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *loadProc) resume(t *testing.T) {
	t.Helper()
	l.cmd.Process.Signal(syscall.SIGUSR2)
	l.expect(t, "running")
}

// lineSerial returns the serial of a log line's audit(SECONDS.MILLIS:SERIAL)
// header.
func lineSerial(line []byte) (string, bool) {
	i := bytes.Index(line, []byte(" msg=audit("))
	if i < 0 {
		return "", false
	}
	rest := line[i+len(" msg=audit("):]
	colon, end := bytes.IndexByte(rest, ':'), bytes.IndexByte(rest, ')')
	if colon < 0 || end < colon {
		return "", false
	}
	return string(rest[colon+1 : end]), true
}

// TestKill9UnderLoad kills the daemon with SIGKILL while a child calls an
// audited getppid(2) as fast as the daemon lets it, restarts it, and does
// that up to 20 times (fewer if it takes too long). Then: every segment
// passes zstd -t and carries its index trailer (added by the next start's
// repair), `auditdrain cat` reads them all, no kernel record appears twice,
// and in each cycle the events missing from the log are fewer than the
// load makes in the configured window (flush_interval + fsync_interval):
// a kill loses only what was not yet written.
func TestKill9UnderLoad(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skipf("skipping: requires the zstd command: %v", err)
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	load := startLoad(t, dir)
	load.expect(t, "paused 0")
	key := k.Key("kill9")
	k.AddRule(fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F pid=%d -k %s", load.cmd.Process.Pid, key))

	const flushInterval, fsyncInterval = 50 * time.Millisecond, 250 * time.Millisecond
	args := []string{"--log-dir", logDir, "--control-socket", filepath.Join(dir, "ctl.sock"),
		"--set", "backlog_limit=8192", "--set", "backlog_wait_time=15000",
		"--set", "flush_interval=" + flushInterval.String(), "--set", "fsync_interval=" + fsyncInterval.String()}

	type cycle struct {
		segs      []string
		generated int64
		load      time.Duration
		startup   time.Duration
	}
	var cycles []cycle
	seen := map[string]bool{}
	var total int64
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	start := time.Now()
	for i := 0; i < 20 && time.Since(start) < 35*time.Second; i++ {
		t0 := time.Now()
		d := startDaemon(t, args...)
		d.waitReady(t)
		startup := time.Since(t0)
		t0 = time.Now()
		load.resume(t)
		time.Sleep(600*time.Millisecond + time.Duration(r.IntN(300))*time.Millisecond)
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		n := load.pause(t)
		c := cycle{generated: n - total, load: time.Since(t0), startup: startup}
		total = n
		err := <-d.done
		d.done <- err
		if ws, ok := err.(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("cycle %d: daemon exit %v, want killed by SIGKILL\n%s", i, err, d.stderr.String())
		}
		segs, _ := segment.List(logDir)
		for _, s := range segs {
			if !seen[s] {
				seen[s] = true
				c.segs = append(c.segs, s)
			}
		}
		cycles = append(cycles, c)
	}
	// A last, clean run repairs the last killed segment.
	d := startDaemon(t, args...)
	d.waitReady(t)
	d.stop(t)
	if len(cycles) < 5 {
		t.Fatalf("only %d kill cycles in %v", len(cycles), time.Since(start))
	}

	// Every segment is valid zstd, and indexed.
	segs, err := segment.List(logDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("zstd", append([]string{"-q", "-t"}, segs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
	for _, s := range segs {
		if _, err := segment.ReadIndex(s); err != nil {
			t.Errorf("segment without its index after the restarts: %v", err)
		}
	}
	broken, _ := filepath.Glob(filepath.Join(logDir, "*.broken"))

	// auditdrain cat reads them all (streamed: the log is hundreds of MB);
	// no kernel record twice (compared by a 128-bit hash of the whole line:
	// serial, type and payload). Per cycle, count the events with our key.
	t1 := time.Now()
	seed1, seed2 := maphash.MakeSeed(), maphash.MakeSeed()
	var sums [][2]uint64
	keyed := `key="` + key + `"`
	catCount := func(paths ...string) int64 {
		t.Helper()
		cat := exec.Command(binPath, append([]string{"cat"}, paths...)...)
		out, err := cat.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cat.Stderr = &stderr
		if err := cat.Start(); err != nil {
			t.Fatal(err)
		}
		var n int64
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if serial, ok := lineSerial(line); !ok || serial == "0" {
				continue // auditdrain's own records
			}
			sums = append(sums, [2]uint64{maphash.Bytes(seed1, line), maphash.Bytes(seed2, line)})
			if bytes.HasPrefix(line, []byte("type=SYSCALL ")) && bytes.Contains(line, []byte(keyed)) {
				n++
			}
		}
		if err := cat.Wait(); err != nil || sc.Err() != nil {
			t.Fatalf("auditdrain cat %v: %v %v\n%s", paths, err, sc.Err(), stderr.String())
		}
		return n
	}
	counts := make([]int64, len(cycles))
	var listed []string
	for i, c := range cycles {
		counts[i] = catCount(c.segs...)
		listed = append(listed, c.segs...)
	}
	if rest := segs[len(listed):]; !slices.Equal(listed, segs[:len(listed)]) || len(rest) > 2 {
		t.Fatalf("segments %v: the cycles made %v", segs, listed)
	} else {
		catCount(rest...) // the last, clean run's
	}
	slices.SortFunc(sums, func(a, b [2]uint64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	for i := 1; i < len(sums); i++ {
		if sums[i] == sums[i-1] {
			t.Fatalf("a kernel record appears twice in the log (of %d)", len(sums))
		}
	}
	t.Logf("read %d kernel records with auditdrain cat and checked them for duplicates in %v", len(sums), time.Since(t1).Round(time.Millisecond))
	// The directory as a whole, as users run it.
	whole := exec.Command(binPath, "cat", logDir)
	var stdout lineCounter
	var stderr bytes.Buffer
	whole.Stdout, whole.Stderr = &stdout, &stderr
	if err := whole.Run(); err != nil || int(stdout) < len(sums) {
		t.Fatalf("auditdrain cat %s: %v, %d lines for %d kernel records\n%s", logDir, err, stdout, len(sums), stderr.String())
	}

	// Per cycle: events missing <= what the load makes in the window.
	window := flushInterval + fsyncInterval
	var found, missing int64
	for i, c := range cycles {
		got := counts[i]
		lost := c.generated - got
		rate := float64(c.generated) / c.load.Seconds()
		allowed := int64(rate * (window + 50*time.Millisecond).Seconds()) // + the kill-to-pause gap
		t.Logf("cycle %2d: start %v, %6d events in %v (%.0f/s), %6d in the log, %5d missing (%.0f ms of load)",
			i, c.startup.Round(time.Millisecond), c.generated, c.load.Round(time.Millisecond), rate, got, lost, float64(lost)/rate*1000)
		if got > c.generated+1 || lost > allowed {
			t.Errorf("cycle %d: %d events made, %d in the log: more than the %d the %v window allows", i, c.generated, got, allowed, window)
		}
		found += got
		missing += lost
	}
	if total == 0 || found == 0 {
		t.Fatalf("no load: %d events made, %d found", total, found)
	}
	t.Logf("%d kills in %v: %d events made, %d written, %d missing (%.3f%%); %d segments, %d torn tails cut (.broken)",
		len(cycles), time.Since(start).Round(time.Second), total, found, missing, 100*float64(missing)/float64(total), len(segs), len(broken))
}

// lineCounter is an io.Writer counting newlines.
type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
