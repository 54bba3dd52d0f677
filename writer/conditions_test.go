package writer

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// These tests drive the appender's disk conditions on the fake disk
// (fakeFS, fakeClock): no root, no tmpfs, and every periodic check is a
// synchronization point, so "not reported again" is checked after checks
// that did run, not after a sleep.

// Each space_left and admin_space_left action, on a threshold in bytes:
// applied once when free space falls below it (not again at later checks
// while it holds), cleared when space is back.
func TestSpaceConditionEachAction(t *testing.T) {
	for _, cause := range []Cause{CauseSpaceLeft, CauseAdminSpaceLeft} {
		for _, kind := range []ActionKind{ActionIgnore, ActionSyslog, ActionRotate, ActionSuspend, ActionExec} {
			t.Run(cause.String()+"/"+kind.String(), func(t *testing.T) { testSpaceAction(t, cause, kind) })
		}
	}
}

func testSpaceAction(t *testing.T, cause Cause, kind ActionKind) {
	act := Action{Kind: kind}
	marker := filepath.Join(t.TempDir(), "marker")
	if kind == ActionExec {
		act.Path = filepath.Join(t.TempDir(), "space.sh")
		if err := os.WriteFile(act.Path, []byte("#!/bin/sh\necho \"$AUDITDRAIN_CONDITION $#\" > "+marker+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{MaxSegmentBytes: 256 << 10, MinLogs: 2, BatchBytes: 16 << 10}
	threshold := Threshold{Bytes: 4 << 20}
	if cause == CauseSpaceLeft {
		cfg.SpaceLeft, cfg.SpaceLeftAction = threshold, act
	} else {
		cfg.AdminSpaceLeft, cfg.AdminSpaceLeftAction = threshold, act
	}
	d, ev := openFake(t, 8<<20, cfg)
	w := d.w
	cd := &condDisk{w: w, tick: func() { d.check(t) }}
	recs := serialRecs(20000, 1, 1732564000000, 320, 11)
	done := 0
	cd.feed(t, recs, &done, func(st Stats) bool { return st.Segments >= 7 })
	if n := len(ev.all()); n != 0 {
		t.Fatalf("events with plenty of space: %v", ev.all())
	}
	undo := d.fs.fill(3<<20 + 512<<10) // 3.5 MiB free: below the threshold
	d.check(t)
	conds := ev.find(EventCondition, cause)
	if len(conds) != 1 || conds[0].Action != act || conds[0].FreeBytes >= 4<<20 || conds[0].FreeBytes < 3<<20 {
		t.Fatalf("after one check below the threshold: %v", ev.all())
	}
	switch kind {
	case ActionRotate:
		// The oldest segments were deleted until free space was back
		// above the threshold, keeping MinLogs; the condition cleared.
		d.check(t)
		if st := w.Stats(); st.SegmentsDeleted == 0 || len(ev.find(EventDeleted, cause)) != int(st.SegmentsDeleted) ||
			len(ev.find(EventCleared, cause)) != 1 || st.FreeBytes < 4<<20 {
			t.Fatalf("rotate: stats %+v, events %v", st, ev.all())
		}
	case ActionSuspend:
		cd.feed(t, recs, &done, func(Stats) bool { return w.Stats().RecordsNotWritten[cause] >= 500 })
		if st := w.Stats(); !st.Suspended || st.SuspendCause != cause {
			t.Fatalf("not suspended: %+v", st)
		}
	case ActionExec:
		waitFor(t, "the exec action's program", func() bool {
			b, _ := os.ReadFile(marker)
			return string(b) == cause.String()+" 0\n"
		})
		if e := ev.find(EventExec, cause); len(e) != 1 || e[0].Err != nil || e[0].Path != act.Path {
			t.Fatalf("exec events %v", e)
		}
	}
	if kind != ActionRotate {
		// Later checks while the condition holds do not report it again.
		for range 3 {
			d.check(t)
		}
		if n := len(ev.find(EventCondition, cause)); n != 1 {
			t.Fatalf("%d condition events after more checks below the threshold", n)
		}
		if kind != ActionSuspend && w.Stats().Suspended {
			t.Fatalf("%s suspended the writer", kind)
		}
		// Space back: cleared, and a suspension it caused ends.
		undo()
		d.check(t)
		if len(ev.find(EventCleared, cause)) != 1 || w.Stats().Suspended {
			t.Fatalf("space back: stats %+v, events %v", w.Stats(), ev.all())
		}
	}
	target := done + 500
	cd.feed(t, recs, &done, func(Stats) bool { return done >= target })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	g := checkGaps(t, catDir(t, w.s.Dir), recs[:done], kind == ActionRotate)
	if st.Records+st.RecordsLost != uint64(done) || uint64(g.noticed) != st.RecordsLost || g.trailing != 0 {
		t.Fatalf("stats %+v; log %+v", st, g)
	}
	if kind == ActionSuspend && (g.notices != 1 || st.RecordsLost < 500 || len(ev.find(EventResumed, cause)) != 1) {
		t.Fatalf("suspension: stats %+v; log %+v", st, g)
	}
}

// A write failing with another error than ENOSPC raises disk_error: with
// suspend, every later batch is counted, checks do not end it (only
// Resume does), and the log gets one notice; with syslog, writing goes
// on and the condition clears at the first write that succeeds.
func TestDiskErrorWrite(t *testing.T) {
	for _, kind := range []ActionKind{ActionSyslog, ActionSuspend} {
		t.Run(kind.String(), func(t *testing.T) {
			d, ev := openFake(t, 1<<30, Config{DiskErrorAction: Action{Kind: kind}, BatchBytes: 16 << 10})
			w := d.w
			cd := &condDisk{w: w, tick: func() { d.check(t) }}
			recs := serialRecs(3000, 1, 1732564000000, 64, 12)
			done := 0
			cd.feed(t, recs, &done, func(Stats) bool { return done >= 1000 })
			d.fs.set(func(fs *fakeFS) { fs.writeErr = syscall.EIO })
			cd.feed(t, recs, &done, func(Stats) bool { return done >= 2000 })
			st := w.Stats()
			conds := ev.find(EventCondition, CauseDiskError)
			if len(conds) != 1 || !errors.Is(conds[0].Err, syscall.EIO) || conds[0].Action.Kind != kind ||
				st.RecordsNotWritten[CauseDiskError] != 1000 || !errors.Is(st.Err, syscall.EIO) {
				t.Fatalf("stats %+v, events %v", st, ev.all())
			}
			d.fs.set(func(fs *fakeFS) { fs.writeErr = nil })
			if kind == ActionSuspend {
				for range 3 {
					d.check(t)
				}
				if st := w.Stats(); !st.Suspended || st.SuspendCause != CauseDiskError {
					t.Fatalf("a disk_error suspension ended without Resume: %+v", st)
				}
				w.Resume()
				waitFor(t, "the resume", func() bool { return !w.Stats().Suspended })
			}
			cd.feed(t, recs, &done, func(Stats) bool { return done >= 3000 })
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if kind == ActionSyslog && len(ev.find(EventCleared, CauseDiskError)) != 1 {
				t.Fatalf("no cleared event: %v", ev.all())
			}
			g := checkGaps(t, catDir(t, w.s.Dir), recs, false)
			if g.notices != 1 || g.noticed != 1000 || g.written != 2000 || len(ev.find(EventResumed, CauseDiskError)) != 1 {
				t.Fatalf("log %+v, events %v", g, ev.all())
			}
		})
	}
}

// A failed fsync raises disk_error, and writing goes on in a new segment
// (the kernel may have dropped the old one's unsynced pages).
func TestDiskErrorFsync(t *testing.T) {
	d, ev := openFake(t, 1<<30, Config{Flush: FlushData, BatchBytes: 16 << 10})
	w := d.w
	cd := &condDisk{w: w, tick: func() {}}
	recs := serialRecs(300, 1, 1732564000000, 64, 13)
	done := 0
	cd.feed(t, recs, &done, func(Stats) bool { return done >= 100 })
	waitFor(t, "the first batch's fsync", func() bool { return w.Stats().RecordsSynced == 100 })
	d.fs.set(func(fs *fakeFS) { fs.syncErr = syscall.EIO })
	cd.feed(t, recs, &done, func(Stats) bool { return done >= 200 })
	waitFor(t, "the fsync error", func() bool { return len(ev.find(EventCondition, CauseDiskError)) > 0 })
	d.fs.set(func(fs *fakeFS) { fs.syncErr = nil })
	cd.feed(t, recs, &done, func(Stats) bool { return done >= 300 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if e := ev.find(EventCondition, CauseDiskError)[0]; !errors.Is(e.Err, syscall.EIO) || st.Segments != 2 || st.Records != 300 {
		t.Fatalf("event %+v, stats %+v", e, st)
	}
	checkGaps(t, catDir(t, w.s.Dir), recs, false)
}

// The open segment losing its last link is seen by the next check: a
// disk_error naming it, and the next frame goes to a new segment.
func TestDiskErrorUnlinked(t *testing.T) {
	d, ev := openFake(t, 1<<30, Config{BatchBytes: 16 << 10, FsyncInterval: time.Second})
	w := d.w
	cd := &condDisk{w: w, tick: func() {}}
	recs := serialRecs(200, 1, 1732564000000, 64, 14)
	done := 0
	cd.feed(t, recs, &done, func(Stats) bool { return done >= 100 })
	d.check(t)
	if n := len(ev.all()); n != 0 {
		t.Fatalf("events before the unlink: %v", ev.all())
	}
	d.fs.set(func(fs *fakeFS) { fs.unlinked = true })
	d.check(t)
	d.fs.set(func(fs *fakeFS) { fs.unlinked = false })
	conds := ev.find(EventCondition, CauseDiskError)
	if len(conds) != 1 || !errors.Is(conds[0].Err, ErrSegmentRemoved) {
		t.Fatalf("events %v", ev.all())
	}
	cd.feed(t, recs, &done, func(Stats) bool { return done >= 200 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Segments != 2 || st.Records != 200 {
		t.Fatalf("stats %+v", st)
	}
}

// Rotate reports a failure to start the next segment (here the disk is
// full), which is also a disk condition (here with syslog); once there is
// room the next frame starts a segment.
func TestRotateError(t *testing.T) {
	d, ev := openFake(t, 1<<30, Config{BatchBytes: 16 << 10, FsyncInterval: time.Second, DiskFullAction: Action{Kind: ActionSyslog}})
	w := d.w
	recs := serialRecs(200, 1, 1732564000000, 64, 15)
	appendAll(t, w, recs[:100])
	w.Flush()
	waitProcessed(t, w, 100)
	undo := d.fs.fill(0)
	err := w.Rotate()
	if !errors.Is(err, syscall.ENOSPC) || len(ev.find(EventCondition, CauseDiskFull)) != 1 {
		t.Fatalf("Rotate on a full disk = %v; events %v", err, ev.all())
	}
	undo()
	appendAll(t, w, recs[100:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Segments != 2 || st.Records != 200 {
		t.Fatalf("stats %+v", st)
	}
	checkGaps(t, catDir(t, w.s.Dir), recs, false)
}
