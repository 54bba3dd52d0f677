package writer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// mountTmpfs mounts a tmpfs of the given size ("8m") on a new temporary
// directory and unmounts it when the test ends, lazily if something still
// holds it (cleanups registered later, such as a Writer's Close, run
// first). It skips the test without the privilege to mount.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("skipping: requires root to mount a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v; detaching it", dir, err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// fill creates a file in dir that leaves about leave bytes free.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := free - leave; n > 0; n -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), n)]); err != nil {
			t.Fatalf("filling %s: %v", dir, err)
		}
	}
	return path
}

// condDisk is where a disk-condition test runs: a real 8 MiB tmpfs (needs
// root to mount it) or the fake 8 MiB disk with a manual clock (fakeFS,
// fakeClock), which runs everywhere. The same test runs on both.
type condDisk struct {
	w *Writer
	// fill leaves about leave bytes free; undo gives the space back.
	fill func(leave int64) (undo func())
	// tick lets periodic checks run: a no-op on the tmpfs (real time
	// passes), one CheckInterval of the fake clock otherwise.
	tick func()
	// where is the path a disk-full error names.
	where string
}

var condDisks = []string{"tmpfs", "fake"}

// condWriter opens a Writer on a fresh condDisk of the given kind.
func condWriter(t *testing.T, kind string, cfg Config) (*condDisk, *events) {
	t.Helper()
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 64 << 10 // feed's 100 records make one frame
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 5 * time.Millisecond
	}
	if cfg.FsyncInterval == 0 {
		cfg.FsyncInterval = 20 * time.Millisecond
	}
	if kind == "fake" {
		fd, ev := openFake(t, 8<<20, cfg)
		return &condDisk{w: fd.w, fill: fd.fs.fill, tick: func() { fd.check(t) }, where: fd.w.s.Dir}, ev
	}
	mnt := mountTmpfs(t, "8m")
	ev := &events{}
	cfg.Dir, cfg.LogGroup, cfg.Notify = filepath.Join(mnt, "log"), -1, ev.notify
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() }) // before the unmount
	return &condDisk{
		w: w,
		fill: func(leave int64) func() {
			filler := fill(t, mnt, leave)
			return func() { os.Remove(filler) }
		},
		tick:  func() { time.Sleep(cfg.CheckInterval) },
		where: mnt,
	}, ev
}

// waitFor waits for cond, letting periodic checks run meanwhile.
func (d *condDisk) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		d.tick()
	}
}

// feed appends records in chunks, waiting until each is written or
// dropped and letting a periodic check run, until stop says so.
func (d *condDisk) feed(t *testing.T, recs []rec, done *int, stop func(Stats) bool) {
	t.Helper()
	w := d.w
	for *done < len(recs) {
		n := min(100, len(recs)-*done)
		appendAll(t, w, recs[*done:*done+n])
		*done += n
		w.Flush()
		waitProcessed(t, w, uint64(*done))
		d.tick()
		if stop(w.Stats()) {
			return
		}
	}
	t.Fatalf("ran out of records (%d) before the condition; stats %+v", len(recs), w.Stats())
}

// Each disk_full_action does what it says on a full file system (a real
// tmpfs, and the fake disk); the writer keeps running and writes again once there is room; nothing
// already written is damaged (zstd -t, and the log is the records in
// order); the records not written are counted exactly, in Stats and in the
// notice the log gets.
func TestDiskFullActions(t *testing.T) {
	needZstd(t)
	recs := serialRecs(60000, 1, 1732564000000, 320, 5)
	for _, c := range []struct {
		action ActionKind
		comp   string
	}{
		{ActionIgnore, "zstd"}, {ActionSyslog, "zstd"}, {ActionSuspend, "zstd"}, {ActionSuspend, "none"},
		{ActionRotate, "zstd"}, {ActionExec, "zstd"},
	} {
		for _, disk := range condDisks {
			t.Run(disk+"/"+c.action.String()+"/"+c.comp, func(t *testing.T) { testDiskFull(t, disk, recs, c.action, c.comp) })
		}
	}
}

