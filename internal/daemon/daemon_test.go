package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/ratelimit"
	"github.com/auditdrain/auditdrain/reader"
	libaudit "github.com/elastic/go-libaudit/v2"
)

// Load comes from children (the registered daemon's own syscalls are never
// audited): this test binary re-executed with loadEnv = "SYSCALL:N:RATE",
// making N calls of getppid or getgid, paced at RATE calls/s (0 = flat out).
// (Not getpid: the Go runtime calls it itself, to signal its threads.)
const loadEnv = "DAEMON_TEST_LOAD"

func TestMain(m *testing.M) {
	if v := os.Getenv(loadEnv); v != "" {
		os.Exit(runLoad(v))
	}
	if v := os.Getenv(execEnv); v != "" {
		os.Exit(runExecs(v))
	}
	os.Exit(m.Run())
}

func runLoad(spec string) int {
	for _, part := range strings.Split(spec, ",") {
		f := strings.Split(part, ":")
		n, _ := strconv.Atoi(f[1])
		rate, _ := strconv.ParseFloat(f[2], 64)
		call := syscall.Getppid
		if f[0] == "getgid" {
			call = syscall.Getgid
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			// Pace every call at low rates (a burst of 64 events would
			// overflow a small multicast buffer), every 64 at high ones.
			if rate > 0 && (rate < 10000 || i%64 == 0) {
				due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
			}
			call()
		}
	}
	return 0
}

// load runs the children's syscalls and waits for them.
func load(t *testing.T, spec string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadEnv+"="+spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load %s: %v\n%s", spec, err, out)
	}
}

type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	log    *bytes.Buffer
	cfg    config.Config
}

// start runs the daemon in this process (it registers as the audit daemon)
// with a temporary log dir and control socket.
func start(t *testing.T, k *audittest.K, cfg config.Config, opts Options) *running {
	t.Helper()
	dir := t.TempDir()
	cfg.LogDir = filepath.Join(dir, "log")
	cfg.ControlSocket = filepath.Join(dir, "c.sock")
	cfg.BacklogWaitTime = 0
	cfg.RulesDir = "" // the test adds its own rules; rules.d's -D would delete them
	if cfg.PluginDir == config.Default().PluginDir {
		cfg.PluginDir = "" // the machine's plugins are not the test's
	}
	var logBuf bytes.Buffer
	opts.Log = &syncWriter{w: &logBuf}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), log: &logBuf, cfg: cfg}
	ready := make(chan *Daemon, 1)
	go func() { r.done <- Run(ctx, cfg, opts, func(d *Daemon) { ready <- d }) }()
	select {
	case r.d = <-ready:
	case err := <-r.done:
		t.Fatalf("daemon did not start: %v\n%s", err, logBuf.String())
	case <-time.After(15 * time.Second):
		t.Fatal("daemon not ready after 15s")
	}
	t.Cleanup(func() {
		cancel()
		<-r.done
		k.Conn().Unregister()
	})
	return r
}

