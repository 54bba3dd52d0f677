package writer

import (
	"testing"
	"time"
)

// TestFlushModes checks, from the appender's own trace, when each flush
// mode fsyncs: how many fsyncs for how many frames, and for data and sync
// that no batch is acknowledged before an fsync covering its frame has
// completed. None of it depends on timing: frames are made with Flush, and
// the checks look at the order of events, not at clocks.
func TestFlushModes(t *testing.T) {
	const perFrame, frames, freq = 30, 40, 100
	recs := genEvents(perFrame*frames, 31)
	want := wantText(recs, "")
	for _, c := range []struct {
		mode     string
		interval time.Duration
	}{
		{FlushNone, 0},
		{FlushInterval, time.Hour},
		{FlushIncremental, 0},
		{FlushIncrementalAsync, 0},
		{FlushData, 0},
		{FlushSync, 0},
		{"", 0}, // interval with FsyncInterval 0 is data
	} {
		t.Run(c.mode, func(t *testing.T) {
			dir := t.TempDir()
			w, tr := openTraced(t, Config{Dir: dir, LogGroup: -1, Workers: 2, Flush: c.mode, Freq: freq, FsyncInterval: c.interval})
			for i := range frames {
				appendAll(t, w, recs[i*perFrame:(i+1)*perFrame])
				w.Flush()
			}
			waitFor(t, "every batch acknowledged", func() bool { return tr.count(traceRelease) == frames })
			before := tr.events()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			after := tr.events()
			if got := catDir(t, dir); got != want {
				t.Fatalf("log differs from the records: %s", firstDiff(got, want))
			}

			var starts, writes int
			var maxDone uint64
			for _, ev := range before {
				switch ev.kind {
				case traceSyncStart:
					starts++
				case traceWrite:
					writes++
				}
			}
			for _, ev := range after {
				if ev.kind == traceSyncDone {
					maxDone = max(maxDone, ev.frame)
				}
				if ev.kind == traceSyncStart && ev.full != (c.mode == FlushSync) {
					t.Fatalf("fsync (full=%v) in mode %q", ev.full, c.mode)
				}
			}
			if writes != frames || maxDone != frames {
				t.Fatalf("%d frames written, last fsync at Close covers frame %d; want %d", writes, maxDone, frames)
			}
			switch c.mode {
			case FlushNone, FlushInterval:
				if starts != 0 {
					t.Errorf("%d fsyncs of the segment before Close, want 0", starts)
				}
			case FlushIncremental:
				// Inline: an fsync right after frames 4, 8, ... (120 records
				// each time), nothing written while it runs.
				if starts != frames*perFrame/120 {
					t.Errorf("%d fsyncs for %d records, freq %d in frames of %d; want %d", starts, frames*perFrame, freq, perFrame, frames*perFrame/120)
				}
				lastWrite := uint64(0)
				for i, ev := range before {
					switch ev.kind {
					case traceWrite:
						lastWrite = ev.frame
					case traceSyncStart:
						if ev.frame != lastWrite || ev.frame%4 != 0 {
							t.Fatalf("event %d: fsync covering frame %d after frame %d was written", i, ev.frame, lastWrite)
						}
						if i+1 == len(before) {
							break // the trace was cut while this fsync ran
						}
						if next := before[i+1]; next.kind != traceSyncDone || next.frame != ev.frame {
							t.Fatalf("event %d: inline fsync followed by %+v", i, next)
						}
					}
				}
			case FlushIncrementalAsync:
				// Each fsync covers at least freq records.
				if starts == 0 || starts > frames*perFrame/freq {
					t.Errorf("%d fsyncs for %d records with freq %d", starts, frames*perFrame, freq)
				}
				prev := uint64(0)
				for _, ev := range before {
					if ev.kind == traceSyncStart {
						if n := (ev.frame - prev) * perFrame; n < freq {
							t.Errorf("fsync covering frames %d..%d: %d records, want >= %d", prev+1, ev.frame, n, freq)
						}
						prev = ev.frame
					}
				}
			default: // data, sync
				// A batch is acknowledged only after an fsync covering its
				// frame completed; every frame is covered by an fsync
				// started after it was written; never more fsyncs than
				// frames.
				var done, written uint64
				pending := map[uint64]bool{}
				for i, ev := range before {
					switch ev.kind {
					case traceWrite:
						written = ev.frame
						pending[ev.frame] = true
					case traceSyncStart:
						if ev.frame > written {
							t.Fatalf("event %d: fsync claims frame %d, only %d written", i, ev.frame, written)
						}
						for f := range pending {
							if f <= ev.frame {
								delete(pending, f)
							}
						}
					case traceSyncDone:
						done = max(done, ev.frame)
					case traceRelease:
						if ev.frame > done {
							t.Fatalf("event %d: batch of frame %d acknowledged; fsyncs completed only up to frame %d", i, ev.frame, done)
						}
					}
				}
				if len(pending) > 0 || starts == 0 || starts > frames {
					t.Errorf("%d frames never covered by an fsync; %d fsyncs for %d frames", len(pending), starts, frames)
				}
			}
			st := w.Stats()
			if st.RecordsSynced != uint64(len(recs)) || st.Records != uint64(len(recs)) {
				t.Errorf("Records %d, RecordsSynced %d; want %d", st.Records, st.RecordsSynced, len(recs))
			}
			if st.DurabilityWindow.Count() == 0 || st.DurabilityWindow.Count() > uint64(starts+1) {
				t.Errorf("durability window observed %d times for %d fsyncs (+1 at Close)", st.DurabilityWindow.Count(), starts)
			}
		})
	}
}