func testDiskFull(t *testing.T, disk string, recs []rec, action ActionKind, comp string) {
	act := Action{Kind: action}
	marker := filepath.Join(t.TempDir(), "marker")
	if action == ActionExec {
		script := filepath.Join(t.TempDir(), "full.sh")
		os.WriteFile(script, []byte("#!/bin/sh\necho \"$AUDITDRAIN_CONDITION $#\" > "+marker+"\n"), 0o700)
		act.Path = script
	}
	d, ev := condWriter(t, disk, Config{Compression: comp, DiskFullAction: act, MaxSegmentBytes: 1 << 20, MinLogs: 2})
	w := d.w
	done := 0
	// Some segments first, then a nearly full disk.
	d.feed(t, recs, &done, func(st Stats) bool { return st.Segments >= 4 })
	undo := d.fill(100 << 10)
	d.feed(t, recs, &done, func(st Stats) bool {
		return st.RecordsNotWritten[CauseDiskFull] > 0 || st.SegmentsDeleted > 0
	})
	st := w.Stats()
	conds := ev.find(EventCondition, CauseDiskFull)
	// One event per episode (a smaller frame may still fit after a
	// larger one failed, which ends an episode).
	if len(conds) == 0 || conds[0].Action != act || !errors.Is(conds[0].Err, syscall.ENOSPC) ||
		!strings.Contains(conds[0].Err.Error(), d.where) || len(conds) > len(ev.find(EventCleared, CauseDiskFull))+1 {
		t.Fatalf("disk full events %v", conds)
	}
	switch action {
	case ActionSuspend:
		if !st.Suspended || st.SuspendCause != CauseDiskFull {
			t.Fatalf("not suspended: %+v", st)
		}
	case ActionRotate:
		// Old segments were deleted, down to the floor at most, and
		// the frame was written after all.
		if st.SegmentsDeleted == 0 || ev.find(EventDeleted, CauseDiskFull) == nil {
			t.Fatalf("rotate deleted nothing: %+v", st)
		}
	case ActionExec:
		waitFor(t, "the exec action's program", func() bool {
			b, _ := os.ReadFile(marker)
			return string(b) == "disk_full 0\n"
		})
	}
	if action != ActionSuspend && st.Suspended {
		t.Fatalf("suspended with action %s", action)
	}
	// Keep going while full: the writer runs, counting.
	if action != ActionRotate {
		d.feed(t, recs, &done, func(st Stats) bool { return st.RecordsNotWritten[CauseDiskFull] > 2000 })
	}
	// Room again: writing resumes by itself.
	undo()
	if action == ActionSuspend {
		d.waitFor(t, "the end of the suspension", func() bool { return !w.Stats().Suspended })
	}
	target := done + 2000
	d.feed(t, recs, &done, func(st Stats) bool { return done >= target })
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st = w.Stats()
	checkSegments(t, w.s.Dir)
	g := checkGaps(t, catDir(t, w.s.Dir), recs[:done], action == ActionRotate)
	lost := st.RecordsNotWritten[CauseDiskFull]
	if st.Records+st.RecordsLost != uint64(done) || lost != st.RecordsLost || g.trailing != 0 ||
		uint64(g.noticed) != lost || uint64(g.written) != st.Records-uint64(g.skipped) {
		t.Fatalf("%d appended: stats written %d, not written %d (disk full %d); log %+v", done, st.Records, st.RecordsLost, lost, g)
	}
	if action != ActionRotate && (lost == 0 || g.notices != len(conds)) {
		t.Fatalf("%d not written, %d episodes; log %+v", lost, len(conds), g)
	}
	if action == ActionRotate && lost != 0 {
		t.Fatalf("rotate: %d records not written; deleting a segment should have made room for the retry", lost)
	}
	if r := ev.find(EventResumed, CauseDiskFull); len(r) != g.notices {
		t.Errorf("%d resumed events for %d notices", len(r), g.notices)
	}
	t.Logf("%s: appended %d, written %d, not written %d, notices %d, deleted %d segments, skipped %d",
		action, done, st.Records, lost, g.notices, st.SegmentsDeleted, g.skipped)
}

