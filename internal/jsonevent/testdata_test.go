package jsonevent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// capturedRecord is one line of ../../testdata/records.txt: a record the
// reader captured from a real 6.18 kernel (see internal/record's tests).
type capturedRecord struct {
	typ     uint16
	payload []byte
}

func loadRecords(tb testing.TB) []capturedRecord {
	tb.Helper()
	f, err := os.Open("../../testdata/records.txt")
	if err != nil {
		tb.Fatalf("open captured records: %v", err)
	}
	defer f.Close()
	var out []capturedRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		typ, js, found := strings.Cut(text, "\t")
		n, err := strconv.ParseUint(typ, 10, 16)
		if !found || err != nil {
			tb.Fatalf("records.txt:%d: bad type field %q", line, typ)
		}
		var payload string
		if err := json.Unmarshal([]byte(js), &payload); err != nil {
			tb.Fatalf("records.txt:%d: %v", line, err)
		}
		out = append(out, capturedRecord{uint16(n), []byte(payload)})
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read captured records: %v", err)
	}
	if len(out) < 1000 {
		tb.Fatalf("only %d captured records loaded", len(out))
	}
	return out
}

// loadLines returns the lines of a log file, skipping empty lines and
// '#' comments.
func loadLines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		out = append(out, l)
	}
	return out
}

// collect returns an Assembler that appends the events it emits to *evs.
func collect(opt AssemblerOptions, evs *[]*Event) *Assembler {
	return NewAssembler(opt, func(ev *Event) { *evs = append(*evs, ev) })
}
