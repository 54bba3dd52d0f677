package writer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// A segment holding records is rotated once it is RotateInterval old (by
// the manual clock), not before; an idle or empty segment is not, however
// old; each closed segment carries its index.
func TestRotateByAge(t *testing.T) {
	d, _ := openFake(t, 1<<30, Config{FsyncInterval: time.Second, RotateInterval: 40 * time.Millisecond, CheckInterval: 5 * time.Millisecond})
	w := d.w
	dir := w.s.Dir
	recs := genEvents(300, 41)
	for i := range 3 {
		chunk := recs[i*100 : (i+1)*100]
		appendAll(t, w, chunk)
		w.Flush()
		waitProcessed(t, w, uint64(i+1)*100)
		if i == 0 {
			// 35 ms old: younger than RotateInterval.
			for range 7 {
				d.check(t)
			}
			if n := w.Stats().Segments; n != 1 {
				t.Fatalf("%d segments: rotated before RotateInterval", n)
			}
		}
		d.checkUntil(t, "a rotation by age", func() bool { return w.Stats().Segments == uint64(i+2) })
		// Now idle for 200 ms: an empty segment is never rotated.
		for range 40 {
			d.check(t)
		}
		if n := w.Stats().Segments; n != uint64(i+2) {
			t.Fatalf("%d segments after idling, want %d: an empty segment was rotated", n, i+2)
		}
		x, err := segment.ReadIndex(segment.Path(dir, uint64(i+1), true))
		if err != nil || x.Records != 100 {
			t.Fatalf("segment %d: index %+v, %v; want 100 records", i+1, x, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := catDir(t, dir), wantText(recs, ""); got != want {
		t.Fatal(firstDiff(got, want))
	}
}

// Retention after a size rotation: NumLogs keeps the newest segments,
// MaxTotalBytes caps their sum; keep_logs deletes nothing. What remains is
// the tail of the records, whole.
func TestRetention(t *testing.T) {
	recs := genEvents(30000, 42)
	for _, c := range []struct {
		name     string
		action   ActionKind
		numLogs  int
		maxTotal int64
	}{
		{"rotate/num_logs", ActionRotate, 3, 0},
		{"rotate/max_total", ActionRotate, 0, 300 << 10},
		{"rotate/both", ActionRotate, 4, 1 << 30},
		{"keep_logs", ActionKeepLogs, 3, 100 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ev := &events{}
			w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second, BatchBytes: 32 << 10,
				MaxSegmentBytes: 100 << 10, MaxLogFileAction: Action{Kind: c.action}, NumLogs: c.numLogs,
				MaxTotalBytes: c.maxTotal, Notify: ev.notify})
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, w, recs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st := w.Stats()
			paths := checkSegments(t, dir)
			var total int64
			for _, p := range paths {
				fi, _ := os.Stat(p)
				total += fi.Size()
			}
			switch {
			case c.action == ActionKeepLogs:
				if uint64(len(paths)) != st.Segments || st.SegmentsDeleted != 0 {
					t.Fatalf("keep_logs: %d segments left of %d, %d deleted", len(paths), st.Segments, st.SegmentsDeleted)
				}
			case c.numLogs > 0 && c.maxTotal >= 1<<30:
				if len(paths) != c.numLogs {
					t.Fatalf("%d segments left, want NumLogs %d", len(paths), c.numLogs)
				}
			case c.numLogs > 0:
				if len(paths) != c.numLogs {
					t.Fatalf("%d segments left, want NumLogs %d", len(paths), c.numLogs)
				}
			default:
				// After the last rotation the closed segments fit under the
				// cap with the new one; Close then filled the last one.
				last, _ := os.Stat(paths[len(paths)-1])
				if total-last.Size() > c.maxTotal || len(paths) < 2 {
					t.Fatalf("%d segments of %d bytes (last %d) left with MaxTotalBytes %d", len(paths), total, last.Size(), c.maxTotal)
				}
			}
			if c.action == ActionRotate {
				if st.SegmentsDeleted+uint64(len(paths)) != st.Segments || st.SegmentsDeleted == 0 {
					t.Fatalf("%d created, %d deleted, %d left", st.Segments, st.SegmentsDeleted, len(paths))
				}
				if n := len(ev.find(EventDeleted, CauseMaxLogFile)); uint64(n) != st.SegmentsDeleted {
					t.Errorf("%d deletion events for %d deletions", n, st.SegmentsDeleted)
				}
			}
			// The oldest are gone: what is left is the end of the records.
			got := catDir(t, dir)
			g := checkGaps(t, got, recs, true)
			if g.trailing != 0 || g.notices != 0 || (c.action == ActionRotate) == (g.skipped == 0) {
				t.Fatalf("left: %+v", g)
			}
			first, _ := segment.ReadIndex(paths[0])
			if uint64(len(recs)-g.skipped) != uint64(strings.Count(got, "\n")) || first.Records == 0 {
				t.Fatalf("%d records skipped, %d lines left", g.skipped, strings.Count(got, "\n"))
			}
		})
	}
}

