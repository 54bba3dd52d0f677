package writer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

func TestLatencyHistogram(t *testing.T) {
	var h histogram
	if q := h.snapshot().Quantile(0.5); q != 0 {
		t.Errorf("empty histogram: Quantile = %v, want 0", q)
	}
	ms := time.Millisecond
	for _, d := range []time.Duration{-5 * ms, 0, ms / 2, ms, 3 * ms, 3 * ms, 40 * ms, 900 * ms, 9 * time.Second, 30 * time.Second} {
		h.observe(d)
	}
	s := h.snapshot()
	want := [NumLatencyBuckets]uint64{4, 0, 2, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1}
	if s.Counts != want || s.Count() != 10 || s.Max != 30*time.Second {
		t.Fatalf("snapshot %+v, want counts %v, max 30s", s, want)
	}
	f := func(q float64, want time.Duration) {
		t.Helper()
		if got := s.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	f(0.1, ms)
	f(0.4, ms)
	f(0.5, 5*ms)
	f(0.6, 5*ms)
	f(0.7, 50*ms)
	f(0.8, time.Second)
	f(0.9, 10*time.Second)
	f(0.99, 30*time.Second)
	f(1, 30*time.Second)
	if LatencyBucketBound(0) != ms || LatencyBucketBound(NumLatencyBuckets-2) != 10*time.Second || LatencyBucketBound(NumLatencyBuckets-1) != 0 {
		t.Error("LatencyBucketBound: wrong bounds")
	}
	// Quantile never exceeds the largest value seen.
	var small histogram
	small.observe(300 * time.Microsecond)
	if q := small.snapshot().Quantile(0.99); q != 300*time.Microsecond {
		t.Errorf("Quantile of one 300µs value = %v", q)
	}
}

func TestStatsLatencyFromKernelTimestamp(t *testing.T) {
	w, err := Open(Config{Dir: t.TempDir(), LogGroup: -1, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Second).UnixMilli()
	p := fmt.Appendf(nil, "audit(%d.%03d:1): op=x", old/1000, old%1000)
	w.Append(1305, p)
	w.Flush()
	w.Append(1305, []byte("no timestamp"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Latency.Count() != 1 || st.Latency.Counts[11] != 1 || st.Latency.Max < 3*time.Second || st.Latency.Max > 4*time.Second {
		t.Errorf("latency %+v: want one observation of ~3s in the (2s,5s] bucket", st.Latency)
	}
	if st.Fsyncs < 3 || st.FsyncNanosTotal <= 0 || st.FsyncNanosMax <= 0 || st.FsyncNanosMax > st.FsyncNanosTotal || st.FsyncLatency.Count() != st.Fsyncs {
		t.Errorf("fsync stats %d, %d, %d, %d", st.Fsyncs, st.FsyncNanosTotal, st.FsyncNanosMax, st.FsyncLatency.Count())
	}
}

func TestCatErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "audit-0000000001.log.zst")
	if err := os.WriteFile(bad, []byte("this is not zstd"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := segment.Cat(&out, bad)
	if !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(fmt.Sprint(err), bad) {
		t.Errorf("Cat of garbage = %v, want segment.ErrCorrupt naming %s", err, bad)
	}
	missing := filepath.Join(dir, "audit-0000000002.log")
	if err := segment.Cat(&out, missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(fmt.Sprint(err), missing) {
		t.Errorf("Cat of a missing file = %v", err)
	}
	if _, err := segment.List(filepath.Join(dir, "nope")); err == nil {
		t.Error("Segments of a missing directory succeeded")
	}
}

// TestStatsLatencyPerRecord: the latency histogram counts each record at
// about its own age, not at its batch's first record's: one record 800 ms
// old opens a batch that 199 fresh ones fill, and the p99 is theirs.
func TestStatsLatencyPerRecord(t *testing.T) {
	w, err := Open(Config{Dir: t.TempDir(), LogGroup: -1, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i, ms := range append([]int64{now - 800}, slices.Repeat([]int64{now}, 199)...) {
		w.Append(1305, fmt.Appendf(nil, "audit(%d.%03d:%d): op=x", ms/1000, ms%1000, i+1))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h := w.Stats().Latency
	if h.Count() != 200 {
		t.Fatalf("%d records observed, want 200", h.Count())
	}
	if p99, top := h.Quantile(0.99), h.Quantile(1); p99 > 100*time.Millisecond || top < 800*time.Millisecond {
		t.Fatalf("p99 %v (want the fresh records' few ms), max %v (want the old one's 800 ms+)", p99, top)
	}
}
