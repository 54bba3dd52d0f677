package pipeline

import (
	"slices"
	"testing"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// in is one record drained from the ring.
type in struct {
	typ     uint16
	payload []byte
}

// runFilter passes recs through a new pipeline's Filter and returns what the
// writer would get, in order: the records that passed, and those the
// pipeline emitted (prefixed "emit: ").
func runFilter(t *testing.T, o Options, recs []in) (written []string, p *Pipeline) {
	t.Helper()
	var e emitted
	o.Emit = func(typ uint16, b []byte) {
		e.emit(typ, b)
		written = append(written, "emit: "+e.recs[len(e.recs)-1])
	}
	o.Now = fixedClock
	p, err := New(newRing(t), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if p.Filter(r.typ, r.payload) {
			written = append(written, string(r.payload))
		}
	}
	return written, p
}

func s(b []byte) string { return string(b) }

func TestFilterEOE(t *testing.T) {
	recs := []in{{record.TypeSyscall, sys(1, quoted("a"))}, {typePath, path(1)}, {record.TypeEOE, eoe(1)}}
	for _, tc := range []struct {
		writeEOE bool
		want     []string
		skipped  uint64
	}{
		{false, []string{s(sys(1, quoted("a"))), s(path(1))}, 1},
		{true, []string{s(sys(1, quoted("a"))), s(path(1)), s(eoe(1))}, 0},
	} {
		got, p := runFilter(t, Options{WriteEOE: tc.writeEOE}, recs)
		if !slices.Equal(got, tc.want) {
			t.Errorf("write_eoe %v: written %q, want %q", tc.writeEOE, got, tc.want)
		}
		if n := p.Stats().EOESkipped; n != tc.skipped {
			t.Errorf("write_eoe %v: %d EOE skipped, want %d", tc.writeEOE, n, tc.skipped)
		}
	}
}

func TestFilterRestart(t *testing.T) {
	const stamp = "audit(1795636980.303:0): "
	for _, tc := range []struct {
		name string
		prev uint64
		recs []in
		want []string
	}{
		{"no previous run", 0, []in{{typePath, path(500)}}, []string{s(path(500))}},
		{"serials unseen between runs", 100, []in{{typePath, path(150)}, {typePath, path(160)}}, []string{
			"emit: " + stamp + "op=restart prev_last_serial=100 first_serial=150 unseen_serials=101-149 unseen=49 res=failed",
			s(path(150)), s(path(160)),
		}},
		{"one serial unseen", 100, []in{{typePath, path(102)}}, []string{
			"emit: " + stamp + "op=restart prev_last_serial=100 first_serial=102 unseen_serials=101-101 unseen=1 res=failed",
			s(path(102)),
		}},
		{"nothing unseen", 100, []in{{typePath, path(101)}, {typePath, path(300)}}, []string{s(path(101)), s(path(300))}},
		{"the kernel restarted its count", 100, []in{{typePath, path(5)}, {typePath, path(300)}}, []string{s(path(5)), s(path(300))}},
		{"records without a serial wait for one", 100, []in{{typePath, []byte("garbage")}, {typePath, path(0)}, {typePath, path(200)}}, []string{
			"garbage", s(path(0)),
			"emit: " + stamp + "op=restart prev_last_serial=100 first_serial=200 unseen_serials=101-199 unseen=99 res=failed",
			s(path(200)),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := runFilter(t, Options{PrevSerial: tc.prev, WriteEOE: true}, tc.recs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("written:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

// TestFilterGaps: Filter feeds every record's serial to the gap tracker.
func TestFilterGaps(t *testing.T) {
	var recs []in
	for x := uint64(1); x <= 6000; x++ {
		if x != 42 {
			recs = append(recs, in{typePath, path(x)})
		}
	}
	recs = append(recs, in{typePath, path(42)})
	_, p := runFilter(t, Options{}, recs)
	if st := p.Stats(); st.Gaps != 1 || st.LateSerials != 1 {
		t.Errorf("gaps %d, late %d; want 1, 1", st.Gaps, st.LateSerials)
	}
}

func TestFilterRateLimit(t *testing.T) {
	lim, err := ratelimit.New(ratelimit.Config{
		Rules:   []ratelimit.Rule{{Key: "noisy", Rate: 0.001, Burst: 2}, {Key: "quiet", Rate: 0.001, Burst: 100}},
		Default: &ratelimit.Rule{Rate: 0.001, Burst: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	var recs, want []in
	add := func(allowed bool, r ...in) {
		recs = append(recs, r...)
		if allowed {
			want = append(want, r...)
		}
	}
	for x := uint64(1); x <= 5; x++ { // five events of noisy, two allowed
		add(x <= 2, in{record.TypeSyscall, sys(x, quoted("noisy"))}, in{typePath, path(x)}, in{record.TypeEOE, eoe(x)})
	}
	add(true, in{record.TypeSyscall, sys(6, multi("x", "quiet"))}, in{typePath, path(6)})
	add(true, in{record.TypeSyscall, sys(7, "(null)")})
	add(false, in{record.TypeSyscall, sys(8, quoted("other"))}, in{typePath, path(8)})
	add(false, in{record.TypeURingOp, uring(9, quoted("noisy"))}) // burst used up, and the clock stands still
	var wantS []string
	for _, r := range want {
		wantS = append(wantS, string(r.payload))
	}

	var e emitted
	p, err := New(newRing(t), Options{WriteEOE: true, Limiter: lim, Now: fixedClock, Emit: e.emit})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if p.Filter(r.typ, r.payload) {
			got = append(got, string(r.payload))
		}
	}
	if !slices.Equal(got, wantS) {
		t.Errorf("written:\n%q\nwant:\n%q", got, wantS)
	}
	if len(e.recs) != 0 {
		t.Fatalf("emitted before any flush: %q", e.recs)
	}
	p.FlushRateLimits(fixedNow)
	wantE := []string{
		`audit(1795636980.303:0): op=ratelimit key="" suppressed=2 res=failed`,
		`audit(1795636980.303:0): op=ratelimit key="noisy" suppressed=10 res=failed`,
	}
	if !slices.Equal(e.recs, wantE) {
		t.Errorf("flush emitted:\n%q\nwant:\n%q", e.recs, wantE)
	}
	p.FlushRateLimits(fixedNow)
	if len(e.recs) != 2 {
		t.Errorf("a second flush with nothing new emitted %q", e.recs[2:])
	}
	if st := p.Stats(); st.RateLimited != 12 {
		t.Errorf("Stats().RateLimited = %d, want 12", st.RateLimited)
	}
	if m := p.RateLimitedByKey(); !mapsEqual(m, map[string]uint64{"": 2, "noisy": 10}) {
		t.Errorf("RateLimitedByKey = %v", m)
	}
}

func TestNoLimiter(t *testing.T) {
	var e emitted
	p, err := New(newRing(t), Options{Emit: e.emit})
	if err != nil {
		t.Fatal(err)
	}
	p.FlushRateLimits(fixedNow)
	if m := p.RateLimitedByKey(); m != nil || len(e.recs) != 0 || p.Stats().RateLimited != 0 {
		t.Errorf("without a limiter: by key %v, emitted %q", m, e.recs)
	}
}

// An adopted ring's records (the killed process read them) come first:
// the op=restart check is for the first record after them, against the
// highest serial among them.
func TestFilterRestartAfterReplay(t *testing.T) {
	const stamp = "audit(1795636980.303:0): "
	for _, tc := range []struct {
		name     string
		prev     uint64
		replayed int
		recs     []in
		want     []string
	}{
		{"replayed, then a gap", 100, 2, []in{{typePath, path(101)}, {typePath, path(103)}, {typePath, path(110)}}, []string{
			s(path(101)), s(path(103)),
			"emit: " + stamp + "op=restart prev_last_serial=103 first_serial=110 unseen_serials=104-109 unseen=6 res=failed",
			s(path(110)),
		}},
		{"replayed, nothing unseen", 100, 2, []in{{typePath, path(101)}, {typePath, path(103)}, {typePath, path(104)}}, []string{
			s(path(101)), s(path(103)), s(path(104)),
		}},
		{"replayed, no previous run on disk", 0, 1, []in{{typePath, path(50)}, {typePath, path(52)}}, []string{
			s(path(50)),
			"emit: " + stamp + "op=restart prev_last_serial=50 first_serial=52 unseen_serials=51-51 unseen=1 res=failed",
			s(path(52)),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := runFilter(t, Options{PrevSerial: tc.prev, Replayed: tc.replayed, WriteEOE: true}, tc.recs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("written:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}
