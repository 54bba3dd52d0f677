package writer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

func TestRoundTrip(t *testing.T) {
	recs := genEvents(20000, 1)
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"zstd/workers1", Config{Workers: 1, BatchBytes: 64 << 10, FsyncInterval: time.Millisecond}},
		{"zstd/workers4", Config{Workers: 4, BatchBytes: 32 << 10, FsyncInterval: 0}},
		{"zstd/workers4/rotate", Config{Workers: 4, BatchBytes: 16 << 10, MaxSegmentBytes: 50 << 10, FsyncInterval: 5 * time.Millisecond}},
		{"zstd/better/node", Config{Level: "better", Workers: 2, BatchBytes: 64 << 10, Node: "host-1.example", FsyncInterval: time.Second}},
		{"zstd/default/tinybatch", Config{Level: "default", Workers: 3, BatchBytes: 100, MaxSegmentBytes: 200 << 10, FsyncInterval: time.Second}},
		{"none", Config{Compression: "none", BatchBytes: 32 << 10, FsyncInterval: time.Second}},
		{"none/rotate", Config{Compression: "none", BatchBytes: 8 << 10, MaxSegmentBytes: 100 << 10, FsyncInterval: time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			cfg := c.cfg
			cfg.Dir, cfg.LogGroup = dir, -1
			w, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, w, recs)
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			want := wantText(recs, cfg.Node)
			if got := catDir(t, dir); got != want {
				t.Fatalf("Cat differs from the records: %s", firstDiff(got, want))
			}
			st := w.Stats()
			if st.Records != uint64(len(recs)) || st.BytesIn != uint64(len(want)) || st.Err != nil || st.RecordsLost != 0 {
				t.Errorf("Stats: Records=%d BytesIn=%d Err=%v Lost=%d; want %d, %d, nil, 0",
					st.Records, st.BytesIn, st.Err, st.RecordsLost, len(recs), len(want))
			}
			paths, _ := segment.List(dir)
			if uint64(len(paths)) != st.Segments {
				t.Errorf("%d segment files, Stats.Segments = %d", len(paths), st.Segments)
			}
			rotating := cfg.MaxSegmentBytes > 0
			if rotating && len(paths) < 3 {
				t.Errorf("only %d segments with MaxSegmentBytes=%d", len(paths), cfg.MaxSegmentBytes)
			}
			var onDisk int64
			for i, p := range paths {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				onDisk += fi.Size()
				if rotating && i < len(paths)-1 && fi.Size() <= cfg.MaxSegmentBytes {
					t.Errorf("%s rotated at %d bytes, not above MaxSegmentBytes %d", p, fi.Size(), cfg.MaxSegmentBytes)
				}
			}
			if uint64(onDisk) != st.BytesOut {
				t.Errorf("files hold %d bytes, Stats.BytesOut = %d", onDisk, st.BytesOut)
			}
			if cfg.Compression == "none" {
				return
			}
			// Batches are full: a line is under 1000 bytes, so a batch
			// holds more than BatchBytes-1000 (or, when every line is
			// longer than BatchBytes, exactly one record).
			minB, maxB := uint64(len(want)/cfg.BatchBytes), uint64(len(want)/(cfg.BatchBytes-1000)+1)
			if cfg.BatchBytes < 1000 {
				minB, maxB = uint64(len(recs)), uint64(len(recs))
			}
			if st.Batches < minB || st.Batches > maxB {
				t.Errorf("%d batches for %d bytes in %d-byte batches, want %d..%d", st.Batches, len(want), cfg.BatchBytes, minB, maxB)
			}
			if got := zstdGlobDC(t, dir); got != want {
				t.Fatalf("zstd -dc audit-*.log.zst differs from the records: %s", firstDiff(got, want))
			}
			zstdCmd(t, dir, append([]string{"-q", "-t"}, paths...)...)
			if st.Latency.Count() != st.Records {
				t.Errorf("latency observed for %d records, %d written", st.Latency.Count(), st.Records)
			}
		})
	}
}

