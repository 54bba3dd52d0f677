package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/tally"
)

// The text view: the header lines, each table's busiest rows, the rest
// summed up, and a loss line per cause that lost records.
func TestWriteTop(t *testing.T) {
	top := tally.Top{
		Time: time.Unix(1795637279, 0), UptimeSeconds: 7, Events: 2049, Records: 6150,
		EventRate: tally.Rates{283.2, 290.1, 283.2}, RecordRate: tally.Rates{850, 870, 850},
		Backlog: 0, BacklogPeak1m: 6, BacklogPeak: 6, BacklogLimit: 64,
		Loss: []tally.LossRow{{Cause: "kernel", Total: 3, LastHour: 3, Rate: tally.Rates{0, 0.3, 0.05}}, {Cause: "gap"}},
		Tables: []tally.Table{{Dim: "key", Complete: true, Rows: []tally.Row{
			{Name: "noisy_exec", Total: 2047, Rate: tally.Rates{283, 290, 283}, Share: tally.Rates{1, 1, 1}},
			{Name: "b", Total: 1}, {Name: "c", Total: 1},
		}}, {Dim: "exe", Rows: []tally.Row{{Name: "/usr/bin/" + strings.Repeat("x", 50), Total: 5}}}},
	}
	var b bytes.Buffer
	writeTop(&b, top, 2)
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"events/s      283.2    290.1    283.2   (1s 10s 60s)   total 2049\n",
		"kernel backlog 0   peak 6 in the last 60 s, 6 since start   limit 64\n",
		"loss       kernel      0.0      0.3      0.1/s (total 3, last hour 3)\n",
		"\nKEY ", "noisy_exec", " 100.0%       2047\n", "  ... 1 more\n",
		"EXE", "(top-k: names may have been evicted)", "\n...xxx",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q", want)
		}
	}
	if strings.Contains(out, "gap") {
		t.Error("a cause with no loss is shown")
	}
}
