package record

import (
	"testing"

	"github.com/auditdrain/auditdrain/internal/capture"
)

// loadRecords returns ../../testdata/records.txt: records the reader
// captured from a real 6.18 kernel.
func loadRecords(tb testing.TB) []capture.Record {
	return capture.Load(tb, "../../testdata/records.txt", 1000)
}
