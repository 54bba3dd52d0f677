package writer

import (
	"bytes"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// TestHeaderGrammar: the writer reads a record's header with package
// record's grammar (the kernel's "audit(%llu.%03lu:%u): "), the same one
// the rest of auditdrain uses. Its former own parser disagreed on each
// case below: it accepted ".12", ".1234" and text other than ':' after
// ')', and refused seconds of 13 digits.
func TestHeaderGrammar(t *testing.T) {
	cases := []struct {
		payload string
		stamped bool
	}{
		{"audit(1732564000.123:10): arch=c000003e", true},
		{"audit(1732564000.12:11): arch=c000003e", false},    // two millisecond digits
		{"audit(1732564000.1234:12): arch=c000003e", false},  // four millisecond digits
		{"audit(1732564000.123:13)x arch=c000003e", false},   // text after ')' that is not ':'
		{"audit(1732564000.123:14) arch=c000003e", false},    // no ':' after ')'
		{"audit(1732564000123.456:15): arch=c000003e", true}, // 13-digit seconds
	}
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := w.Append(1300, []byte(c.payload)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := segment.List(dir)
	if err != nil || len(paths) != 1 {
		t.Fatalf("segments %v, %v", paths, err)
	}
	x, err := segment.ReadIndex(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if x.Records != uint64(len(cases)) || x.Stamped != 2 || x.MinSerial != 10 || x.MaxSerial != 15 ||
		x.MaxTime.UnixMilli() != 1732564000123456 {
		t.Errorf("index %+v: want %d records, 2 stamped (serials 10 and 15, the latest at 1732564000123.456 s)", x, len(cases))
	}
	// A filter on serials selects the stamped records only.
	var buf bytes.Buffer
	if err := segment.CatFiltered(&buf, segment.Filter{SerialMin: 1}, paths...); err != nil {
		t.Fatal(err)
	}
	want := wantText([]rec{{1300, []byte(cases[0].payload)}, {1300, []byte(cases[5].payload)}}, "")
	if buf.String() != want {
		t.Errorf("CatFiltered(serial >= 1):\n got %q\nwant %q", buf.String(), want)
	}
}
