package record

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// capturedRecord is one line of ../../testdata/records.txt: records the reader
// captured from a real 6.18 kernel.
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
			tb.Fatalf("records.txt line %d: bad type field %q", line, typ)
		}
		var payload string
		if err := json.Unmarshal([]byte(js), &payload); err != nil {
			tb.Fatalf("records.txt line %d: %v", line, err)
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
