package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/capture"
	"github.com/auditdrain/auditdrain/internal/enrich"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/writer"
)

// writeSegments writes recs with a Writer in the given format into dir.
func writeSegments(t *testing.T, dir, format string, recs []capture.Record) {
	t.Helper()
	w, err := writer.Open(writer.Config{Dir: dir, Format: format, LogGroup: -1, BatchBytes: 32 << 10})
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
}

// catOut runs cat and fails unless it exits 0.
func catOut(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := invoke(t, append([]string{"cat"}, args...)...)
	if code != 0 {
		t.Fatalf("cat %q: exit %d: %s", args, code, errOut)
	}
	return out
}

func diffLines(t *testing.T, what, got, want string) {
	t.Helper()
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	differ := 0
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			if differ++; differ <= 3 {
				t.Errorf("%s: line %d:\n got %q\nwant %q", what, i+1, a, b)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%s: %d of %d lines differ", what, differ, len(w))
	}
}

// A RAW log shown with --format enriched is the log the writer writes with
// log_format = enriched on the same host, and --format raw of that gives
// the RAW log back; the default prints each as written.
func TestCatConvertsRawAndEnriched(t *testing.T) {
	recs := capture.Load(t, "../../testdata/enriched-records.txt", 1000)
	rawDir, enrDir := filepath.Join(t.TempDir(), "raw"), filepath.Join(t.TempDir(), "enriched")
	writeSegments(t, rawDir, writer.FormatRaw, recs)
	writeSegments(t, enrDir, writer.FormatEnriched, recs)

	raw, enriched := catOut(t, rawDir), catOut(t, enrDir)
	if strings.Count(enriched, "\x1d") < len(recs)/3 {
		t.Fatalf("the enriched log has %d separators for %d records", strings.Count(enriched, "\x1d"), len(recs))
	}
	// The capture's user messages hold 0x1d (and fake fields after it):
	// none of them may be taken for an ENRICHED suffix.
	withGS := 0
	for _, l := range strings.Split(raw, "\n") {
		if strings.Contains(l, "\x1d") {
			withGS++
			c := newConverter(formatRaw, io.Discard, io.Discard)
			c.enrichedIn = 0
			if got := c.rawPart([]byte(l), 1100); string(got) != l {
				t.Errorf("RAW line %.120q cut to %d bytes", l, len(got))
			}
		}
	}
	if withGS == 0 {
		t.Error("no user message with a 0x1d in the capture: the case is not tested")
	}
	diffLines(t, "cat --format enriched RAW", catOut(t, "--format", "enriched", rawDir), enriched)
	diffLines(t, "cat --format raw ENRICHED", catOut(t, "--format", "raw", enrDir), raw)
	diffLines(t, "cat --format enriched ENRICHED", catOut(t, "--format", "enriched", enrDir), enriched)
	diffLines(t, "cat --format raw RAW", catOut(t, "--format", "raw", rawDir), raw)
	// Filters apply before the conversion.
	_, _, pick, _ := record.Header(recs[len(recs)/2].Payload)
	want := ""
	for _, l := range strings.SplitAfter(enriched, "\n") {
		if _, serial, ok := record.LineHeader([]byte(l)); ok && serial == pick {
			want += l
		}
	}
	if want == "" {
		t.Fatalf("no line with serial %d", pick)
	}
	sel := strconv.FormatUint(pick, 10)
	diffLines(t, "cat --serial "+sel+" --format enriched", catOut(t, "--serial", sel, "--format", "enriched", rawDir), want)

	code, _, errOut := invoke(t, "cat", "--format", "xml", rawDir)
	if code != exitUsage || !strings.Contains(errOut, `--format "xml": want raw, enriched or json`) {
		t.Errorf("--format xml: exit %d, %q", code, errOut)
	}
}

// --format json over the capture: valid JSON, one object per event, every
// record in exactly one of them (auditd.records[].raw gives the RAW log
// back), the records of an object sharing its serial.
func TestCatJSON(t *testing.T) {
	recs := capture.Load(t, "../../testdata/enriched-records.txt", 1000)
	dir := t.TempDir()
	writeSegments(t, dir, writer.FormatEnriched, recs)
	raw := catOut(t, "--format", "raw", dir)
	out := catOut(t, "--format", "json", dir)

	var back []string
	objects := 0
	serials := map[uint64]int{}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ev struct {
			Auditd struct {
				Sequence *uint64 `json:"sequence"`
				Records  []struct {
					Raw string `json:"raw"`
				} `json:"records"`
			} `json:"auditd"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&ev); err != nil || dec.More() {
			t.Fatalf("output line %d is not one JSON object (%v): %.200q", i+1, err, line)
		}
		objects++
		if ev.Auditd.Sequence == nil || len(ev.Auditd.Records) == 0 {
			t.Fatalf("output line %d: no auditd.sequence or records: %.200q", i+1, line)
		}
		for _, r := range ev.Auditd.Records {
			if _, serial, ok := record.LineHeader([]byte(r.Raw)); !ok || serial != *ev.Auditd.Sequence {
				t.Errorf("object %d (serial %d) holds %.100q", i+1, *ev.Auditd.Sequence, r.Raw)
			}
			back = append(back, r.Raw)
		}
		if *ev.Auditd.Sequence != 0 {
			serials[*ev.Auditd.Sequence]++
		}
	}
	// The records come back in event order, not line order: compare as
	// sorted sets.
	want := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
	if len(back) != len(want) {
		t.Fatalf("%d records in the JSON, %d in the log", len(back), len(want))
	}
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range back {
		count[l]--
	}
	for l, n := range count {
		if n != 0 {
			t.Errorf("record %.120q: %+d in the log against the JSON", l, n)
		}
	}
	split := 0
	for _, n := range serials {
		if n > 1 {
			split++
		}
	}
	t.Logf("%d records, %d JSON objects, %d serials, %d serials in more than one object", len(back), objects, len(serials), split)
	if objects < len(serials) || objects >= len(back) {
		t.Errorf("%d objects for %d serials and %d records", objects, len(serials), len(back))
	}
}

// The converter takes lines however the writes cut them.
func TestConverterSplitsWrites(t *testing.T) {
	const log = "type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=59 success=yes uid=0 auid=4294967295 key=\"t\"\x1dARCH=x86_64 SYSCALL=execve UID=\"x\" AUID=\"unset\"\nnot a record\x1dX=1\nlast"
	var whole bytes.Buffer
	c := newConverter(formatRaw, &whole, os.Stderr)
	c.Write([]byte(log))
	c.Close()
	want := "type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=59 success=yes uid=0 auid=4294967295 key=\"t\"\nnot a record\x1dX=1\nlast\n"
	if whole.String() != want {
		t.Fatalf("got %q\nwant %q", whole.String(), want)
	}
	var bytewise bytes.Buffer
	c = newConverter(formatEnriched, &bytewise, os.Stderr)
	for i := range len(log) {
		c.Write([]byte{log[i]})
	}
	c.Close()
	first, _, _ := strings.Cut(bytewise.String(), "\n")
	e := enrich.New(enrich.Options{})
	rawLine, _, _ := strings.Cut(want, "\n")
	_, payload, _ := strings.Cut(rawLine, " msg=")
	if wantFirst := rawLine + string(e.Append(nil, 1300, []byte(payload))); first != wantFirst {
		t.Errorf("enriched, a byte per write:\n got %q\nwant %q", first, wantFirst)
	}
	if !strings.HasSuffix(bytewise.String(), "\nnot a record\x1dX=1\nlast\n") {
		t.Errorf("non-record lines: got %q", bytewise.String())
	}
}
