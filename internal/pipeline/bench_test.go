package pipeline

import (
	"testing"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// event is one four-record event of a given key: SYSCALL, PATH, PROCTITLE,
// EOE, with serial s.
func event(s uint64, key string) []in {
	return []in{{record.TypeSyscall, sys(s, key)}, {typePath, path(s)}, {typeProctitle, path(s)}, {record.TypeEOE, eoe(s)}}
}

// events returns n events cycling through keys, serials from 1.
func events(n int, keys ...string) []in {
	var out []in
	for i := 0; i < n; i++ {
		out = append(out, event(uint64(i+1), keys[i%len(keys)])...)
	}
	return out
}

var benchKeys = []string{quoted("keep"), quoted("noisy"), multi("a", "keep"), "(null)"}

func newBenchLimiter(tb testing.TB) *ratelimit.Limiter {
	l, err := ratelimit.New(ratelimit.Config{
		Rules:   []ratelimit.Rule{{Key: "noisy", Rate: 1000, Burst: 1000}, {Key: "a", Rate: 1e6, Burst: 1e6}},
		Default: &ratelimit.Rule{Rate: 1e6, Burst: 1e6},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// pushOptions are the overflow settings benchmarked: drop with keep types
// and keep keys (every keyed record parsed), and block.
var pushOptions = []struct {
	name string
	o    Options
}{
	{"block", Options{Overflow: Block}},
	{"drop-keep", Options{Overflow: Drop, HighWaterPct: 75, KeepTypes: []uint16{record.TypeConfigChange}, KeepKeys: []string{"keep", "other"}}},
}

// pushAll pushes recs through p, draining r whenever it passes half full
// (on the same goroutine: Push never waits).
func pushAll(tb testing.TB, p *Pipeline, r *ring.Ring, recs []in) {
	for _, x := range recs {
		if r.Len() > r.Cap()/2 {
			r.Drain(0, func(uint16, []byte) {})
		}
		if err := p.Push(x.typ, x.payload); err != nil {
			tb.Fatal(err)
		}
	}
}

// dropAll pushes recs through p above its high-water mark: the keep records
// enter (and are drained again), the others are counted and dropped.
func dropAll(tb testing.TB, p *Pipeline, r *ring.Ring, recs []in) {
	for _, x := range recs {
		if err := p.Push(x.typ, x.payload); err != nil {
			tb.Fatal(err)
		}
		if r.Len() > r.Cap()*90/100 {
			// Give back the room the keep records took, down to the mark.
			r.Drain(1, func(uint16, []byte) {})
		}
	}
}

func filterAll(p *Pipeline, recs []in) {
	for _, x := range recs {
		p.Filter(x.typ, x.payload)
	}
}

func BenchmarkPush(b *testing.B) {
	recs := events(256, benchKeys...)
	for _, po := range pushOptions {
		b.Run(po.name, func(b *testing.B) {
			r := newRing(b)
			p, err := New(r, po.o)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				pushAll(b, p, r, recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
	b.Run("drop-above-mark", func(b *testing.B) {
		r := newRing(b)
		p, err := New(r, pushOptions[1].o)
		if err != nil {
			b.Fatal(err)
		}
		fillTo(b, r, r.Cap()*80/100)
		b.ReportAllocs()
		for b.Loop() {
			dropAll(b, p, r, recs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
}

func BenchmarkFilter(b *testing.B) {
	recs := events(256, benchKeys...)
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"plain", Options{}},
		{"ratelimit", Options{Limiter: newBenchLimiter(b)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(newRing(b), tc.o)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				filterAll(p, recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

// TestZeroAllocs holds the per-record path to no allocation: Push in each
// overflow mode (below and above the mark, dropping and keeping) and
// Filter with a rate limiter.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("skipping: the race detector allocates")
	}
	recs := events(64, benchKeys...)
	check := func(name string, f func()) {
		t.Helper()
		f() // first use: the drop summary's map entries
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %.1f allocations per %d records", name, n, len(recs))
		}
	}
	for _, po := range pushOptions {
		r := newRing(t)
		p, err := New(r, po.o)
		if err != nil {
			t.Fatal(err)
		}
		check("Push "+po.name, func() { pushAll(t, p, r, recs) })
	}
	r := newRing(t)
	p, err := New(r, pushOptions[1].o)
	if err != nil {
		t.Fatal(err)
	}
	fillTo(t, r, r.Cap()*80/100)
	check("Push above the mark", func() { dropAll(t, p, r, recs) })
	if st := p.Stats(); st.Dropped == 0 {
		t.Fatal("nothing was dropped above the mark")
	}
	if _, byKey := p.DropSummary(); byKey["noisy"] == 0 || byKey["keep"] != 0 {
		t.Fatalf("dropped by key %v: want noisy dropped and keep kept", byKey)
	}
	fp, err := New(newRing(t), Options{Limiter: newBenchLimiter(t)})
	if err != nil {
		t.Fatal(err)
	}
	check("Filter", func() { filterAll(fp, recs) })
}
