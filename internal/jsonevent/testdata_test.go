package jsonevent

import (
	"bytes"
	"github.com/auditdrain/auditdrain/internal/capture"
	"os"
	"testing"
)

// loadRecords returns ../../testdata/records.txt: records the reader
// captured from a real 6.18 kernel.
func loadRecords(tb testing.TB) []capture.Record {
	return capture.Load(tb, "../../testdata/records.txt", 1000)
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
