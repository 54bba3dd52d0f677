package bench

import (
	"errors"
	"github.com/auditdrain/auditdrain/writer"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanAlternatesReaders(t *testing.T) {
	got := plan([]string{"a", "b", "c"}, []float64{10, 20, 30})
	var s []string
	for _, p := range got {
		s = append(s, p.reader+"@"+fmtRate(p.rate))
	}
	want := []string{"a@10", "b@10", "c@10", "c@20", "b@20", "a@20", "a@30", "b@30", "c@30"}
	if !slices.Equal(s, want) {
		t.Fatalf("plan = %v, want %v", s, want)
	}
	if p := plan([]string{"a"}, nil); len(p) != 0 {
		t.Fatalf("plan without rates = %v", p)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "auditdrain")
	conf := filepath.Join(dir, "auditd.conf")
	os.WriteFile(bin, nil, 0o700)
	os.WriteFile(conf, nil, 0o600)
	good := func() Options {
		return Options{
			Readers: []string{ReaderAuditdrain, ReaderAuditd, ReaderNone}, Load: LoadSyscall,
			Rates: []float64{1000, 0}, Duration: time.Second, Threads: 1,
			Bin: bin, Auditd: bin, AuditdConf: conf,
		}
	}
	f := func(name string, edit func(*Options), wantErr bool, wantReaders []string, wantNote string) {
		t.Helper()
		o := good()
		edit(&o)
		notes, err := o.validate()
		if (err != nil) != wantErr {
			t.Fatalf("%s: validate error = %v, want error %v", name, err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrOptions) {
				t.Errorf("%s: error %v does not wrap ErrOptions", name, err)
			}
			return
		}
		if !slices.Equal(o.Readers, wantReaders) {
			t.Errorf("%s: readers = %v, want %v", name, o.Readers, wantReaders)
		}
		if got := strings.Join(notes, "; "); !strings.Contains(got, wantNote) || (wantNote == "") != (got == "") {
			t.Errorf("%s: notes = %q, want %q", name, got, wantNote)
		}
	}
	all := []string{ReaderAuditdrain, ReaderAuditd, ReaderNone}
	f("good", func(*Options) {}, false, all, "")
	f("unknown reader", func(o *Options) { o.Readers = append(o.Readers, "journald") }, true, nil, "")
	f("twice", func(o *Options) { o.Readers = append(o.Readers, ReaderNone) }, true, nil, "")
	f("no readers", func(o *Options) { o.Readers = nil }, true, nil, "")
	f("no rates", func(o *Options) { o.Rates = nil }, true, nil, "")
	f("negative rate", func(o *Options) { o.Rates = []float64{-1} }, true, nil, "")
	f("no duration", func(o *Options) { o.Duration = 0 }, true, nil, "")
	f("no threads", func(o *Options) { o.Threads = 0 }, true, nil, "")
	f("missing binary", func(o *Options) { o.Bin = filepath.Join(dir, "nope") }, true, nil, "")
	f("missing binary, no daemon reader", func(o *Options) {
		o.Bin, o.Readers = filepath.Join(dir, "nope"), []string{ReaderNone}
	}, false, []string{ReaderNone}, "")
	f("auditd missing", func(o *Options) { o.Auditd = filepath.Join(dir, "no-auditd") }, false,
		[]string{ReaderAuditdrain, ReaderNone}, "auditd readers skipped")
	f("only auditd, missing", func(o *Options) {
		o.Auditd, o.Readers = filepath.Join(dir, "no-auditd"), []string{ReaderAuditdRaw}
	}, true, nil, "")
}

// TestStepLatency: the step's quantiles come from the difference of two
// readings of the histogram, so frames written before the step (the
// start's small frames, held up to low_rate_hold) do not count; a daemon without
// the histogram gives its lifetime figures.
func TestStepLatency(t *testing.T) {
	counts := func(m map[int]float64) []any {
		l := make([]any, writer.NumLatencyBuckets)
		for i := range l {
			l[i] = m[i]
		}
		return l
	}
	// Bucket 9 is (500ms, 1s], bucket 6 (50ms, 100ms], bucket 5 (20ms, 50ms].
	before := map[string]any{"latency_counts": counts(map[int]float64{9: 40})}
	after := map[string]any{"daemon": map[string]any{
		"latency_counts": counts(map[int]float64{9: 41, 6: 1000, 5: 9000}),
		"latency_max_ms": 950.0, "latency_p50_ms": 50.0, "latency_p99_ms": 950.0}}
	p50, p99 := stepLatency(before, after)
	// p50: rank 5000.5 of 10001, in (20, 50] holding 9000: 20 + 30*5000.5/9000.
	// p99: rank 9900.99, in (50, 100] holding 1000 after 9000: 50 + 50*900.99/1000.
	if p50 == nil || p99 == nil || !near(*p50, 36.668) || !near(*p99, 95.0495) {
		t.Fatalf("p50 %v, p99 %v; want 36.668 and 95.0495", deref(p50), deref(p99))
	}
	p50, p99 = stepLatency(map[string]any{}, after)
	if p50 == nil || p99 == nil || *p99 != 950 {
		t.Fatalf("without a histogram before: p99 %v, want the lifetime 950", p99)
	}
}

func near(a, b float64) bool { return a-b < 0.01 && b-a < 0.01 }

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}