// space_left and admin_space_left, as MiB and as a percentage, with
// their actions, on a real tmpfs and on the fake disk; a suspension they
// cause ends when space is back.
func TestSpaceLeftActions(t *testing.T) {
	recs := serialRecs(40000, 1, 1732564000000, 320, 6)
	for _, c := range []struct {
		name         string
		space, admin string
		spaceAct     ActionKind
		adminAct     ActionKind
	}{
		{"space_left/syslog", "4", "", ActionSyslog, 0},
		{"space_left%/rotate", "60%", "", ActionRotate, 0},
		{"admin/suspend", "6", "3", ActionIgnore, ActionSuspend},
	} {
		for _, disk := range condDisks {
			t.Run(disk+"/"+c.name, func(t *testing.T) {
				var cfg Config
				var err error
				if cfg.SpaceLeft, err = ParseThreshold(c.space); err != nil {
					t.Fatal(err)
				}
				if c.admin != "" {
					if cfg.AdminSpaceLeft, err = ParseThreshold(c.admin); err != nil {
						t.Fatal(err)
					}
				}
				cfg.SpaceLeftAction, cfg.AdminSpaceLeftAction = Action{Kind: c.spaceAct}, Action{Kind: c.adminAct}
				cfg.MaxSegmentBytes, cfg.MinLogs = 512<<10, 2
				d, ev := condWriter(t, disk, cfg)
				w := d.w
				done := 0
				switch c.name {
				case "space_left/syslog":
					d.feed(t, recs, &done, func(Stats) bool { return len(ev.find(EventCondition, CauseSpaceLeft)) > 0 })
					e := ev.find(EventCondition, CauseSpaceLeft)[0]
					if e.Action.Kind != ActionSyslog || e.FreeBytes >= 4<<20 || e.FreeBytes < 3<<20 {
						t.Fatalf("space_left event %+v", e)
					}
					// Reported once, not again while it holds.
					d.feed(t, recs, &done, func(Stats) bool { return done > 4000 })
					if n := len(ev.find(EventCondition, CauseSpaceLeft)); n != 1 {
						t.Fatalf("%d space_left events", n)
					}
				case "space_left%/rotate":
					// 60% of 8 MiB: rotate deletes the oldest segments to get
					// back above the threshold, keeping MinLogs.
					d.feed(t, recs, &done, func(st Stats) bool { return st.SegmentsDeleted >= 2 })
					d.waitFor(t, "space above 60%", func() bool {
						return w.Stats().FreeBytes >= 8<<20*60/100 && len(ev.find(EventCleared, CauseSpaceLeft)) > 0
					})
					paths, _ := segment.List(w.s.Dir)
					if len(paths) < 2 {
						t.Fatalf("rotate went below the floor: %v", paths)
					}
				case "admin/suspend":
					undo := d.fill(2 << 20)
					d.waitFor(t, "the admin_space_left suspension", func() bool { return w.Stats().Suspended })
					if st := w.Stats(); st.SuspendCause != CauseAdminSpaceLeft || len(ev.find(EventCondition, CauseSpaceLeft)) != 1 {
						t.Fatalf("stats %+v, events %v", st, ev.all())
					}
					d.feed(t, recs, &done, func(Stats) bool { return done >= 1000 })
					if lost := w.Stats().RecordsNotWritten[CauseAdminSpaceLeft]; lost != 1000 {
						t.Fatalf("%d records not written while suspended, want 1000", lost)
					}
					undo()
					d.waitFor(t, "the automatic resume", func() bool { return !w.Stats().Suspended })
					d.feed(t, recs, &done, func(Stats) bool { return done >= 2000 })
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				st := w.Stats()
				g := checkGaps(t, catDir(t, w.s.Dir), recs[:done], true)
				if st.Records+st.RecordsLost != uint64(done) || uint64(g.noticed+g.trailing) != st.RecordsLost {
					t.Fatalf("stats %+v; log %+v", st, g)
				}
				t.Logf("%d appended, %d written, %d not written; %d segments deleted; %d events", done, st.Records, st.RecordsLost, st.SegmentsDeleted, st.Events)
			})
		}
	}
}

// single and halt are refused unless allowed; allowed, they run
// "<init> 1" / "<init> 0" and suspend.
func TestSystemActions(t *testing.T) {
	for _, k := range []ActionKind{ActionSingle, ActionHalt} {
		_, err := Open(Config{Dir: t.TempDir(), DiskFullAction: Action{Kind: k}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "AllowSystemActions") {
			t.Errorf("%s without AllowSystemActions: %v", k, err)
		}
	}
	// Allowed, with a stand-in for init, on a disk error (the segment is
	// removed).
	for _, c := range []struct {
		kind ActionKind
		arg  string
	}{{ActionSingle, "1"}, {ActionHalt, "0"}} {
		marker := filepath.Join(t.TempDir(), "init-called")
		init := filepath.Join(t.TempDir(), "init")
		os.WriteFile(init, []byte("#!/bin/sh\necho \"$AUDITDRAIN_CONDITION $*\" > "+marker+"\n"), 0o700)
		dir := t.TempDir()
		w, err := Open(Config{Dir: dir, LogGroup: -1, DiskErrorAction: Action{Kind: c.kind}, AllowSystemActions: true,
			CheckInterval: 5 * time.Millisecond, initPath: init})
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, w, genEvents(10, 7))
		w.Flush()
		waitProcessed(t, w, 10)
		os.RemoveAll(dir)
		waitFor(t, "the system action", func() bool {
			b, _ := os.ReadFile(marker)
			return string(b) == "disk_error "+c.arg+"\n" && w.Stats().Suspended
		})
		w.Close()
	}
}

// The log directory removed while the writer runs: a clear error naming
// the segment, the configured action, and with syslog the writer makes
// the directory again and goes on in a new segment.
func TestDirRemovedWhileRunning(t *testing.T) {
	for _, kind := range []ActionKind{ActionSyslog, ActionSuspend} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			ev := &events{}
			w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: 10 * time.Millisecond, CheckInterval: 5 * time.Millisecond,
				DiskErrorAction: Action{Kind: kind}, Notify: ev.notify})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			recs := serialRecs(3000, 1, 1732564000000, 64, 8)
			appendAll(t, w, recs[:1000])
			w.Flush()
			waitProcessed(t, w, 1000)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the disk error", func() bool { return len(ev.find(EventCondition, CauseDiskError)) > 0 })
			e := ev.find(EventCondition, CauseDiskError)[0]
			if !errors.Is(e.Err, ErrSegmentRemoved) || !strings.Contains(e.Err.Error(), segment.Name(1, true)) || e.Action.Kind != kind {
				t.Fatalf("event %+v", e)
			}
			appendAll(t, w, recs[1000:2000])
			w.Flush()
			waitProcessed(t, w, 2000)
			if kind == ActionSuspend {
				if st := w.Stats(); !st.Suspended || st.RecordsNotWritten[CauseDiskError] != 1000 {
					t.Fatalf("stats %+v", st)
				}
				w.Resume()
			}
			appendAll(t, w, recs[2000:])
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			checkSegments(t, dir)
			g := checkGaps(t, catDir(t, dir), recs, true)
			st := w.Stats()
			if g.skipped != 1000 || st.Records+st.RecordsLost != 3000 || uint64(g.noticed) != st.RecordsLost || g.trailing != 0 {
				t.Fatalf("log in the new directory: %+v; stats %+v", g, st)
			}
			if kind == ActionSuspend && (g.notices != 1 || g.noticed != 1000) {
				t.Fatalf("notice: %+v", g)
			}
		})
	}
}