// Reopening continues the sequence, and every Open starts a new segment.
func TestReopenContinuesSequence(t *testing.T) {
	dir := t.TempDir()
	recs := genEvents(300, 2)
	var all []rec
	for i := range 3 {
		w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		chunk := recs[i*100 : (i+1)*100]
		appendAll(t, w, chunk)
		all = append(all, chunk...)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := w.Append(1300, []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
		if w.LastRepair().CutBytes != 0 {
			t.Errorf("clean segment was cut: %+v", w.LastRepair())
		}
	}
	// A .broken copy holds a number too: it is not reused.
	if err := os.WriteFile(filepath.Join(dir, "audit-0000000007.log.zst.broken"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Config{Dir: dir, LogGroup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, _ := segment.List(dir)
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	want := "audit-0000000001.log.zst audit-0000000002.log.zst audit-0000000003.log.zst audit-0000000008.log.zst"
	if strings.Join(names, " ") != want {
		t.Fatalf("segments %v, want %s", names, want)
	}
	if got := catDir(t, dir); got != wantText(all, "") {
		t.Fatalf("Cat: %s", firstDiff(got, wantText(all, "")))
	}
	// The empty segment (header only) is valid zstd.
	zstdCmd(t, dir, "-q", "-t", "audit-0000000008.log.zst")
	if got := zstdGlobDC(t, dir); got != wantText(all, "") {
		t.Fatalf("zstd -dc: %s", firstDiff(got, wantText(all, "")))
	}
}

func TestTickSealsAfterFlushInterval(t *testing.T) {
	for _, comp := range []string{"zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			w, err := Open(Config{Dir: t.TempDir(), Compression: comp, LogGroup: -1, FlushInterval: time.Hour, FsyncInterval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			recs := genEvents(3, 3)
			appendAll(t, w, recs[:2])
			if err := w.Tick(time.Now()); err != nil {
				t.Fatal(err)
			}
			// Tick seals on the calling goroutine: the batch is still
			// open (and so cannot have been written) when it returns.
			if w.cur == nil || w.cur.records != 2 {
				t.Fatalf("Tick sealed the batch before FlushInterval elapsed")
			}
			if err := w.Tick(time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the first batch", func() bool { return w.Stats().Batches == 1 })
			if st := w.Stats(); st.Records != 2 {
				t.Fatalf("Records = %d after Tick, want 2", st.Records)
			}
			// The next batch's clock starts at its own first record.
			appendAll(t, w, recs[2:])
			if err := w.Tick(time.Now().Add(30 * time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the second batch", func() bool { return w.Stats().Batches == 2 })
		})
	}
}

func TestFileModes(t *testing.T) {
	f := func(logGroup int, wantDir, wantFile os.FileMode) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "a", "log")
		w, err := Open(Config{Dir: dir, LogGroup: logGroup, MaxSegmentBytes: 1000, BatchBytes: 500})
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, w, genEvents(50, 4))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != wantDir {
			t.Errorf("LogGroup %d: dir mode %o, want %o", logGroup, fi.Mode().Perm(), wantDir)
		}
		paths, _ := segment.List(dir)
		if len(paths) < 2 {
			t.Fatalf("want rotated segments, got %v", paths)
		}
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != wantFile {
				t.Errorf("LogGroup %d: %s mode %o, want %o", logGroup, p, fi.Mode().Perm(), wantFile)
			}
			if gid := fi.Sys().(*syscall.Stat_t).Gid; logGroup > 0 && int(gid) != logGroup {
				t.Errorf("%s group %d, want %d", p, gid, logGroup)
			}
		}
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	f(-1, 0o700, 0o600)
	f(0, 0o700, 0o600)
	if os.Geteuid() != 0 {
		t.Skip("skipping LogGroup > 0: chgrp requires root")
	}
	f(4, 0o750, 0o640)
}

func TestRotateFromOtherGoroutine(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	recs := genEvents(30, 5)
	// An empty segment is not rotated; Rotate returns once it is done.
	if err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
	if n := w.Stats().Segments; n != 1 {
		t.Fatalf("Rotate of an empty segment made %d segments", n)
	}
	for i := range 3 {
		appendAll(t, w, recs[i*10:(i+1)*10])
		w.Flush()
		waitFor(t, "a batch", func() bool { return w.Stats().Batches == uint64(i+1) })
		done := make(chan error)
		go func() { done <- w.Rotate() }()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := w.Stats().Segments; n != uint64(i+2) {
			t.Fatalf("%d segments after Rotate returned, want %d", n, i+2)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Rotate(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rotate after Close = %v, want ErrClosed", err)
	}
	paths, _ := segment.List(dir)
	if len(paths) != 4 {
		t.Fatalf("segments %v, want 4", paths)
	}
	if got := catDir(t, dir); got != wantText(recs, "") {
		t.Fatalf("Cat: %s", firstDiff(got, wantText(recs, "")))
	}
}

// A record longer than BatchBytes gets a batch of its own.
func TestLargeRecord(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, BatchBytes: 4096, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	small := genEvents(10, 6)
	big := rec{1309, []byte("audit(1732564000.123:99): argc=3 a0=" + strings.Repeat("41", 10000))}
	recs := append(append(append([]rec{}, small[:5]...), big), small[5:]...)
	appendAll(t, w, recs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := catDir(t, dir); got != wantText(recs, "") {
		t.Fatalf("Cat: %s", firstDiff(got, wantText(recs, "")))
	}
	if n := w.Stats().Batches; n != 3 {
		t.Errorf("%d batches, want 3 (before, the large record, after)", n)
	}
}

func TestOpenLockedDir(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if w2, err := Open(Config{Dir: dir, LogGroup: -1}); !errors.Is(err, ErrDirLocked) {
		t.Fatalf("second Open of a directory in use = %v, %v; want ErrDirLocked", w2, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = Open(Config{Dir: dir, LogGroup: -1})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	w.Close()
}

// auditd's own search tool reads plain segments (-if) and decompressed
// zstd segments (stdin) as it reads audit.log.
func TestAusearchReadsSegments(t *testing.T) {
	if _, err := exec.LookPath("ausearch"); err != nil {
		t.Skipf("skipping: requires ausearch: %v", err)
	}
	needZstd(t)
	recs := genEvents(600, 8)
	for _, c := range []struct{ comp, node, cmd string }{
		{"none", "", "ausearch --raw -m SYSCALL -if audit-*.log"},
		{"zstd", "host1", "zstd -q -dc audit-*.log.zst | ausearch --raw -m SYSCALL"},
	} {
		dir := t.TempDir()
		w, err := Open(Config{Dir: dir, Compression: c.comp, Node: c.node, LogGroup: -1, BatchBytes: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, w, recs)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", c.cmd)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.cmd, err, out)
		}
		// Every event has a SYSCALL record: ausearch prints them all.
		if want := wantText(recs, c.node); string(out) != want {
			t.Errorf("%s: output differs from the records: %s", c.cmd, firstDiff(string(out), want))
		}
	}
}

func TestOpenInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Dir: t.TempDir(), Compression: "gzip"},
		{Dir: t.TempDir(), Level: "max"},
		{Dir: t.TempDir(), FsyncInterval: -1},
		{Dir: t.TempDir(), Node: "a b"},
		{Dir: t.TempDir(), Node: "a=b"},
	} {
		if _, err := Open(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

// Steady state: no allocation per record or per batch, anywhere in the
// pipeline (AllocsPerRun counts every goroutine's allocations).
func TestZeroAllocsPerBatch(t *testing.T) {
	for _, c := range []Config{
		{Level: "fastest"}, {Level: "default"}, {Level: "better"}, {Compression: "none"},
	} {
		t.Run(c.Compression+c.Level, func(t *testing.T) {
			c.Dir, c.LogGroup = t.TempDir(), -1
			c.BatchBytes, c.Workers = 64<<10, 2
			c.FsyncInterval = 5 * time.Millisecond
			w, err := Open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			recs := genEvents(3000, 7)
			for range 20 { // warm up every pooled batch and encoder
				appendAll(t, w, recs)
			}
			var batches uint64
			allocs := testing.AllocsPerRun(10, func() {
				before := w.Stats().Batches
				appendAll(t, w, recs)
				w.Flush()
				waitFor(t, "the batches", func() bool { return w.Stats().Batches > before })
				batches = w.Stats().Batches - before
			})
			if allocs != 0 {
				t.Errorf("%v allocations per run of %d records (%d batches), want 0", allocs, len(recs), batches)
			}
		})
	}
}