// slowWriter stalls the writer 100 us every nth record, so the ring fills.
func slowWriter(every int) Options {
	n := 0
	return Options{BeforeAppend: func() {
		if n++; n%every == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// stop shuts the daemon down cleanly and returns its final status.
func (r *running) stop(t *testing.T) Status {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // let the last records arrive
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("daemon: %v\n%s", err, r.log.String())
	}
	r.done <- nil
	return r.d.Status()
}

func (r *running) logText(t *testing.T) string {
	t.Helper()
	segs, err := segment.List(r.cfg.LogDir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := segment.Cat(&b, segs...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var count = audittest.CountLines

var lostFieldRe = regexp.MustCompile(`op=lost .*`)

// sumField adds up field=N over the op=lost accounting records of a log.
func sumField(log, field string) uint64 {
	var n uint64
	re := regexp.MustCompile(`\b` + field + `=(\d+)`)
	for _, line := range lostFieldRe.FindAllString(log, -1) {
		if m := re.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseUint(m[1], 10, 64)
			n += v
		}
	}
	return n
}

func kernelFor(t *testing.T, backlog uint32) *audittest.K {
	k := audittest.Kernel(t)
	k.StopAuditd()
	k.SetStatus(libaudit.AuditStatus{
		Mask:         libaudit.AuditStatusEnabled | libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusBacklogWaitTime,
		Enabled:      1,
		BacklogLimit: backlog,
	})
	return k
}

func rule(k *audittest.K, call, key string) {
	k.AddRule(fmt.Sprintf("-a always,exit -F arch=b64 -S %s -F ppid=%d -k %s", call, os.Getpid(), key))
}

func lostNow(t *testing.T, k *audittest.K) uint32 {
	s, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	return s.Lost
}

// A slow writer with overflow_action = block: the ring fills, the reader
// waits, the kernel backlog absorbs the burst, and nothing is lost.
func TestBlockSlowWriterLosesNothing(t *testing.T) {
	k := kernelFor(t, 8192)
	key := k.Key("block")
	rule(k, "getppid", key)
	cfg := config.Default()
	cfg.RingSize = 64 << 10
	cfg.BacklogLimit = 8192
	r := start(t, k, cfg, slowWriter(16))
	lost0 := lostNow(t, k)
	const events = 2000
	load(t, fmt.Sprintf("getppid:%d:0", events))
	st := r.stop(t)
	if l := lostNow(t, k); l != lost0 {
		t.Errorf("kernel lost %d -> %d with overflow_action = block", lost0, l)
	}
	if st.RingHighWater < st.RingCapacity/2 {
		t.Errorf("ring high water %d of %d: the slow writer did not fill the ring", st.RingHighWater, st.RingCapacity)
	}
	if got := count(r.logText(t), "type=SYSCALL ", `key="`+key+`"`); got != events {
		t.Fatalf("%d SYSCALL records on disk, want %d; status %+v", got, events, st)
	}
	if st.LostTotal != 0 {
		t.Fatalf("lost %v", st.Lost)
	}
}

// overflow_action = drop with a stalled writer: the reader never waits,
// keep records all reach the disk, and every other record is on disk or
// counted as dropped.
func TestDropCountsEveryRecordAndKeepsKeep(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: under -race the reader cannot keep up with the kernel, which this test needs")
	}
	k := kernelFor(t, 65536)
	noisy, keep := k.Key("noisy"), k.Key("keep")
	rule(k, "getppid", noisy)
	rule(k, "getgid", keep)
	cfg := config.Default()
	cfg.RingSize = 64 << 10
	cfg.OverflowAction = "drop"
	cfg.KeepKeys = []string{keep}
	cfg.BacklogLimit = 65536
	r := start(t, k, cfg, slowWriter(8))
	lost0 := lostNow(t, k)
	const noisyEvents, keepEvents = 20000, 500
	load(t, fmt.Sprintf("getppid:%d:0,getgid:%d:0,getppid:%d:0", noisyEvents/2, keepEvents, noisyEvents/2))
	st := r.stop(t)
	log := r.logText(t)
	if l := lostNow(t, k); l != lost0 {
		t.Errorf("kernel lost %d -> %d: the reader must not fall behind with overflow_action = drop", lost0, l)
	}
	if got := count(log, "type=SYSCALL ", `key="`+keep+`"`); got != keepEvents {
		t.Errorf("keep events on disk: %d, want all %d", got, keepEvents)
	}
	written := count(log, "type=SYSCALL ", `key="`+noisy+`"`)
	dropped := int(st.DroppedByKey[noisy])
	if written+dropped != noisyEvents || dropped == 0 {
		t.Fatalf("noisy events: %d on disk + %d counted dropped = %d, want %d (and some dropped)", written, dropped, written+dropped, noisyEvents)
	}
	lostDropped := st.Lost[pipeline.CauseDropped.String()]
	if got := sumField(log, "dropped"); got != lostDropped || got == 0 {
		t.Fatalf("op=lost records in the log say dropped=%d, status says %d", got, lostDropped)
	}
	t.Logf("noisy: %d written, %d dropped; %d records dropped in all; ring high water %d", written, dropped, lostDropped, st.RingHighWater)
}

// Kernel loss (a tiny backlog, no wait, a slow reader) is reported exactly
// as the kernel counts it, and written into the log.
func TestKernelLostReported(t *testing.T) {
	k := kernelFor(t, 64)
	key := k.Key("klost")
	rule(k, "getppid", key)
	cfg := config.Default()
	cfg.RingSize = 64 << 10
	cfg.BacklogLimit = 64
	r := start(t, k, cfg, slowWriter(4))
	lost0 := lostNow(t, k)
	load(t, "getppid:20000:0")
	time.Sleep(1200 * time.Millisecond) // one more kernel poll
	st := r.stop(t)
	lost1 := lostNow(t, k)
	if lost1 == lost0 {
		t.Skip("skipping: the kernel lost nothing; the reader kept up even when slowed")
	}
	if st.Lost[pipeline.CauseKernel.String()] != uint64(lost1-lost0) {
		t.Fatalf("daemon reports kernel lost %d, kernel's own delta is %d", st.Lost[pipeline.CauseKernel.String()], lost1-lost0)
	}
	if got := sumField(r.logText(t), "kernel"); got != uint64(lost1-lost0) {
		t.Fatalf("op=lost records in the log add up to kernel=%d, kernel's delta is %d", got, lost1-lost0)
	}
}

// Multicast with a tiny receive buffer: overruns are counted and the
// socket recovers.
func TestMulticastOverrunRecovers(t *testing.T) {
	k := kernelFor(t, 8192)
	key, after := k.Key("mc"), k.Key("after")
	rule(k, "getppid", key)
	rule(k, "getgid", after)
	cfg := config.Default()
	cfg.Mode = reader.ModeMulticast
	cfg.RcvBuf = 64 << 10
	cfg.RingSize = 64 << 10
	cfg.Enabled = -1
	// The drain stalls until the socket has overrun: the 64 KiB ring
	// fills, the reader waits for room (overflow_action = block), and the
	// 64 KiB receive buffer overflows. Then the drain runs free again.
	var stalled atomic.Bool
	stalled.Store(true)
	r := start(t, k, cfg, Options{BeforeAppend: func() {
		for stalled.Load() {
			time.Sleep(time.Millisecond)
		}
	}})
	load(t, "getppid:20000:0")
	deadline := time.Now().Add(30 * time.Second)
	// The reader is parked in the ring's Push, so the socket's drops show
	// in /proc/net/netlink first; ENOBUFS comes with its next read.
	for r.d.Status().Lost[pipeline.CauseSockDrop.String()] == 0 {
		if time.Now().After(deadline) {
			stalled.Store(false)
			t.Fatalf("no overrun with a stalled drain, a 64 KiB ring and a 64 KiB receive buffer after 20,000 events: status %+v", r.d.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stalled.Store(false)
	load(t, "getgid:100:500") // paced: a 64 KiB buffer holds only ~40 records
	st := r.stop(t)
	if got := count(r.logText(t), "type=SYSCALL ", `key="`+after+`"`); got != 100 {
		t.Fatalf("after %d overruns, %d of the 100 later events arrived: the socket did not recover", st.Overruns, got)
	}
	if st.Lost[pipeline.CauseSockDrop.String()] == 0 {
		t.Errorf("%d overruns but no datagram counted as dropped at the socket (/proc/net/netlink Drops)", st.Overruns)
	}
	t.Logf("%d overruns counted, %d datagrams dropped at the socket", st.Overruns, st.Lost[pipeline.CauseSockDrop.String()])
}

// A noisy key at 50,000 events/s limited to 1,000/s: exact counts, one
// summary a second in the log, the other key untouched.
func TestRateLimitNoisyKey(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: under -race the daemon cannot take 50,000 events/s")
	}
	k := kernelFor(t, 65536)
	noisy, other := k.Key("rl"), k.Key("other")
	rule(k, "getppid", noisy)
	rule(k, "getgid", other)
	cfg := config.Default()
	cfg.BacklogLimit = 65536
	// The counts must be exact even when CI shares the CPU: the load waits
	// for room rather than the kernel dropping records.
	cfg.KernelBackpressure = "wait"
	cfg.Limits.Rules = []ratelimit.Rule{{Key: noisy, Rate: 1000, Burst: 1000}}
	r := start(t, k, cfg, Options{})
	lost0 := lostNow(t, k)
	const events = 100000 // 2 s at 50,000/s
	t0 := time.Now()
	load(t, fmt.Sprintf("getppid:%d:50000,getgid:300:0", events))
	time.Sleep(1100 * time.Millisecond)
	// The limiter runs on the drain's clock: every record was handled
	// between t0 and now, so at most burst + rate * window events pass,
	// however long a busy CPU made the load take.
	window := time.Since(t0)
	st := r.stop(t)
	if l := lostNow(t, k); l != lost0 {
		t.Fatalf("kernel lost %d records at 50,000 events/s", l-lost0)
	}
	log := r.logText(t)
	written := count(log, "type=SYSCALL ", `key="`+noisy+`"`)
	if got := count(log, "type=SYSCALL ", `key="`+other+`"`); got != 300 {
		t.Errorf("other key: %d on disk, want 300", got)
	}
	// Each allowed event writes SYSCALL + PROCTITLE (EOE is not written);
	// suppressed counts records of all three types.
	suppressed := st.RateLimitedByKey[noisy]
	if uint64(events-written)*3 != suppressed {
		t.Fatalf("%d events written, %d records suppressed; want (%d - %d) * 3", written, suppressed, events, written)
	}
	if most := 1000 + int(1000*window.Seconds()) + 1; written < 2000 || written > most {
		t.Fatalf("%d events let through in %v at 1000/s with burst 1000: want 2000 to %d", written, window.Round(time.Millisecond), most)
	}
	re := regexp.MustCompile(`op=ratelimit key="` + noisy + `" suppressed=(\d+)`)
	var sum uint64
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		v, _ := strconv.ParseUint(m[1], 10, 64)
		sum += v
	}
	if sum != suppressed {
		t.Fatalf("summary records add up to %d suppressed, status says %d", sum, suppressed)
	}
	t.Logf("%d of %d events written, %d records suppressed", written, events, suppressed)
}

// The watchdog is fed only while the pipeline moves records: a stuck writer
// (records waiting in the ring, none drained) stops the pings, so systemd
// restarts the service.
func TestWatchdogStopsWhenWedged(t *testing.T) {
	k := kernelFor(t, 8192)
	key := k.Key("wd")
	rule(k, "getppid", key)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	var wedged atomic.Bool
	release := make(chan struct{})
	r := start(t, k, config.Default(), Options{BeforeAppend: func() {
		if wedged.Load() {
			<-release
		}
	}})
	pings := func(d time.Duration) int {
		n := 0
		buf := make([]byte, 4096)
		end := time.Now().Add(d)
		for {
			conn.SetReadDeadline(end)
			m, err := conn.Read(buf)
			if err != nil {
				return n
			}
			if strings.Contains(string(buf[:m]), "WATCHDOG=1") {
				n++
			}
		}
	}
	if n := pings(500 * time.Millisecond); n == 0 {
		t.Fatal("no watchdog pings from a healthy daemon")
	}
	wedged.Store(true)
	load(t, "getppid:200:0")
	time.Sleep(300 * time.Millisecond) // the stuck record arrives; pings already sent drain away
	pings(50 * time.Millisecond)
	if n := pings(600 * time.Millisecond); n != 0 {
		t.Fatalf("%d watchdog pings while the writer was stuck", n)
	}
	close(release)
	if n := pings(600 * time.Millisecond); n == 0 {
		t.Fatal("no watchdog pings after the writer recovered")
	}
	r.stop(t)
}

// The figure: overflow_action = drop, the disk stalled for 5 s under
// 50,000 events/s. The kernel loses nothing and programs never wait
// (kernel_backpressure = drop), every record is on disk or counted, and every
// keep record is on disk.
func TestDiskStallUnderLoad(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: under -race the daemon cannot take 50,000 events/s")
	}
	if testing.Short() {
		t.Skip("skipping in -short: 10 s of load")
	}
	k := kernelFor(t, 65536)
	noisy, keep := k.Key("stall"), k.Key("stallkeep")
	rule(k, "getppid", noisy)
	rule(k, "getgid", keep)
	cfg := config.Default()
	cfg.OverflowAction = "drop"
	cfg.KeepKeys = []string{keep}
	cfg.KernelBackpressure = "drop"
	cfg.BacklogLimit = 65536 // room for a moment of CPU contention (CI)
	var stall atomic.Bool
	var stalled time.Duration
	r := start(t, k, cfg, Options{BeforeAppend: func() {
		if stall.CompareAndSwap(true, false) {
			t0 := time.Now()
			time.Sleep(5 * time.Second) // the disk stalls
			stalled = time.Since(t0)
		}
	}})
	st0, _ := k.Conn().Status()
	stall.Store(true)
	const noisyEvents, keepEvents = 350000, 1000 // 7 s at 50,000/s, keep events in the middle of the stall
	load(t, fmt.Sprintf("getppid:%d:50000,getgid:%d:1000,getppid:%d:50000", noisyEvents/2, keepEvents, noisyEvents/2))
	st := r.stop(t)
	st1, _ := k.Conn().Status()
	log := r.logText(t)
	written := count(log, "type=SYSCALL ", `key="`+noisy+`"`)
	dropped := int(st.DroppedByKey[noisy])
	keptKeep := count(log, "type=SYSCALL ", `key="`+keep+`"`)
	t.Logf("disk stalled %v under 50,000 events/s: kernel lost %d, programs stalled %d jiffies, noisy events %d on disk + %d counted dropped = %d of %d, keep events %d of %d on disk, ring high water %d",
		stalled.Round(time.Millisecond), st1.Lost-st0.Lost, st1.BacklogWaitTimeActual-st0.BacklogWaitTimeActual,
		written, dropped, written+dropped, noisyEvents, keptKeep, keepEvents, st.RingHighWater)
	if st1.Lost != st0.Lost {
		t.Errorf("kernel lost %d records", st1.Lost-st0.Lost)
	}
	if st1.BacklogWaitTimeActual != st0.BacklogWaitTimeActual {
		t.Errorf("audited programs stalled %d jiffies", st1.BacklogWaitTimeActual-st0.BacklogWaitTimeActual)
	}
	if written+dropped != noisyEvents || dropped == 0 {
		t.Errorf("noisy events: %d on disk + %d dropped != %d generated (or none dropped)", written, dropped, noisyEvents)
	}
	if keptKeep != keepEvents {
		t.Errorf("keep events on disk: %d of %d", keptKeep, keepEvents)
	}
	if stalled < 5*time.Second {
		t.Errorf("the stall was not injected (%v)", stalled)
	}
}