// A segment and its directory made immutable while being written (writes
// fail with EPERM even for root): the disk_error_action applies, the
// records are counted, and after Resume writing continues.
func TestReadOnlyWhileRunning(t *testing.T) {
	needZstd(t)
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: 10 * time.Millisecond, DiskErrorAction: Action{Kind: ActionSuspend}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seg := segment.Path(dir, 1, true)
	chattr := func(flag string, paths ...string) error {
		out, err := exec.Command("chattr", append([]string{flag}, paths...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("chattr %s: %v: %s", flag, err, out)
		}
		return nil
	}
	if err := chattr("+i", seg, dir); err != nil {
		t.Skipf("skipping: cannot make files immutable here: %v", err)
	}
	t.Cleanup(func() { chattr("-i", seg, dir) })
	recs := serialRecs(2000, 1, 1732564000000, 64, 9)
	appendAll(t, w, recs[:1000])
	w.Flush()
	waitProcessed(t, w, 1000)
	st := w.Stats()
	if !st.Suspended || st.SuspendCause != CauseDiskError || st.RecordsNotWritten[CauseDiskError] != 1000 ||
		!errors.Is(st.Err, syscall.EPERM) || !strings.Contains(st.Err.Error(), seg) {
		t.Fatalf("stats %+v", st)
	}
	if err := chattr("-i", seg, dir); err != nil {
		t.Fatal(err)
	}
	w.Resume()
	appendAll(t, w, recs[1000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkSegments(t, dir)
	g := checkGaps(t, catDir(t, dir), recs, false)
	if g.notices != 1 || g.noticed != 1000 || g.written != 1000 {
		t.Fatalf("log %+v", g)
	}
}

// The notice is an ordinary record to auditd's tools: ausearch -m
// DAEMON_RESUME finds it (and -m 1206), with its fields.
func TestNoticeAusearch(t *testing.T) {
	if _, err := exec.LookPath("ausearch"); err != nil {
		t.Skipf("skipping: requires ausearch: %v", err)
	}
	needZstd(t)
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second, MaxSegmentBytes: 1, MaxLogFileAction: Action{Kind: ActionSuspend}})
	if err != nil {
		t.Fatal(err)
	}
	recs := serialRecs(300, 500, 1732564000000, 64, 10)
	appendAll(t, w, recs[:100])
	w.Flush()
	waitProcessed(t, w, 100)
	appendAll(t, w, recs[100:250])
	w.Flush()
	waitProcessed(t, w, 250)
	w.Resume()
	waitFor(t, "the notice", func() bool { return w.Stats().Notices == 1 })
	w.Close()
	for _, m := range []string{"DAEMON_RESUME", "1206"} {
		cmd := exec.Command("sh", "-c", "zstd -q -dc audit-*.log.zst | ausearch --raw -m "+m)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ausearch -m %s: %v\n%s", m, err, out)
		}
		want := "op=resume cause=max_log_file records_not_written=150 first_serial=600 last_serial=749\n"
		if !strings.HasPrefix(string(out), "type=DAEMON_RESUME msg=audit(") || !strings.HasSuffix(string(out), want) ||
			strings.Count(string(out), "\n") != 1 {
			t.Fatalf("ausearch -m %s:\n%s", m, out)
		}
	}
	cmd := exec.Command("sh", "-c", "zstd -q -dc audit-*.log.zst | ausearch -m DAEMON_RESUME --format csv")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "DAEMON_RESUME") || !strings.Contains(string(out), "resumed-audit-logging") {
		t.Fatalf("ausearch does not interpret the notice:\n%s", out)
	}
}

