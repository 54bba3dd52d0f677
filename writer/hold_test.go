package writer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// At a low rate a small batch stays open past FlushInterval, up to
// LowRateHold (larger frames), but not at the end of a burst. A frame held
// less than FlushInterval + FsyncInterval is fsynced at that deadline from
// its first record; one held longer is fsynced as soon as it is written.
func TestLowRateHold(t *testing.T) {
	t.Run("within the fsync window", func(t *testing.T) { testLowRateHold(t, 900*time.Millisecond) })
	t.Run("longer than the fsync window", func(t *testing.T) { testLowRateHold(t, 2*time.Second) })
}

func testLowRateHold(t *testing.T, hold time.Duration) {
	clk := newFakeClock()
	e := osEnv()
	e.clock = clk
	s, err := Config{Dir: t.TempDir(), LogGroup: -1, Workers: 1, FlushInterval: 100 * time.Millisecond, FsyncInterval: time.Second, LowRateHold: hold}.resolve()
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
	// up to LowRateHold.
	t0 := clk.Now()
	small()
	due(hold)
	w.Tick(t0.Add(hold - 100*time.Millisecond))
	if w.cur == nil {
		t.Fatal("a small batch was sealed before its hold")
	}
	clk.Advance(hold)
	w.Tick(clk.Now())
	if w.cur != nil {
		t.Fatal("a small batch was not sealed at its hold")
	}
	waitFor(t, "the held frame written", func() bool { return tr.count(traceWrite) == 1 })
	if window := 1100 * time.Millisecond; hold < window {
		// Its fsync is due FlushInterval + FsyncInterval after its first
		// record, not FsyncInterval after its write.
		clk.Advance(window - hold - 50*time.Millisecond)
		time.Sleep(20 * time.Millisecond)
		if n := tr.count(traceSyncStart); n != 0 {
			t.Fatalf("fsync %v after the first record, want it at %v", window-50*time.Millisecond, window)
		}
		clk.Advance(60 * time.Millisecond)
	}
	// Held longer than that window: fsynced as soon as written (the
	// clock does not move).
	waitFor(t, "the held frame's fsync", func() bool { return tr.count(traceSyncStart) == 1 })

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
	due(hold)
}

// No LowRateHold (or one not above FlushInterval): a small batch is sealed
// at FlushInterval at any rate, and a hold out of range is refused.
func TestLowRateHoldOff(t *testing.T) {
	for _, hold := range []time.Duration{0, 50 * time.Millisecond} {
		s, err := Config{Dir: t.TempDir(), FlushInterval: 100 * time.Millisecond, FsyncInterval: time.Second, LowRateHold: hold}.resolve()
		if err != nil || s.hold != 100*time.Millisecond {
			t.Errorf("LowRateHold %v: hold %v, %v; want 100ms", hold, s.hold, err)
		}
	}
	// Not with Flush "incremental": only "interval" holds.
	s, err := Config{Dir: t.TempDir(), FlushInterval: 100 * time.Millisecond, Flush: FlushIncremental, LowRateHold: 2 * time.Second}.resolve()
	if err != nil || s.hold != 100*time.Millisecond {
		t.Errorf("incremental: hold %v, %v; want 100ms", s.hold, err)
	}
	for _, hold := range []time.Duration{-time.Second, MaxLowRateHold + 1} {
		if _, err := (Config{Dir: t.TempDir(), FsyncInterval: time.Second, LowRateHold: hold}).resolve(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "LowRateHold") {
			t.Errorf("LowRateHold %v: %v, want an ErrConfig naming LowRateHold", hold, err)
		}
	}
}

// A batch's 64 age slots cover the longest it stays open: 16 ms slots up
// to a hold of 1,024 ms, wider ones beyond, so that a record appended late
// in a long-held batch is not counted at a second past the first record's
// age.
func TestAgeSlotsCoverTheHold(t *testing.T) {
	for _, c := range []struct {
		hold  time.Duration
		shift uint
	}{{0, 4}, {time.Second, 4}, {2 * time.Second, 5}, {MaxLowRateHold, 8}} {
		s, err := Config{Dir: t.TempDir(), FlushInterval: 100 * time.Millisecond, FsyncInterval: time.Second, LowRateHold: c.hold}.resolve()
		if err != nil || s.ageShift != c.shift || ageSlots<<s.ageShift < s.hold.Milliseconds() {
			t.Errorf("LowRateHold %v: age slots of %d ms (%v), want %d ms covering %v", c.hold, 1<<s.ageShift, err, 1<<c.shift, s.hold)
		}
	}
}
