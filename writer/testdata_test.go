package writer

import (
	"os"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/capture"
	"github.com/auditdrain/auditdrain/internal/enrich"
)

// TestFormatMatchesAuditd formats records captured from this machine's
// kernel and compares each line with the line auditd 3.0.9 (log_format =
// RAW) wrote for the same record (testdata/records.txt, auditd-raw.log).
func TestFormatMatchesAuditd(t *testing.T) {
	recs := capture.Load(t, "../testdata/records.txt", 1000)
	wantLines := capture.Lines(t, "../testdata/auditd-raw.log")
	f := newFormatter("")
	var line []byte
	for i, r := range recs {
		line = f.appendLine(line[:0], r.Type, r.Payload)
		if i >= len(wantLines) || string(line) != wantLines[i] {
			t.Fatalf("record %d (type %d):\n got %q\nwant %q", i, r.Type, line, wantLines[min(i, len(wantLines)-1)])
		}
	}
	if len(recs) != len(wantLines) {
		t.Fatalf("compared %d records, auditd wrote %d lines", len(recs), len(wantLines))
	}
}

// TestEnrichedMatchesAuditd writes the records captured beside auditd
// 3.0.9 with log_format = ENRICHED through a Writer with Format enriched
// (the whole pipeline: batches, compressors, segments) and compares the
// log with the one auditd wrote, byte for byte, with the names auditd saw.
func TestEnrichedMatchesAuditd(t *testing.T) {
	recs := capture.Load(t, "../testdata/enriched-records.txt", 1000)
	want, err := os.ReadFile("../testdata/auditd-enriched.log")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, Format: FormatEnriched, LogGroup: -1, BatchBytes: 8 << 10,
		enrich: enrich.Options{Passwd: "../testdata/enriched-passwd", Group: "../testdata/enriched-group", Machine: "x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r.Type, r.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A batch is sealed when the whole line does not fit, not for the
	// longest suffix a record could have (9 KB, more than these 8 KiB batches).
	if st := w.Stats(); st.Batches > uint64(len(recs))/10 {
		t.Errorf("%d batches for %d records in 8 KiB batches", st.Batches, len(recs))
	}
	got := catDir(t, dir)
	gotLines, wantLines := strings.SplitAfter(got, "\n"), strings.SplitAfter(string(want), "\n")
	differ := 0
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			if differ++; differ <= 5 {
				t.Errorf("line %d:\n got %q\nwant %q", i+1, g, w)
			}
		}
	}
	if !strings.Contains(got, "\x1dARCH=x86_64 SYSCALL=") {
		t.Errorf("no enriched SYSCALL line in the log")
	}
	t.Logf("%d records, %d lines differ", len(recs), differ)
}
