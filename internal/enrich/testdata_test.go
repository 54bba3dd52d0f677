package enrich

import (
	"github.com/auditdrain/auditdrain/internal/capture"
	"os"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/record"
)

// The offline oracle: records the reader captured from the kernel beside
// auditd 3.0.9 with log_format = ENRICHED (TestLiveAuditdEnriched -capture
// writes them), the lines auditd wrote for them, and the passwd and group
// files auditd read its names from.
const (
	capturedRecords = "../../testdata/enriched-records.txt"
	capturedLog     = "../../testdata/auditd-enriched.log"
	capturedPasswd  = "../../testdata/enriched-passwd"
	capturedGroup   = "../../testdata/enriched-group"
)

// rec is one captured record.
type rec = capture.Record

// rawLine is the line auditd 3.0.9 writes for a record with log_format =
// RAW and no node name, made the way the writer's formatter makes it (a
// prefix table, then the payload up to its first NUL, '\n' turned into ' ',
// one trailing ' ' dropped), so that benchmarks compare Append with the
// writer's real cost.
func rawLine(dst []byte, typ uint16, payload []byte) []byte {
	dst = record.AppendPayload(rawPrefix.Append(dst, typ), payload)
	if n := len(dst); n > 0 && dst[n-1] == ' ' {
		dst = dst[:n-1]
	}
	return dst
}

var rawPrefix = record.NewLinePrefix("")

// enrichedLine is rawLine followed by what Append adds.
func enrichedLine(e *Enricher, dst []byte, typ uint16, payload []byte) []byte {
	return e.Append(rawLine(dst, typ, payload), typ, payload)
}

// readRecords reads a records file (internal/capture's format).
func readRecords(tb testing.TB, path string) []rec {
	return capture.Load(tb, path, 1)
}

// readLines reads a log into lines without their '\n'.
func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// TestCapturedEnriched compares, record by record, Append against the lines
// auditd 3.0.9 wrote with log_format = ENRICHED, with the names auditd saw.
func TestCapturedEnriched(t *testing.T) {
	recs := readRecords(t, capturedRecords)
	want := readLines(t, capturedLog)
	if len(recs) != len(want) {
		t.Fatalf("%d records but %d auditd lines", len(recs), len(want))
	}
	if len(recs) < 1000 {
		t.Fatalf("only %d captured records", len(recs))
	}
	e := New(Options{Passwd: capturedPasswd, Group: capturedGroup, Machine: "x86_64"})
	differ := compareLines(t, e, recs, want)
	t.Logf("compared %d lines, %d differ", len(recs), differ)
	if differ > 0 {
		t.Fail()
	}
}

// compareLines reports (up to 10 of) the records whose enriched line is not
// the wanted one, and returns how many differ.
func compareLines(t *testing.T, e *Enricher, recs []rec, want []string) int {
	t.Helper()
	differ := 0
	var line []byte
	for i, r := range recs {
		line = enrichedLine(e, line[:0], r.Type, r.Payload)
		if string(line) != want[i] {
			differ++
			if differ <= 10 {
				t.Errorf("record %d (type %d) differs:\n got %q\nwant %q", i, r.Type, line, want[i])
			}
		}
	}
	return differ
}

// writeRecords writes a records file in the format readRecords reads.
func writeRecords(path, header string, recs []rec) error {
	return capture.Write(path, header, recs)
}
