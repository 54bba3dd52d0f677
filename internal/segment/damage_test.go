package segment_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
)

// The damage cases of issue 11, made on real segments the writer wrote
// from the 1,514 captured records (4 segments, 8 KiB batches).

// 4 bytes overwritten in segment 2 of 4: the frame holding them is
// skipped with one warning naming the segment and the frame's offset, the
// rest of segment 2 and segments 3 and 4 are printed, nothing printed is
// not a line of the log, and the error says something was skipped.
func TestCatOverwrittenBytes(t *testing.T) {
	dir := t.TempDir()
	paths, segLines, all := fourSegments(t, dir)
	data, _ := os.ReadFile(paths[1])
	starts := frameStarts(t, data)
	hit := starts[2] + (starts[3]-starts[2])/2
	copy(data[hit:], []byte{0xde, 0xad, 0xbe, 0xef})
	if err := os.WriteFile(paths[1], data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []segment.Filter{{}, {SerialMin: 1, SerialMax: 999999}} {
		res := cat(f, paths...)
		missing := checkSubsequence(t, res.out, all)
		if !isSkip(res.err, 1) || len(res.skips) != 1 {
			t.Fatalf("filter %+v: error %v, warnings %v: want one skipped region", f, res.err, res.skips)
		}
		s := res.skips[0]
		if s.Path != paths[1] || s.Offset != int64(starts[2]) || s.Offset+s.Bytes != int64(starts[3]) || !errors.Is(s.Reason, segment.ErrCorrupt) {
			t.Errorf("warning %v: want %s, the frame at %d..%d", s, paths[1], starts[2], starts[3])
		}
		if missing <= 0 || missing > 60 {
			t.Errorf("%d lines missing, want those of one 8 KiB frame", missing)
		}
		for _, i := range []int{0, 2, 3} {
			for _, l := range segLines[i] {
				if !strings.Contains(res.out, l) {
					t.Fatalf("segment %d line lost: %q", i+1, l)
				}
			}
		}
		if !strings.Contains(s.String(), paths[1]) || !strings.Contains(s.String(), "offset") {
			t.Errorf("warning text %q", s)
		}
	}
}

// A frame cut in the middle: in segment 2 of 4 it is damage (warned, the
// rest printed, exit status 1); at the end of the last segment it is
// where a live log ends (no warning, no error), and the lines printed are
// exactly those of the whole frames before it.
func TestCatCutFrames(t *testing.T) {
	dir := t.TempDir()
	paths, segLines, all := fourSegments(t, dir)
	orig := make([][]byte, 4)
	for i, p := range paths {
		orig[i], _ = os.ReadFile(p)
	}
	starts := frameStarts(t, orig[1])
	cut := starts[3] + (starts[4]-starts[3])/2
	os.WriteFile(paths[1], orig[1][:cut], 0o600)
	res := cat(segment.Filter{}, paths...)
	checkSubsequence(t, res.out, all)
	if !isSkip(res.err, 1) || len(res.skips) != 1 || res.skips[0].Offset != int64(starts[3]) || res.skips[0].Bytes != int64(cut-starts[3]) {
		t.Fatalf("error %v, warnings %v: want one region at %d", res.err, res.skips, starts[3])
	}
	for _, l := range append(append([]string{}, segLines[2]...), segLines[3]...) {
		if !strings.Contains(res.out, l) {
			t.Fatalf("line of segments 3-4 lost: %q", l)
		}
	}

	// The same cut at the end of the last segment.
	os.WriteFile(paths[1], orig[1], 0o600)
	last := frameStarts(t, orig[3])
	for _, cut := range []int{last[2] + 1, last[2] + 4, last[2] + 9, last[2] + (last[3]-last[2])/2, last[3] - 1} {
		os.WriteFile(paths[3], orig[3][:cut], 0o600)
		res := cat(segment.Filter{}, paths...)
		if res.err != nil || len(res.skips) != 0 {
			t.Fatalf("cut at %d of the last segment: error %v, warnings %v", cut, res.err, res.skips)
		}
		// Whole frames 0 and 1 of segment 4 are printed, nothing of frame 2.
		rest := res.out[strings.Index(res.out, segLines[3][0]):]
		n := checkSubsequence(t, rest, segLines[3])
		if n == 0 || !strings.HasSuffix(res.out, "\n") || strings.Count(rest, "\n")+n != len(segLines[3]) {
			t.Fatalf("cut at %d: %d of %d lines of the last segment", cut, strings.Count(rest, "\n"), len(segLines[3]))
		}
		again := cat(segment.Filter{SerialMin: 1}, paths...)
		if again.err != nil || again.out != res.out {
			t.Fatalf("filtered cat of the cut last segment: %v, %d bytes, want %d", again.err, len(again.out), len(res.out))
		}
	}
}

// 50 bytes cut from segment 2's index trailer: everything is printed,
// without error (the trailer holds no records), and a filtered cat scans
// the segment instead of trusting its index.
func TestCatCutTrailer(t *testing.T) {
	dir := t.TempDir()
	paths, segLines, all := fourSegments(t, dir)
	fi, _ := os.Stat(paths[1])
	if err := os.Truncate(paths[1], fi.Size()-50); err != nil {
		t.Fatal(err)
	}
	res := cat(segment.Filter{}, paths...)
	if res.err != nil || len(res.skips) != 0 || res.out != strings.Join(all, "") {
		t.Fatalf("cat: error %v, warnings %v, %d of %d bytes", res.err, res.skips, len(res.out), len(strings.Join(all, "")))
	}
	_, serial, ok := record.LineHeader([]byte(segLines[1][7]))
	if !ok {
		t.Fatal("no serial")
	}
	res = cat(segment.Filter{SerialMin: serial, SerialMax: serial}, paths...)
	if res.err != nil || res.out == "" || !strings.Contains(res.out, segLines[1][7]) {
		t.Fatalf("--serial %d: error %v, output %q", serial, res.err, res.out)
	}
	if _, err := segment.ReadIndex(paths[1]); !errors.Is(err, segment.ErrNoIndex) {
		t.Fatalf("ReadIndex of the cut trailer: %v", err)
	}
	if _, err := segment.ScanIndex(paths[1]); err != nil {
		t.Fatalf("ScanIndex of the cut trailer: %v", err)
	}
	res = cat(segment.Filter{SerialMin: 1, SerialMax: 999999}, paths...)
	if res.err != nil || res.out != strings.Join(all, "") {
		t.Fatalf("--serial 1-999999: error %v, %d bytes", res.err, len(res.out))
	}
}

// One bit flipped, at every 3rd byte of segment 2 (every 11th with
// -short): never a byte of unverified text printed, never a line lost
// without the error saying so, segment 3 always printed whole.
func TestCatBitFlips(t *testing.T) {
	dir := t.TempDir()
	paths, segLines, all := fourSegments(t, dir)
	orig, _ := os.ReadFile(paths[1])
	stride := 3
	if testing.Short() {
		stride = 11
	}
	want3 := strings.Join(segLines[2], "")
	silent, skipped := 0, 0
	for pos := 0; pos < len(orig); pos += stride {
		data := append([]byte(nil), orig...)
		data[pos] ^= 1 << (pos % 8)
		os.WriteFile(paths[1], data, 0o600)
		res := cat(segment.Filter{}, paths[1], paths[2])
		missing := checkSubsequence(t, res.out, all)
		if !strings.HasSuffix(res.out, want3) {
			t.Fatalf("flip at %d: segment 3 not printed whole", pos)
		}
		missing -= len(all) - len(segLines[1]) - len(segLines[2])
		switch {
		case res.err == nil && missing > 0:
			t.Fatalf("flip at %d: %d lines lost without error", pos, missing)
		case res.err != nil && !errors.Is(res.err, segment.ErrSkipped):
			t.Fatalf("flip at %d: %v", pos, res.err)
		case res.err == nil:
			silent++
		default:
			skipped++
		}
		if len(res.skips) > 0 && res.skips[0].Path != paths[1] {
			t.Fatalf("flip at %d: warning %v", pos, res.skips[0])
		}
	}
	t.Logf("%d flips: %d skipped a region, %d changed nothing printed (trailer, padding)", skipped+silent, skipped, silent)
}

// The open segment of a running writer reads cleanly up to its last
// complete frame, also while a frame is half written.
func TestCatLiveSegment(t *testing.T) {
	dir := t.TempDir()
	recs, lines := captured(t)
	w := openWriter(t, dir)
	defer w.Close()
	appendWait(t, w, recs[:700], 700)
	paths, _ := segment.List(dir)
	res := cat(segment.Filter{}, paths...)
	if res.err != nil || len(res.skips) != 0 || res.out != strings.Join(lines[:700], "") {
		t.Fatalf("live segment: error %v, warnings %v, %d bytes", res.err, res.skips, len(res.out))
	}
	// A frame half written (the first half of a real frame).
	data, _ := os.ReadFile(paths[0])
	starts := frameStarts(t, data)
	f, err := os.OpenFile(paths[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data[starts[1] : starts[1]+(starts[2]-starts[1])/2])
	f.Close()
	for _, flt := range []segment.Filter{{}, {SerialMin: 1}} {
		res = cat(flt, paths...)
		if res.err != nil || len(res.skips) != 0 || res.out != strings.Join(lines[:700], "") {
			t.Fatalf("live segment with a half-written frame: error %v, warnings %v, %d bytes", res.err, res.skips, len(res.out))
		}
	}
}

// A directory without segments is an error naming it, which says what
// auditd's own logs are.
func TestSelectNoSegments(t *testing.T) {
	dir := t.TempDir()
	_, err := segment.Select(dir)
	if !errors.Is(err, segment.ErrNoSegments) || !strings.Contains(err.Error(), "no auditdrain segments in "+dir) {
		t.Fatalf("empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "audit.log"), []byte("type=EOE msg=audit(1.000:1): \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "audit.log.1"), nil, 0o600)
	_, err = segment.Select(dir)
	if !errors.Is(err, segment.ErrNoSegments) || !strings.Contains(err.Error(), "audit.log, audit.log.1") || !strings.Contains(err.Error(), "ausearch") {
		t.Fatalf("auditd's directory: %v", err)
	}
	paths, _, _ := fourSegments(t, dir)
	got, err := segment.Select(dir, paths[0])
	if err != nil || len(got) != 5 || got[4] != paths[0] {
		t.Fatalf("Select = %v, %v", got, err)
	}
}

// The trailer the writer writes and ScanIndex agree on which lines are
// stamped: a payload quoting a header after other text has none, so
// serial 42 is found by neither.
func TestIndexAgreesWithScan(t *testing.T) {
	dir := t.TempDir()
	recs, _ := captured(t)
	w := openWriter(t, dir)
	batch := append([]rec{{Type: 1100, Payload: []byte("op=x msg=audit(1795637279.231:42): y")}}, recs[:50]...)
	appendWait(t, w, batch, uint64(len(batch)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, _ := segment.List(dir)
	trailer, err := segment.ReadIndex(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	scan, err := segment.ScanIndex(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if trailer != scan || trailer.Records != 51 || trailer.Stamped != 50 {
		t.Fatalf("trailer %+v\nscan    %+v", trailer, scan)
	}
	f := segment.Filter{SerialMin: 42, SerialMax: 42}
	if res := cat(f, paths...); res.err != nil || res.out != "" {
		t.Fatalf("--serial 42 with the trailer: %q, %v", res.out, res.err)
	}
	fi, _ := os.Stat(paths[0])
	os.Truncate(paths[0], fi.Size()-segment.TrailerSize)
	if res := cat(f, paths...); res.err != nil || res.out != "" {
		t.Fatalf("--serial 42 scanning: %q, %v", res.out, res.err)
	}
}