func TestParseActionAndThreshold(t *testing.T) {
	a := func(in string, want Action, ok bool) {
		t.Helper()
		got, err := ParseAction(in)
		if (err == nil) != ok || got != want {
			t.Errorf("ParseAction(%q) = %+v, %v", in, got, err)
		}
		if ok && got.String() != strings.ToLower(strings.Join(strings.Fields(in), " ")) && got.Kind != ActionExec {
			t.Errorf("ParseAction(%q).String() = %q", in, got.String())
		}
	}
	a("SUSPEND", Action{Kind: ActionSuspend}, true)
	a("keep_logs", Action{Kind: ActionKeepLogs}, true)
	a("exec /usr/local/bin/x", Action{Kind: ActionExec, Path: "/usr/local/bin/x"}, true)
	a("EXEC  /a b", Action{Kind: ActionExec, Path: "/a b"}, true)
	a("exec x", Action{}, false)
	a("email", Action{}, false)
	a("suspend now", Action{}, false)
	a("", Action{}, false)
	th := func(in string, want Threshold, ok bool) {
		t.Helper()
		got, err := ParseThreshold(in)
		if (err == nil) != ok || got != want {
			t.Errorf("ParseThreshold(%q) = %+v, %v", in, got, err)
		}
	}
	th("75", Threshold{Bytes: 75 << 20}, true)
	th("0", Threshold{}, true)
	th("10%", Threshold{Percent: 10}, true)
	th(" 2.5 %", Threshold{Percent: 2.5}, true)
	th("101%", Threshold{}, false)
	th("-1", Threshold{}, false)
	th("75M", Threshold{}, false)
	if b := (Threshold{Percent: 25}).bytes(8 << 20); b != 2<<20 {
		t.Errorf("25%% of 8 MiB = %d", b)
	}
	// Which fields take which actions.
	for _, cfg := range []Config{
		{DiskErrorAction: Action{Kind: ActionRotate}},
		{MaxLogFileAction: Action{Kind: ActionExec, Path: "/x"}},
		{SpaceLeftAction: Action{Kind: ActionKeepLogs}},
		{DiskFullAction: Action{Kind: ActionExec, Path: "rel"}},
		{Freq: -1},
		{SpaceLeft: Threshold{Percent: 200}},
	} {
		cfg.Dir = "x"
		if _, err := cfg.resolve(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