// max_log_file_action ignore, syslog and suspend do not rotate; suspend
// drops (and counts) what comes until Resume, which starts a new segment
// with a notice.
func TestMaxLogFileActions(t *testing.T) {
	recs := genEvents(6000, 43)
	for _, kind := range []ActionKind{ActionIgnore, ActionSyslog, ActionSuspend} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			ev := &events{}
			w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second, BatchBytes: 16 << 10,
				MaxSegmentBytes: 20 << 10, MaxLogFileAction: Action{Kind: kind}, Notify: ev.notify})
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, w, recs[:3000])
			w.Flush()
			waitProcessed(t, w, 3000)
			st := w.Stats()
			if st.Segments != 1 {
				t.Fatalf("%d segments with max_log_file_action %s", st.Segments, kind)
			}
			conds := ev.find(EventCondition, CauseMaxLogFile)
			switch kind {
			case ActionIgnore:
				if len(conds) != 0 || st.Records != 3000 {
					t.Fatalf("ignore: %d events, %d records written", len(conds), st.Records)
				}
			case ActionSyslog:
				if len(conds) != 1 || conds[0].Action.Kind != ActionSyslog || st.Records != 3000 {
					t.Fatalf("syslog: events %v, %d records written", conds, st.Records)
				}
			case ActionSuspend:
				if len(conds) != 1 || !st.Suspended || st.SuspendCause != CauseMaxLogFile ||
					st.RecordsNotWritten[CauseMaxLogFile] == 0 || st.Records+st.RecordsLost != 3000 {
					t.Fatalf("suspend: events %v, stats %+v", conds, st)
				}
				w.Resume()
				waitFor(t, "the resume", func() bool { return !w.Stats().Suspended })
			}
			appendAll(t, w, recs[3000:])
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st = w.Stats()
			g := checkGaps(t, catDir(t, dir), recs, false)
			if st.Records+st.RecordsLost != uint64(len(recs)) || uint64(g.noticed+g.trailing) != st.RecordsLost {
				t.Fatalf("written %d + lost %d != %d; log: %+v", st.Records, st.RecordsLost, len(recs), g)
			}
			if kind == ActionSuspend {
				// Resume rotated first; the new segment holds the notice and
				// then more records, until it was suspended again.
				if st.Segments != 2 || g.notices != 1 || g.noticed == 0 {
					t.Fatalf("after resume: %d segments, log %+v", st.Segments, g)
				}
			}
			checkSegments(t, dir)
		})
	}
}

// Rotate from another goroutine also applies retention (SIGUSR1 with
// num_logs).
func TestRotateRequestRetention(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second, NumLogs: 2})
	if err != nil {
		t.Fatal(err)
	}
	recs := genEvents(50, 44)
	for i := range 5 {
		appendAll(t, w, recs[i*10:(i+1)*10])
		w.Flush()
		waitFor(t, "a batch", func() bool { return w.Stats().Batches == uint64(i+1) })
		go w.Rotate()
		waitFor(t, "a rotation", func() bool { return w.Stats().Segments == uint64(i+2) })
	}
	w.Close()
	paths, _ := segment.List(dir)
	if len(paths) != 2 || filepath.Base(paths[0]) != "audit-0000000005.log.zst" {
		t.Fatalf("segments %v, want the last two", paths)
	}
	if got, want := catDir(t, dir), wantText(recs[40:], ""); got != want {
		t.Fatal(firstDiff(got, want))
	}
}
