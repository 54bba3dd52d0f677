package ratelimit

import (
	"sync"
	"testing"
	"time"
)

// TestAllowAllocs checks that Allow allocates nothing for every kind of
// record, including hex-encoded and multi-key keys (looked up with
// m[string(b)]), and that Flush allocates nothing of its own.
func TestAllowAllocs(t *testing.T) {
	l := mustNew(t, Config{
		Rules:   []Rule{{Key: "noisy", Rate: 10, Burst: 10}, {Key: "my key", Rate: 10, Burst: 10}},
		Default: &Rule{Rate: 10, Burst: 10},
	})
	const events = 300
	var recs [][]byte
	var types []uint16
	for i := range events {
		s := uint32(1000 + i)
		for _, r := range []struct {
			typ uint16
			key string
		}{
			{tAVC, ""}, {tSyscall, []string{"noisy", "other", "", "my key", "other\x01noisy"}[i%5]},
			{tPath, ""}, {tProctitle, ""}, {tEOE, ""}, {tConfigChange, "noisy"},
		} {
			recs = append(recs, payload(r.typ, s, r.key))
			types = append(types, r.typ)
		}
	}
	recs = append(recs, []byte("not a record"))
	types = append(types, tSyscall)

	base := time.Now()
	i := 0
	allocs := testing.AllocsPerRun(len(recs)-1, func() {
		l.Allow(base.Add(time.Duration(i)*time.Millisecond), types[i], recs[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("Allow: %v allocations per record, want 0", allocs)
	}
	var n uint64
	fn := func(_ string, s uint64) { n += s }
	if allocs := testing.AllocsPerRun(10, func() { l.Flush(fn) }); allocs != 0 {
		t.Errorf("Flush: %v allocations per call, want 0", allocs)
	}
	st := statsMap(l)
	if n == 0 || n != st[""].Suppressed+st["noisy"].Suppressed+st["my key"].Suppressed {
		t.Errorf("Flush reported %d suppressed records; Stats %v", n, st)
	}
}

// TestStatsConcurrent reads Stats from other goroutines while Allow runs;
// run with -race. Counters never go backwards and end at the call count.
func TestStatsConcurrent(t *testing.T) {
	l := mustNew(t, Config{Rules: []Rule{{Key: "noisy", Rate: 1000, Burst: 10}}})
	const events = 20000
	recs := make([][]byte, 0, 2*events)
	for i := range events {
		recs = append(recs, payload(tSyscall, uint32(i+1), "noisy"), payload(tEOE, uint32(i+1), ""))
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last KeyStats
			for {
				select {
				case <-done:
					return
				default:
				}
				s := l.Stats()[1]
				if s.Allowed < last.Allowed || s.Suppressed < last.Suppressed {
					t.Errorf("Stats went backwards: %+v after %+v", s, last)
					return
				}
				last = s
			}
		}()
	}
	base := time.Now()
	for i, p := range recs {
		typ := uint16(tSyscall)
		if i%2 == 1 {
			typ = tEOE
		}
		l.Allow(base.Add(time.Duration(i/2)*100*time.Microsecond), typ, p)
	}
	close(done)
	wg.Wait()
	if s := l.Stats()[1]; s.Allowed+s.Suppressed != 2*events || s.Suppressed == 0 {
		t.Errorf("Stats = %+v after %d records", s, 2*events)
	}
}

// FuzzAllow feeds arbitrary payloads: Allow must not panic, and every record
// is counted once.
func FuzzAllow(f *testing.F) {
	f.Add(uint16(tSyscall), payload(tSyscall, 7, "noisy"))
	f.Add(uint16(tSyscall), payload(tSyscall, 8, "other\x01noisy"))
	f.Add(uint16(tPath), payload(tPath, 7, ""))
	f.Add(uint16(tSyscall), []byte(`audit(1.000:1): key=`))
	f.Add(uint16(tSyscall), []byte(`audit(1.000:1): key=6E6F697`))
	f.Fuzz(func(t *testing.T, typ uint16, p []byte) {
		l := mustNew(t, Config{Rules: []Rule{{Key: "noisy", Rate: 1, Burst: 1}}, Default: &Rule{Rate: 1, Burst: 1}})
		now := time.Now()
		for i := range 3 {
			l.Allow(now, typ, p)
			l.Allow(now, tSyscall, p)
			var total uint64
			for _, s := range l.Stats() {
				total += s.Allowed + s.Suppressed
			}
			if total != uint64(2*(i+1)) {
				t.Fatalf("after %d calls Stats count %d records", 2*(i+1), total)
			}
		}
	})
}
