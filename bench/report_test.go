package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recorded is a small recorded sweep: two rates, three readers.
func recorded() *Result {
	p := func(v float64) *float64 { return &v }
	steps := []Step{
		st(ReaderAuditdrain, 20000, 20000, 0, 0, 0),
		st(ReaderAuditd, 20000, 20000, 0, 0, 0),
		st(ReaderNone, 20000, 20000, 0, 0, 0),
		st(ReaderNone, 60000, 61000, 0, 0, 0),
		st(ReaderAuditd, 60000, 60000, 30000, 29000, 0),
		st(ReaderAuditdrain, 60000, 50000, 0, 0, 0),
	}
	steps[2].Counted, steps[3].Counted = false, false
	steps[0].LatencyP50Ms, steps[0].LatencyP99Ms = p(2.5), p(31)
	steps[0].CPUPerMillion, steps[0].PeakRSS, steps[0].BytesPerRec = 1.5, 40<<20, 21.3
	for i := range steps {
		steps[i].OnDisk = steps[i].Events - steps[i].Loss
		if steps[i].Events > 0 {
			steps[i].LossFraction = float64(steps[i].Loss) / float64(steps[i].Events)
		}
	}
	res := &Result{
		Machine: Machine{Hostname: "dev", Kernel: "6.18", CPUs: 2, HZ: 250, CPUModel: "AMD EPYC"},
		Started: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),
		Load:    LoadSyscall, Threads: 2, Duration: 5,
		Settings: Settings{BacklogLimit: 8192},
		Readers:  []string{ReaderAuditdrain, ReaderAuditd, ReaderNone},
		Steps:    steps,
		Notes:    []string{"a note"},
	}
	res.Knees = Knees(res.Steps)
	res.Ratios = Ratios(res.Knees, ReaderAuditdrain)
	return res
}

func TestWriteTable(t *testing.T) {
	res := recorded()
	res.Steps = append(res.Steps, Step{Reader: ReaderAuditd, OfferedRate: 0, Error: "reader auditd did not start:\n boom"})
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	find := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return l
			}
		}
		t.Fatalf("no line starting with %q in:\n%s", prefix, out)
		return ""
	}
	for _, want := range []string{"machine: dev: Linux 6.18", "backlog_limit 8192", "records dropped, programs never wait", "note: a note"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Rows grouped by reader in the given order, by offered rate.
	var order []string
	for _, l := range lines {
		if strings.HasPrefix(l, "knee:") {
			break
		}
		f := strings.Fields(l)
		if len(f) > 1 && (f[0] == ReaderAuditdrain || f[0] == ReaderAuditd || f[0] == ReaderNone) {
			order = append(order, f[0]+"@"+f[1])
		}
	}
	want := []string{"auditdrain@20.0k/s", "auditdrain@60.0k/s", "auditd@20.0k/s", "auditd@60.0k/s", "auditd@max", "none@20.0k/s", "none@60.0k/s"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("row order %v, want %v", order, want)
	}
	if l := find("auditdrain  20.0k/s"); !strings.Contains(l, "0.00%") || !strings.Contains(l, "1.50") ||
		!strings.Contains(l, "40.0") || !strings.Contains(l, "21.3") || !strings.Contains(l, "2.5") || !strings.Contains(l, "31.0") {
		t.Errorf("auditdrain row lacks its figures: %q", l)
	}
	if l := find("auditd      60.0k/s"); !strings.Contains(l, "10.00%") || !strings.Contains(l, "29000") {
		t.Errorf("auditd lossy row: %q", l)
	}
	if l := find("none        20.0k/s"); strings.Contains(l, "%") {
		t.Errorf("none row shows a loss: %q", l)
	}
	if l := find("auditd          max"); !strings.Contains(l, "error [1]") {
		t.Errorf("failed row: %q", l)
	}
	if !strings.Contains(out, "errors:\n  [1] auditd at max: reader auditd did not start: boom\n") {
		t.Errorf("error footnote missing:\n%s", out)
	}
	if l := find("auditdrain  >="); !strings.Contains(l, "50.0k events/s") || !strings.Contains(l, "load generator") {
		t.Errorf("auditdrain knee: %q", l)
	}
	if l := find("auditd      20.0k events"); !strings.Contains(l, "20.0k events/s (lost or stalled at 60.0k/s)") {
		t.Errorf("auditd knee: %q", l)
	}
	if !strings.Contains(out, "auditdrain knee / auditd knee >= 2.50x") {
		t.Errorf("ratio missing:\n%s", out)
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	res := recorded()
	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, res) {
		t.Fatalf("JSON round trip changed the result:\n%s", b.String())
	}
	for _, key := range []string{`"offered_rate"`, `"latency_p99_ms": 31`, `"knees"`, `"backlog_limit": 8192`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLine(&b) // not a terminal: one line per step
	p.update(0, 2, "auditdrain at 20.0k/s")
	p.update(1, 2, "none at 20.0k/s")
	p.update(2, 2, "")
	p.update(1, 2, "")
	want := "bench: step 1/2: auditdrain at 20.0k/s\nbench: step 2/2: none at 20.0k/s\nbench: stopped after 1 of 2 steps\n"
	if b.String() != want {
		t.Fatalf("progress = %q, want %q", b.String(), want)
	}
	b.Reset()
	p.tty = true
	p.update(1, 4, "x")
	if got := b.String(); !strings.HasPrefix(got, "\r\033[K[#######") || !strings.HasSuffix(got, "] 2/4 x") {
		t.Fatalf("terminal progress = %q", got)
	}
	b.Reset()
	p.update(4, 4, "")
	if got := b.String(); got != "\r\033[K["+strings.Repeat("#", 30)+"] 4/4 done\n" {
		t.Fatalf("terminal progress at the end = %q", got)
	}
}

func TestWritePlot(t *testing.T) {
	res := recorded()
	res.Steps = append(res.Steps, st(ReaderAuditdrain, 0, 110000, 0, 0, 0))
	var b bytes.Buffer
	if err := WritePlot(&b, res); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, an svg root, one delivered, one achieved and one
	// loss line per counted reader (none: achieved only), a legend entry
	// per reader.
	dec := xml.NewDecoder(&b)
	var root string
	polylines := 0
	texts := map[string]bool{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			if e.Name.Local == "polyline" {
				polylines++
			}
		case xml.CharData:
			texts[strings.TrimSpace(string(e))] = true
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	if polylines != 3+3+1 {
		t.Errorf("%d polylines, want 7", polylines)
	}
	for _, want := range []string{ReaderAuditdrain, ReaderAuditd, ReaderNone, "max", "loss (% of events)"} {
		if !texts[want] {
			t.Errorf("plot has no text %q", want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	f := func(max float64, n int, want float64) {
		t.Helper()
		if got := niceStep(max, n); got != want {
			t.Errorf("niceStep(%v, %d) = %v, want %v", max, n, got, want)
		}
	}
	f(120000, 6, 20000)
	f(100, 5, 20)
	f(1, 5, 0.2)
	f(7, 6, 2)
	f(0, 5, 1)
}
