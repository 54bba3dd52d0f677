package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// fakeTop serves GET /top on a unix socket as a daemon does: 503 for the
// first notYet requests (no counts published yet), then top with Events
// set to the request number.
func fakeTop(t *testing.T, notYet int) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /top", func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i <= int64(notYet) {
			http.Error(w, "no counts yet: the daemon publishes them once a second", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(tally.Top{Events: uint64(i), Tables: []tally.Table{{Dim: "key", Complete: true, Rows: []tally.Row{{Name: "k", Total: uint64(i)}}}}})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestTopCommand(t *testing.T) {
	// --once waits out a daemon that has not published yet.
	sock := fakeTop(t, 2)
	code, out, errOut := invoke(t, "top", "--once", "--json", "--control-socket", sock)
	var top tally.Top
	if code != 0 || json.Unmarshal([]byte(out), &top) != nil || top.Events != 3 || top.Table("key").Row("k") == nil {
		t.Errorf("top --once --json: exit %d, %q, stderr %q", code, out, errOut)
	}
	code, out, _ = invoke(t, "top", "--once", "--control-socket", sock)
	if code != 0 || !strings.Contains(out, "events/s ") || !strings.Contains(out, "\nKEY ") {
		t.Errorf("top --once: exit %d:\n%s", code, out)
	}

	// The live view redraws until interrupted; --json prints a line a
	// refresh.
	old := topContext
	defer func() { topContext = old }()
	for _, tc := range []struct {
		args []string
		sep  string
	}{{nil, "\x1b[H\x1b[2J"}, {[]string{"--json"}, "\n"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
		topContext = func() context.Context { return ctx }
		code, out, errOut = invoke(t, append([]string{"top", "--interval", "100ms", "--control-socket", fakeTop(t, 0)}, tc.args...)...)
		cancel()
		if n := strings.Count(out, tc.sep); code != 0 || n < 2 {
			t.Errorf("top %q: exit %d, %d refreshes (stderr %q):\n%q", tc.args, code, n, errOut, out)
		}
	}

	// No daemon: exit 3, as status.
	code, _, errOut = invoke(t, "top", "--once", "--control-socket", filepath.Join(t.TempDir(), "none.sock"))
	if code != exitNotRunning || !strings.Contains(errOut, "no auditdrain daemon is running") {
		t.Errorf("top without a daemon: exit %d, %q", code, errOut)
	}
}
