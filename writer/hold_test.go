package writer

import (
	"strings"
	"testing"
	"time"
)

// At a low rate a small batch stays open past FlushInterval (larger
// frames), but not at the end of a burst, and its frame is still fsynced
// within FlushInterval + FsyncInterval of its first record: the
// durability window does not grow.
func TestLowRateHold(t *testing.T) {
	clk := newFakeClock()
	e := osEnv()
	e.clock = clk
	s, err := Config{Dir: t.TempDir(), LogGroup: -1, Workers: 1, FlushInterval: 100 * time.Millisecond, FsyncInterval: time.Second}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	s.trace, s.env = tr.add, &e
	w, err := openSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	line := []byte("audit(1732564000.000:1): " + strings.Repeat("x", 200))
	small := func() {
		t.Helper()
		for range 5 {
			if err := w.Append(1300, line); err != nil {
				t.Fatal(err)
			}
		}
	}
	due := func(want time.Duration) {
		t.Helper()
		d, ok := w.SealDue()
		if !ok || d.Sub(w.cur.firstAt) != want {
			t.Fatalf("SealDue = %v after the first record (open %v), want %v", d.Sub(w.cur.firstAt), ok, want)
		}
	}

	// A small batch after a small one (the start counts as small): held
	// up to FsyncInterval - FlushInterval.
	t0 := clk.Now()
	small()
	due(900 * time.Millisecond)
	w.Tick(t0.Add(500 * time.Millisecond))
	if w.cur == nil {
		t.Fatal("a small batch was sealed before its hold")
	}
	clk.Advance(900 * time.Millisecond)
	w.Tick(clk.Now())
	if w.cur != nil {
		t.Fatal("a small batch was not sealed at its hold")
	}
	waitFor(t, "the held frame written", func() bool { return tr.count(traceWrite) == 1 })
	// Its fsync is due FlushInterval + FsyncInterval after its first
	// record (200 ms from now), not FsyncInterval after its write.
	clk.Advance(150 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if n := tr.count(traceSyncStart); n != 0 {
		t.Fatalf("fsync 1.05 s after the first record, want it at 1.1 s")
	}
	clk.Advance(60 * time.Millisecond)
	waitFor(t, "the held frame's fsync at FlushInterval + FsyncInterval", func() bool { return tr.count(traceSyncStart) == 1 })

	// A batch that reaches MinFrameBytes is due at FlushInterval.
	for w.cur == nil || len(w.cur.text) < MinFrameBytes {
		small()
	}
	due(100 * time.Millisecond)
	clk.Advance(100 * time.Millisecond)
	w.Tick(clk.Now())
	if w.cur != nil {
		t.Fatal("a full-size batch was not sealed at FlushInterval")
	}
	// The small batch after it (a burst ending) is not held.
	small()
	due(100 * time.Millisecond)
	clk.Advance(100 * time.Millisecond)
	w.Tick(clk.Now())
	// And the next small one is held again.
	small()
	due(900 * time.Millisecond)
}