// With Flush "interval", every fsync the timer starts covers records
// written at least FsyncInterval earlier: the window observed can never
// be below it. (An upper bound depends on the disk; see
// BenchmarkDurability.)
func TestDurabilityWindowInterval(t *testing.T) {
	const interval = 30 * time.Millisecond
	w, err := Open(Config{Dir: t.TempDir(), LogGroup: -1, Flush: FlushInterval, FsyncInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs := genEvents(600, 32)
	for i := range 6 {
		appendAll(t, w, recs[i*100:(i+1)*100])
		w.Flush()
		time.Sleep(interval / 3)
	}
	waitFor(t, "timer fsyncs covering every record", func() bool { return w.Stats().RecordsSynced == 600 })
	h := w.Stats().DurabilityWindow
	if h.Count() < 2 {
		t.Fatalf("window observed %d times", h.Count())
	}
	for i := 0; LatencyBucketBound(i) != 0 && LatencyBucketBound(i) < interval; i++ {
		if h.Counts[i] != 0 {
			t.Fatalf("window histogram %v: %d observations <= %v, below the %v interval", h.Counts, h.Counts[i], LatencyBucketBound(i), interval)
		}
	}
	t.Logf("window p50 %v p99 %v max %v over %d fsyncs", h.Quantile(0.5), h.Quantile(0.99), h.Max, h.Count())
}

// In the incremental modes a positive FsyncInterval bounds how long
// records stay unsynced below Freq.
func TestIncrementalBackstop(t *testing.T) {
	for _, mode := range []string{FlushIncremental, FlushIncrementalAsync} {
		w, err := Open(Config{Dir: t.TempDir(), LogGroup: -1, Flush: mode, Freq: 1 << 30, FsyncInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, w, genEvents(10, 33))
		w.Flush()
		waitFor(t, mode+" backstop fsync", func() bool { return w.Stats().RecordsSynced == 10 })
		w.Close()
	}
}

func TestFlushConfig(t *testing.T) {
	f := func(cfg Config, want flushMode) {
		t.Helper()
		cfg.Dir = "x"
		s, err := cfg.resolve()
		if err != nil || s.flush != want {
			t.Errorf("%+v: flush %v, %v; want %v", cfg, s.flush, err, want)
		}
	}
	f(Config{}, flushData)
	f(Config{FsyncInterval: time.Second}, flushInterval)
	f(Config{Flush: "INCREMENTAL_ASYNC"}, flushIncrementalAsync)
	f(Config{Flush: "none"}, flushNone)
	f(Config{Flush: "sync", FsyncInterval: time.Second}, flushSync)
	if _, err := (Config{Dir: "x", Flush: "always"}).resolve(); err == nil {
		t.Error("Flush always accepted")
	}
}
