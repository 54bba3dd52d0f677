package writer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
)

// segmentsOf writes groups of records, one segment per group (Rotate
// between them), and returns the segment paths.
func segmentsOf(t *testing.T, dir, compression string, groups ...[]rec) []string {
	t.Helper()
	w, err := Open(Config{Dir: dir, LogGroup: -1, Compression: compression, FsyncInterval: time.Second, BatchBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for i, g := range groups {
		appendAll(t, w, g)
		w.Flush()
		n += uint64(len(g))
		waitProcessed(t, w, n)
		if i < len(groups)-1 {
			w.Rotate()
			waitFor(t, "a rotation", func() bool { return w.Stats().Segments == uint64(i+2) })
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, _ := segment.List(dir)
	if len(paths) != len(groups) {
		t.Fatalf("%d segments for %d groups", len(paths), len(groups))
	}
	return paths
}

// expectIndex computes a segment's index from its records.
func expectIndex(recs []rec) segment.Index {
	var x segment.Tally
	for _, r := range recs {
		x.Records++
		if ms, serial, ok := record.HeaderMillis(r.payload); ok {
			x.Stamps.Add(ms, serial)
		}
	}
	return x.Export(0)
}

func TestIndexTrailerRoundTrip(t *testing.T) {
	needZstd(t)
	dir := t.TempDir()
	// Serials and times out of order inside a segment (as records from
	// several CPUs are), records without a header, and an empty segment.
	a := serialRecs(500, 1000, 1732564000000, 64, 1)
	a[10], a[400] = a[400], a[10]
	b := append(serialRecs(300, 2000, 1732565000000, 64, 2), rec{1305, []byte("no header here")})
	c := []rec{{1305, []byte("no header either")}}
	paths := segmentsOf(t, dir, "zstd", a, b, c)
	for i, g := range [][]rec{a, b, c} {
		x, err := segment.ReadIndex(paths[i])
		if err != nil {
			t.Fatalf("segment.ReadIndex(%s): %v", paths[i], err)
		}
		fi, _ := os.Stat(paths[i])
		want := expectIndex(g)
		want.Frames, want.DataBytes = x.Frames, fi.Size()-segment.TrailerSize
		if x != want || x.Frames == 0 {
			t.Errorf("segment %d: index\n %+v\nwant\n %+v", i, x, want)
		}
		scanned, err := segment.ScanIndex(paths[i])
		if err != nil || scanned != x {
			t.Errorf("segment %d: ScanIndex %+v, %v; ReadIndex %+v", i, scanned, err, x)
		}
	}
	x, _ := segment.ReadIndex(paths[0])
	if x.MinSerial != 1000 || x.MaxSerial != 1499 || x.FirstSerial != 1000 || x.LastSerial != 1499 ||
		!x.MinTime.Equal(time.UnixMilli(1732564000000)) || x.FirstTime != x.MinTime {
		t.Errorf("index of the first segment: %+v", x)
	}
	// zstd accepts the trailer and prints nothing for it.
	zstdCmd(t, dir, append([]string{"-q", "-t"}, paths...)...)
	all := append(append(append([]rec{}, a...), b...), c...)
	if got := zstdGlobDC(t, dir); got != wantText(all, "") {
		t.Fatal(firstDiff(got, wantText(all, "")))
	}
	// No trailer: a plain segment, and a zstd one cut before it.
	plain := segmentsOf(t, t.TempDir(), "none", a)
	if _, err := segment.ReadIndex(plain[0]); !errors.Is(err, segment.ErrNoIndex) {
		t.Errorf("ReadIndex of a plain segment: %v", err)
	}
	if x, err := segment.ScanIndex(plain[0]); err != nil || x.Records != 500 || x.MaxSerial != 1499 {
		t.Errorf("ScanIndex of a plain segment: %+v, %v", x, err)
	}
	fi, _ := os.Stat(paths[1])
	os.Truncate(paths[1], fi.Size()-segment.TrailerSize)
	if _, err := segment.ReadIndex(paths[1]); !errors.Is(err, segment.ErrNoIndex) {
		t.Errorf("ReadIndex without a trailer: %v", err)
	}
	if x, err := segment.ScanIndex(paths[1]); err != nil || x.Records != 301 || x.DataBytes != fi.Size()-segment.TrailerSize {
		t.Errorf("ScanIndex without a trailer: %+v, %v", x, err)
	}
}

// corruptData overwrites bytes in the middle of a segment's data frames,
// leaving the header and the trailer intact, and checks that decoding it
// now fails.
func corruptData(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr := segment.HeaderSize
	for i := hdr + 20; i < len(data)-segment.TrailerSize-8; i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := segment.Cat(&bytes.Buffer{}, path); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Cat of the corrupted %s = %v, want segment.ErrCorrupt", path, err)
	}
	if _, err := segment.ReadIndex(path); err != nil {
		t.Fatalf("corrupting the data broke the trailer: %v", err)
	}
}

// CatFiltered skips segments whose index cannot match without reading
// their frames: their data is corrupt, which decoding would report. It
// filters the lines of the segments it reads, and reads segments without
// an index (crash, plain) whole.
func TestCatFilteredSkipsSegments(t *testing.T) {
	dir := t.TempDir()
	const t0 = 1732564000000 // ms
	var groups [][]rec
	for i := range 5 {
		groups = append(groups, serialRecs(200, uint64(1000*(i+1)), t0+int64(i)*60000, 64, uint64(i)))
	}
	paths := segmentsOf(t, dir, "zstd", groups...)
	// Segment 3 (index 2) lost its trailer: a crash.
	fi, _ := os.Stat(paths[2])
	os.Truncate(paths[2], fi.Size()-segment.TrailerSize)
	for _, i := range []int{0, 1, 4} {
		corruptData(t, paths[i])
	}
	filtered := func(recs []rec, f segment.Filter) string {
		var sel []rec
		for _, r := range recs {
			ms, serial, _ := record.HeaderMillis(r.payload)
			if f.Match(ms, serial) {
				sel = append(sel, r)
			}
		}
		return wantText(sel, "")
	}
	f := func(name string, flt segment.Filter, wantGroups ...int) {
		t.Helper()
		var buf bytes.Buffer
		if err := segment.CatFiltered(&buf, flt, paths...); err != nil {
			t.Fatalf("%s: CatFiltered: %v", name, err)
		}
		var want string
		for _, g := range wantGroups {
			want += filtered(groups[g], flt)
		}
		if buf.String() != want || want == "" {
			t.Fatalf("%s: got %d bytes, want %d: %s", name, buf.Len(), len(want), firstDiff(buf.String(), want))
		}
	}
	// Segment 4 (index 3) only, and part of it.
	f("serial range", segment.Filter{SerialMin: 4050, SerialMax: 4120}, 3)
	f("time range", segment.Filter{Since: time.UnixMilli(t0 + 3*60000 + 10), Until: time.UnixMilli(t0 + 3*60000 + 150)}, 3)
	f("since", segment.Filter{Since: time.UnixMilli(t0 + 3*60000 + 190), Until: time.UnixMilli(t0 + 3*60000 + 1000), SerialMin: 4000}, 3)
	// The unindexed segment is read and filtered.
	f("crashed segment", segment.Filter{SerialMin: 3100, SerialMax: 3105}, 2)
	// A filter matching a corrupt segment reads it, and fails.
	var buf bytes.Buffer
	if err := segment.CatFiltered(&buf, segment.Filter{SerialMin: 1000, SerialMax: 1005}, paths...); !errors.Is(err, segment.ErrCorrupt) ||
		!strings.Contains(err.Error(), paths[0]) {
		t.Fatalf("CatFiltered over a corrupt matching segment = %v", err)
	}
	// Plain segments are filtered line by line.
	pdir := t.TempDir()
	ppaths := segmentsOf(t, pdir, "none", groups[0], groups[1])
	buf.Reset()
	flt := segment.Filter{SerialMin: 1190, SerialMax: 2010}
	if err := segment.CatFiltered(&buf, flt, ppaths...); err != nil || buf.String() != filtered(groups[0], flt)+filtered(groups[1], flt) {
		t.Fatalf("plain: %v: %s", err, firstDiff(buf.String(), filtered(groups[0], flt)+filtered(groups[1], flt)))
	}
	// The zero filter is Cat.
	buf.Reset()
	if err := segment.CatFiltered(&buf, segment.Filter{}, ppaths...); err != nil || buf.String() != wantText(append(groups[0], groups[1]...), "") {
		t.Fatalf("zero filter: %v", err)
	}
	if err := segment.CatFiltered(&buf, segment.Filter{SerialMin: 1}, filepath.Join(dir, "missing.log.zst")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
