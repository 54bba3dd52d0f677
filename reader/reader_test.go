package reader

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	libaudit "github.com/elastic/go-libaudit/v2"
)

// The registered audit daemon's own syscalls are never audited, so load
// comes from a child: this test binary re-executed with loadEnv set.
const loadEnv = "READER_TEST_GETPPID_CALLS"

// readyEnv makes the load child write one byte to its stdout as its
// calls start.
const readyEnv = "READER_TEST_READY"

func TestMain(m *testing.M) {
	if v := os.Getenv(loadEnv); v != "" {
		n, _ := strconv.Atoi(v)
		if os.Getenv(readyEnv) != "" {
			os.Stdout.Write([]byte{'!'})
		}
		for i := 0; i < n; i++ {
			syscall.Getppid()
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startLoad runs n getppid calls in a child process of this test.
func startLoad(t testing.TB, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", loadEnv, n))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// kernelForLoad prepares the kernel: enabled, a backlog big enough, no
// stalls, and a rule auditing getppid in children of this process.
func kernelForLoad(t testing.TB) (*audittest.K, string) {
	if raceEnabled {
		// Too slow to keep up under -race: let the load wait instead of
		// the kernel dropping records.
		return kernelWithWait(t, 15000)
	}
	return kernelWithWait(t, 0)
}

// kernelWithWait is kernelForLoad with a backlog_wait_time: a flat-out
// load outruns kauditd, and with a wait time the load stalls instead of
// the kernel dropping records.
func kernelWithWait(t testing.TB, wait uint32) (*audittest.K, string) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	k.SetStatus(libaudit.AuditStatus{
		Mask:            libaudit.AuditStatusEnabled | libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusBacklogWaitTime,
		Enabled:         1,
		BacklogLimit:    8192,
		BacklogWaitTime: wait,
	})
	key := k.Key("reader")
	k.AddRule(fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F ppid=%d -k %s", os.Getpid(), key))
	return k, key
}

func TestUnicastReadsEveryRecord(t *testing.T) {
	// The kernel waits for room instead of dropping: this test is about
	// reading every record the kernel sends, and on a busy machine a
	// flat-out load outran the reader once (kernel lost), which says
	// nothing about the reader.
	k, key := kernelWithWait(t, 15000)
	r, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Cleanup(func() { k.Conn().Unregister() })
	st, _ := k.Conn().Status()
	if st.PID != uint32(os.Getpid()) {
		t.Fatalf("kernel status pid %d, want ours %d", st.PID, os.Getpid())
	}
	lost0 := st.Lost

	const n = 20000
	load := startLoad(t, n)
	suffix := []byte(`key="` + key + `"`)
	var syscalls, total int
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	count := func(typ uint16, p []byte) error {
		total++
		if typ == 1300 && bytes.HasSuffix(p, suffix) {
			syscalls++
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	r.SetDeadline(deadline)
	for syscalls < n {
		if _, err := r.ReadBatch(count); err != nil {
			st, _ := k.Conn().Status()
			t.Fatalf("after %d of %d SYSCALL records: %v (stats %+v, kernel %+v)", syscalls, n, err, r.Stats(), st)
		}
	}
	runtime.ReadMemStats(&ms1)
	load.Wait()
	st, _ = k.Conn().Status()
	if st.Lost != lost0 {
		t.Errorf("kernel lost %d -> %d", lost0, st.Lost)
	}
	s := r.Stats()
	if s.Records != uint64(total) || s.Truncated != 0 || s.Overruns != 0 {
		t.Errorf("stats %+v, delivered %d", s, total)
	}
	perRecord := float64(ms1.Mallocs-ms0.Mallocs) / float64(total)
	t.Logf("%d records in %d recvmmsg calls (largest batch %d), %.4f allocations per record", total, s.Syscalls, s.HighBatch, perRecord)
	if perRecord > 0.05 {
		t.Errorf("%.3f allocations per record, want ~0", perRecord)
	}
}

func TestSecondRegistrationRefused(t *testing.T) {
	k, _ := kernelForLoad(t)
	r, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Cleanup(func() { k.Conn().Unregister() })
	r2, err := Open(Config{})
	if err == nil {
		r2.Close()
		t.Fatal("a second registration succeeded")
	}
	if !errors.Is(err, ErrAlreadyRegistered) {
		t.Fatalf("want ErrAlreadyRegistered, got %v", err)
	}
}

func TestCloseWakesReadBatch(t *testing.T) {
	k, _ := kernelForLoad(t)
	r, err := Open(Config{Mode: ModeMulticast})
	if err != nil {
		t.Fatal(err)
	}
	_ = k
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := r.ReadBatch(func(uint16, []byte) error { return nil }); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	r.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake ReadBatch")
	}
}

func TestMulticastReads(t *testing.T) {
	_, key := kernelForLoad(t)
	r, err := Open(Config{Mode: ModeMulticast})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 500
	load := startLoad(t, n)
	defer load.Wait()
	got := 0
	suffix := []byte(`key="` + key + `"`)
	r.SetDeadline(time.Now().Add(10 * time.Second))
	for got < n {
		if _, err := r.ReadBatch(func(typ uint16, p []byte) error {
			if typ == 1300 && bytes.HasSuffix(p, suffix) {
				got++
			}
			return nil
		}); err != nil {
			t.Fatalf("multicast: %d of %d records: %v (stats %+v)", got, n, err, r.Stats())
		}
	}
}

// BenchmarkReadBatch measures the reader on the real kernel: a child makes
// b.N getppid calls (3 records each) as fast as the kernel lets it (it
// stalls rather than the kernel dropping), the benchmark reads all of them.
func BenchmarkReadBatch(b *testing.B) {
	_, key := kernelWithWait(b, 15000)
	r, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	suffix := []byte(`key="` + key + `"`)
	seen := 0
	fn := func(typ uint16, p []byte) error {
		if typ == 1300 && len(p) > len(suffix) && string(p[len(p)-len(suffix):]) == string(suffix) {
			seen++
		}
		return nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	load := startLoad(b, b.N)
	r.SetDeadline(time.Now().Add(60 * time.Second))
	for seen < b.N {
		if _, err := r.ReadBatch(fn); err != nil {
			b.Fatalf("%d of %d: %v", seen, b.N, err)
		}
	}
	b.StopTimer()
	load.Wait()
	s := r.Stats()
	b.ReportMetric(float64(s.Records)/float64(s.Syscalls), "records/syscall")
}

// TestSetDeadlineWakesReadBatch: a deadline set from another goroutine ends
// a ReadBatch blocked in the kernel, and the datagram that woke it is not
// counted as an error.
func TestSetDeadlineWakesReadBatch(t *testing.T) {
	kernelForLoad(t)
	r, err := Open(Config{Mode: ModeMulticast})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := r.ReadBatch(func(uint16, []byte) error { return nil }); err != nil {
				errc <- err
				return
			}
		}
	}()
	r.SetDeadline(time.Now())
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadBatch after SetDeadline(now): %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetDeadline did not wake ReadBatch")
	}
	if s := r.Stats(); s.Errors != 0 {
		t.Errorf("the wake-up was counted: %+v", s)
	}
	// A timeout returns (0, nil) when nothing arrives.
	r.SetDeadline(time.Time{})
	if _, err := r.ReadBatchTimeout(time.Millisecond, func(uint16, []byte) error { return nil }); err != nil {
		t.Fatalf("ReadBatchTimeout: %v", err)
	}
}
