package writer

import (
	"os"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/capture"
)

// TestFormatMatchesAuditd formats records captured from this machine's
// kernel and compares each line with the line auditd 3.0.9 (log_format =
// RAW) wrote for the same record (testdata/records.txt, auditd-raw.log).
func TestFormatMatchesAuditd(t *testing.T) {
	recs := capture.Load(t, "../testdata/records.txt", 1000)
	want, err := os.ReadFile("../testdata/auditd-raw.log")
	if err != nil {
		t.Fatal(err)
	}
	wantLines := strings.SplitAfter(string(want), "\n")
	f := newFormatter("")
	var line []byte
	for i, r := range recs {
		line = f.appendLine(line[:0], r.Type, r.Payload)
		if i >= len(wantLines) || string(line) != wantLines[i] {
			t.Fatalf("record %d (type %d):\n got %q\nwant %q", i, r.Type, line, wantLines[min(i, len(wantLines)-1)])
		}
	}
	if len(recs) != len(wantLines)-1 {
		t.Fatalf("compared %d records, auditd wrote %d lines", len(recs), len(wantLines)-1)
	}
}
