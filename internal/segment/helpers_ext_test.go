package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/capture"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/writer"
)

// rec is one captured kernel record.
type rec = capture.Record

// captured returns the 1,514 records captured from the kernel
// (testdata/records.txt) and the lines auditd wrote for them.
func captured(t testing.TB) ([]rec, []string) {
	t.Helper()
	recs := capture.Load(t, "../../testdata/records.txt", 1500)
	lines := capture.Lines(t, "../../testdata/auditd-raw.log")
	if len(recs) != len(lines) {
		t.Fatalf("%d records, %d lines", len(recs), len(lines))
	}
	return recs, lines
}

// openWriter opens a real writer on dir with small batches (many frames).
func openWriter(t testing.TB, dir string) *writer.Writer {
	t.Helper()
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, Compression: "zstd", BatchBytes: 8 << 10, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// appendWait appends recs and waits until the writer has written all n
// records it was given so far.
func appendWait(t testing.TB, w *writer.Writer, recs []rec, n uint64) {
	t.Helper()
	for _, r := range recs {
		if err := w.Append(r.Type, r.Payload); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	waitFor(t, "records written", func() bool { st := w.Stats(); return st.Records+st.RecordsLost >= n })
	if st := w.Stats(); st.RecordsLost != 0 {
		t.Fatalf("writer lost %d records", st.RecordsLost)
	}
}

// fourSegments writes the captured records into 4 segments of dir with a
// real writer and returns their paths, the lines of each, and all lines.
func fourSegments(t testing.TB, dir string) (paths []string, segLines [][]string, all []string) {
	t.Helper()
	recs, lines := captured(t)
	w := openWriter(t, dir)
	var n uint64
	q := len(recs) / 4
	for i := range 4 {
		g := recs[i*q:]
		gl := lines[i*q:]
		if i < 3 {
			g, gl = recs[i*q:(i+1)*q], lines[i*q:(i+1)*q]
		}
		n += uint64(len(g))
		appendWait(t, w, g, n)
		segLines = append(segLines, gl)
		if i < 3 {
			w.Rotate()
			waitFor(t, "a rotation", func() bool { return w.Stats().Segments == uint64(i+2) })
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := segment.List(dir)
	if err != nil || len(paths) != 4 {
		t.Fatalf("segments %v, %v", paths, err)
	}
	return paths, segLines, lines
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frameStarts returns the offsets at which the zstd data frames of a
// valid segment start (found by their magic after the header).
func frameStarts(t testing.TB, data []byte) []int {
	t.Helper()
	var starts []int
	magic := []byte{0x28, 0xB5, 0x2F, 0xFD}
	for off := segment.HeaderSize; ; {
		i := bytes.Index(data[off:], magic)
		if i < 0 {
			break
		}
		starts = append(starts, off+i)
		off += i + 4
	}
	if len(starts) < 3 {
		t.Fatalf("only %d frames", len(starts))
	}
	return starts
}

// catResult is what one Cat run gave.
type catResult struct {
	out   string
	err   error
	skips []segment.Skip
}

func cat(f segment.Filter, paths ...string) catResult {
	var out bytes.Buffer
	var res catResult
	var mu sync.Mutex
	r := segment.Reader{Filter: f, Warn: func(s segment.Skip) { mu.Lock(); res.skips = append(res.skips, s); mu.Unlock() }}
	res.err = r.Cat(&out, paths...)
	res.out = out.String()
	return res
}

// checkSubsequence fails unless every line of out is a line of want, in
// order (no garbage, no repeated or reordered line), and returns how many
// lines of want are missing.
func checkSubsequence(t testing.TB, out string, want []string) int {
	t.Helper()
	got := strings.SplitAfter(out, "\n")
	if got[len(got)-1] != "" {
		t.Fatalf("output ends without newline: %q", got[len(got)-1])
	}
	got = got[:len(got)-1]
	j := 0
	for i, line := range got {
		for j < len(want) && want[j] != line {
			j++
		}
		if j == len(want) {
			t.Fatalf("output line %d is not one of the log's lines, in order: %q", i, line)
		}
		j++
	}
	return len(want) - len(got)
}

func needZstd(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Fatal("the zstd command line is needed (apt-get install -y zstd)")
	}
}

// zstdTest runs `zstd -t` on path and returns its error and output.
func zstdTest(path string) (string, error) {
	out, err := exec.Command("zstd", "-t", "-q", path).CombinedOutput()
	return string(out), err
}

// isSkip reports whether err is a SkipError with n regions.
func isSkip(err error, n int) bool {
	var se *segment.SkipError
	return errors.As(err, &se) && errors.Is(err, segment.ErrSkipped) && se.Regions == n
}

// le32 is a little-endian uint32.
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
