// Package capture owns the files of audit records captured from a real
// kernel that the tests compare against (testdata/records.txt and
// testdata/enriched-records.txt): one record a line, "TYPE<TAB>PAYLOAD" with
// the payload as a JSON string, '#' comments and blank lines skipped. It is
// a test helper: nothing on the daemon's path imports it.
package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Record is one captured record: its netlink message type and the payload
// the kernel sent.
type Record struct {
	Type    uint16
	Payload []byte
}

// Read reads a capture file. Errors name the file and line.
func Read(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		ts, js, found := strings.Cut(text, "\t")
		n, err := strconv.ParseUint(ts, 10, 16)
		if !found || err != nil {
			return nil, fmt.Errorf("%s:%d: bad type field %q", path, line, ts)
		}
		var payload string
		if err := json.Unmarshal([]byte(js), &payload); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		out = append(out, Record{uint16(n), []byte(payload)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// Load is Read for a test: it fails tb on an error and when the file holds
// fewer than min records.
func Load(tb testing.TB, path string, min int) []Record {
	tb.Helper()
	out, err := Read(path)
	if err != nil {
		tb.Fatalf("captured records: %v", err)
	}
	if len(out) < min {
		tb.Fatalf("only %d captured records in %s, want at least %d", len(out), path, min)
	}
	return out
}

// Write writes recs to path in the format Read reads, after header (which
// should be '#' comment lines). A payload that would not survive the JSON
// round trip is an error.
func Write(path, header string, recs []Record) error {
	var b bytes.Buffer
	b.WriteString(header)
	for _, r := range recs {
		js, err := json.Marshal(string(r.Payload))
		if err != nil {
			return err
		}
		var back string
		if json.Unmarshal(js, &back) != nil || back != string(r.Payload) {
			return fmt.Errorf("payload of type %d does not survive JSON: %q", r.Type, r.Payload)
		}
		fmt.Fprintf(&b, "%d\t%s\n", r.Type, js)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Lines returns the lines of a log auditd wrote for a capture (for example
// testdata/auditd-raw.log), each with its '\n'. It fails tb when the file
// cannot be read.
func Lines(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("auditd's lines: %v", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}
