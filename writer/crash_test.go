package writer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

const crashChildEnv = "WRITER_CRASH_CHILD_DIR"

// TestCrashRecovery kills a process that is writing (SIGKILL, no Close),
// then opens its directory: what was written reads back as an exact
// prefix of the records, in order, and zstd accepts every segment.
func TestCrashRecovery(t *testing.T) {
	recs := genEventsAt(20000, 21, 1732564000123)
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir, recs)
		return
	}
	needZstd(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to write 3 segments", func() bool {
		paths, _ := segment.List(dir)
		return len(paths) >= 3
	})
	time.Sleep(20 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	w, err := Open(Config{Dir: dir, LogGroup: -1})
	if err != nil {
		t.Fatalf("Open after crash: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("repair after kill: %+v", w.LastRepair())
	paths, _ := segment.List(dir)
	zstdCmd(t, dir, append([]string{"-q", "-t"}, paths...)...)
	got := catDir(t, dir)
	cycle := wantText(recs, "")
	if len(got) < len(cycle) || !strings.HasSuffix(got, "\n") {
		t.Fatalf("only %d bytes survived the kill", len(got))
	}
	for off := 0; off < len(got); off += len(cycle) {
		part := got[off:min(len(got), off+len(cycle))]
		if !strings.HasPrefix(cycle, part) {
			t.Fatalf("recovered text at %d is not the records in order: %s", off, firstDiff(part, cycle[:len(part)]))
		}
	}
}

func crashChild(t *testing.T, dir string, recs []rec) {
	w, err := Open(Config{Dir: dir, LogGroup: -1, BatchBytes: 64 << 10, MaxSegmentBytes: 256 << 10, FsyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // never outlive a lost parent for long
	for time.Now().Before(deadline) {
		appendAll(t, w, recs)
	}
	w.Close()
}
