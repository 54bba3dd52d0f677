package main

// cat on damaged and live logs, through the command line: warnings and
// exit status, a directory without segments, ausearch's --until, --follow.

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/capture"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/writer"
)

// writeCapturedLog writes the captured records with a real writer into dir, in as
// many segments as parts (rotating between them), leaving the writer open
// when keepOpen; it returns the writer (nil if closed) and the lines.
func writeCapturedLog(t *testing.T, dir string, parts int, keepOpen bool) (*writer.Writer, []capture.Record, []string) {
	t.Helper()
	recs := capture.Load(t, "../../testdata/records.txt", 1500)
	lines := capture.Lines(t, "../../testdata/auditd-raw.log")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, Compression: "zstd", BatchBytes: 8 << 10, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q := len(recs) / parts
	for i := range parts {
		end := (i + 1) * q
		if i == parts-1 {
			end = len(recs)
		}
		catAppend(t, w, recs[i*q:end], uint64(end))
		if i < parts-1 {
			w.Rotate()
			catWait(t, "a rotation", func() bool { return w.Stats().Segments == uint64(i+2) })
		}
	}
	if !keepOpen {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w = nil
	}
	return w, recs, lines
}

func catAppend(t *testing.T, w *writer.Writer, recs []capture.Record, total uint64) {
	t.Helper()
	for _, r := range recs {
		w.Append(r.Type, r.Payload)
	}
	w.Flush()
	catWait(t, "records written", func() bool { return w.Stats().Records >= total })
}

func catWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// 4 bytes overwritten in segment 2 of 4: cat prints the rest, warns with
// the segment and offset on stderr, and exits 1; so does a filtered cat.
func TestCatDamagedLogExits1(t *testing.T) {
	dir := t.TempDir()
	_, _, lines := writeCapturedLog(t, dir, 4, false)
	segs, _ := segment.List(dir)
	data, _ := os.ReadFile(segs[1])
	mid := len(data) / 2
	copy(data[mid:], []byte{0xde, 0xad, 0xbe, 0xef})
	os.WriteFile(segs[1], data, 0o600)
	var first string
	for _, args := range [][]string{{"cat", dir}, {"cat", "--serial", "1-999999", dir}} {
		code, out, errOut := invoke(t, args...)
		if code != 1 {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
		}
		if !strings.Contains(errOut, "auditdrain: cat: warning: "+segs[1]+": skipped") || !strings.Contains(errOut, "at offset") ||
			!strings.Contains(errOut, "damaged region") {
			t.Errorf("%q: stderr %q", args, errOut)
		}
		got := strings.SplitAfter(out, "\n")
		got = got[:len(got)-1]
		j := 0
		for _, l := range got {
			for j < len(lines) && lines[j] != l {
				j++
			}
			if j == len(lines) {
				t.Fatalf("%q printed a line that is not in the log: %q", args, l)
			}
		}
		if n := len(lines) - len(got); n <= 0 || n > 60 {
			t.Errorf("%q: %d lines missing", args, n)
		}
		if !strings.HasSuffix(out, lines[len(lines)-1]) || !strings.HasPrefix(out, lines[0]) {
			t.Errorf("%q: the first or last segment is not printed", args)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Errorf("filtered output differs from the unfiltered one")
		}
	}
}

// A directory without segments is an error, which points at auditd's own
// logs when the directory holds them.
func TestCatNoSegments(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := invoke(t, "cat", dir)
	if code != 1 || out != "" || errOut != "auditdrain: cat: no auditdrain segments in "+dir+"\n" {
		t.Errorf("empty directory: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	os.WriteFile(dir+"/audit.log", []byte("type=EOE msg=audit(1.000:1): \n"), 0o600)
	code, _, errOut = invoke(t, "cat", dir)
	if code != 1 || !strings.Contains(errOut, "audit.log") || !strings.Contains(errOut, "ausearch") {
		t.Errorf("auditd's directory: exit %d, stderr %q", code, errOut)
	}
}

// --until names a second and includes all of it, as ausearch -te does;
// --since and --until take ausearch's keywords.
func TestCatUntilWholeSecond(t *testing.T) {
	dir := t.TempDir()
	_, _, lines := writeCapturedLog(t, dir, 1, false)
	ms, _, _ := record.LineHeader([]byte(lines[700]))
	named := time.UnixMilli(ms).Truncate(time.Second)
	var want int
	for _, l := range lines {
		if m, _, ok := record.LineHeader([]byte(l)); ok && m < named.UnixMilli()+1000 {
			want++
		}
	}
	code, out, errOut := invoke(t, "cat", "--until", named.Local().Format("2006-01-02 15:04:05"), dir)
	if code != 0 || strings.Count(out, "\n") != want {
		t.Fatalf("--until %s: exit %d, %d lines, want %d; %s", named, code, strings.Count(out, "\n"), want, errOut)
	}
	for _, kw := range []string{"now", "recent", "this-hour", "boot", "today", "yesterday", "this-week", "week-ago", "this-month", "this-year"} {
		if code, _, errOut := invoke(t, "cat", "--since", kw, "--until", "now", dir); code != 0 {
			t.Errorf("--since %s: exit %d, %s", kw, code, errOut)
		}
	}
}

// lockedBuffer is a bytes.Buffer for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cat -f prints what a running writer writes, across a rotation, until
// interrupted, and then exits 0.
func TestCatFollow(t *testing.T) {
	dir := t.TempDir()
	w, recs, lines := writeCapturedLog(t, dir, 1, true)
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	old := catContext
	catContext = func() context.Context { return ctx }
	defer func() { catContext = old }()
	for _, flag := range []string{"-f", "--follow"} {
		var out, errb lockedBuffer
		done := make(chan int, 1)
		go func() { done <- runMain([]string{"cat", flag, dir}, &out, &errb) }()
		catWait(t, "the log so far", func() bool { return out.String() == strings.Join(lines, "") })
		if flag == "--follow" {
			catAppend(t, w, recs[:300], uint64(len(recs)+300))
			w.Rotate()
			catWait(t, "a rotation", func() bool { return w.Stats().Segments == 2 })
			catAppend(t, w, recs[300:600], uint64(len(recs)+600))
			want := strings.Join(lines, "") + strings.Join(lines[:600], "")
			catWait(t, "the records written since", func() bool { return out.String() == want })
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 || errb.String() != "" {
				t.Fatalf("cat %s: exit %d, stderr %q", flag, code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("cat %s did not end when interrupted", flag)
		}
		ctx, cancel = context.WithCancel(context.Background())
	}
	cancel()
	if code, _, errOut := invoke(t, "cat", "-f", dir, dir); code != 2 || !strings.Contains(errOut, "--follow") {
		t.Errorf("--follow with two directories: exit %d, %q", code, errOut)
	}
}
