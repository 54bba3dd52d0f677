package reader

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

func TestPacerNext(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	var off Pacer
	if w := off.Next(t0, 3, false); w != 0 {
		t.Fatalf("zero Pacer waits %v", w)
	}

	p := Pacer{Max: 100 * time.Millisecond, MaxRate: 1000}
	if w := p.Next(at(0), 5, false); w != p.Max {
		t.Fatalf("small batch at a low rate: wait %v, want %v", w, p.Max)
	}
	if w := p.Next(at(100), 64, true); w != 0 {
		t.Fatalf("after a full batch: wait %v, want 0", w)
	}
	if w := p.Next(at(150), 0, false); w != 0 {
		t.Fatalf("after a timeout (no record): wait %v, want 0", w)
	}
	// 5 + 64 + 900 = 969 records in this second: still under 1,000.
	if w := p.Next(at(200), 900, false); w != p.Max {
		t.Fatalf("969 records in the second: wait %v, want %v", w, p.Max)
	}
	// The second's count reaches MaxRate: no more waiting in it.
	if w := p.Next(at(300), 40, false); w != 0 {
		t.Fatalf("1,009 records in the second: wait %v, want 0", w)
	}
	if w := p.Next(at(900), 1, false); w != 0 {
		t.Fatalf("same second, rate over: wait %v, want 0", w)
	}
	// Next second: the last one's rate (1,010/s) still forbids waiting.
	if w := p.Next(at(1000), 1, false); w != 0 {
		t.Fatalf("after a second at 1,010 records/s: wait %v, want 0", w)
	}
	// A quiet second after it: waiting again.
	if w := p.Next(at(2000), 2, false); w != p.Max {
		t.Fatalf("after a second of 1 record: wait %v, want %v", w, p.Max)
	}
	// A long gap (no records for minutes) counts as a quiet second.
	if w := p.Next(at(300_000), 2, false); w != p.Max {
		t.Fatalf("after a long gap: wait %v, want %v", w, p.Max)
	}
	// A clock going backwards starts a new window, no panic, no negative rate.
	if w := p.Next(at(100), 2, false); w != p.Max {
		t.Fatalf("clock stepped back: wait %v, want %v", w, p.Max)
	}

	d := Pacer{Max: time.Millisecond}
	if w := d.Next(at(0), DefaultPaceRate, false); w != 0 {
		t.Fatalf("MaxRate 0 means DefaultPaceRate: wait %v at %d records", w, DefaultPaceRate)
	}

	// With Fill, at high rates: about the time the rest of a batch takes.
	f := Pacer{Max: 100 * time.Millisecond, MaxRate: 1000, Fill: 64}
	f.Next(at(0), 10000, false) // a second at 10,000 records/s
	if w := f.Next(at(1000), 14, false); w != 5*time.Millisecond {
		t.Fatalf("14 records at 10,000/s: wait %v, want 5ms (50 records' time)", w)
	}
	if w := f.Next(at(1001), 64, true); w != 0 {
		t.Fatalf("full batch at a high rate: wait %v, want 0", w)
	}
	g := Pacer{Max: 100 * time.Millisecond, MaxRate: 1000, Fill: 64}
	g.Next(at(0), 1_000_000, false) // a second at 1,000,000 records/s
	if w := g.Next(at(1000), 14, false); w != 0 {
		t.Fatalf("14 records at 1,000,000/s: wait %v, want 0 (the batch fills in 50us)", w)
	}
	h := Pacer{Max: 2 * time.Millisecond, MaxRate: 1000, Fill: 64}
	h.Next(at(0), 1500, false)
	if w := h.Next(at(1000), 2, false); w != 2*time.Millisecond {
		t.Fatalf("at 1,500/s: wait %v, want Max (2ms)", w)
	}

	if a := testing.AllocsPerRun(1000, func() { p.Next(at(5000), 3, false); f.Next(at(5000), 3, false) }); a != 0 {
		t.Fatalf("Next allocates %v times", a)
	}
}

func TestPaceBound(t *testing.T) {
	// 32 MiB: 65,536 records of buffer, half of it 32,768, at 300,000/s.
	if got, want := PaceBound(32<<20, 300_000), 109226666*time.Nanosecond; got != want {
		t.Fatalf("PaceBound(32M) = %v, want %v", got, want)
	}
	if got := PaceBound(64<<10, 300_000); got > time.Millisecond {
		t.Fatalf("PaceBound(64K) = %v: a small buffer must allow almost no wait", got)
	}
	if PaceBound(0, 1) != 0 || PaceBound(1<<20, 0) != 0 {
		t.Fatal("PaceBound of nothing is not 0")
	}
}

func TestPacerWaitSleeps(t *testing.T) {
	var p Pacer
	start := time.Now()
	p.Wait(20 * time.Millisecond)
	// A signal (the runtime's preemption) may end it early: allow that,
	// but a Wait that never sleeps would return in microseconds.
	if el := time.Since(start); el < time.Millisecond {
		t.Fatalf("Wait(20ms) returned after %v", el)
	}
	start = time.Now()
	p.Wait(0)
	p.Wait(-time.Second)
	if el := time.Since(start); el > 10*time.Millisecond {
		t.Fatalf("Wait(<=0) slept %v", el)
	}
}

// TestPacedReadAbsorbsBurst: on the real kernel, with the daemon's socket
// buffer, a load that runs flat out while the reader is in a paced wait
// loses nothing: the wait ends, full batches follow (no wait after them),
// and every record is read. The kernel drops rather than stalls
// (backlog_wait_time 0), so an overrun would show as kernel loss or
// ENOBUFS. The load child says when its loop starts, and the wait begins
// then, so the burst always falls in it.
func TestPacedReadAbsorbsBurst(t *testing.T) {
	k, key := kernelForLoad(t)
	r, err := Open(Config{RcvBuf: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Cleanup(func() { k.Conn().Unregister() })
	st, _ := k.Conn().Status()
	lost0 := st.Lost

	p := &Pacer{Max: min(100*time.Millisecond, PaceBound(32<<20, 300_000))}
	// A small batch at a low rate: the pacer waits.
	w := p.Next(time.Now(), 3, false)
	if w != p.Max {
		t.Fatalf("after a small batch at a low rate the pacer waits %v, want %v", w, p.Max)
	}
	const n = 20000
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", loadEnv, n), readyEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	ready := make([]byte, 1)
	if _, err := io.ReadFull(out, ready); err != nil {
		t.Fatalf("load child: %v", err)
	}
	start := time.Now()
	p.Wait(w) // the child is making its calls now
	slept := time.Since(start)

	suffix := []byte(`key="` + key + `"`)
	var seen, waits int
	other := 0
	count := func(typ uint16, p []byte) error {
		if typ == 1300 && bytes.HasSuffix(p, suffix) {
			seen++
		} else if typ == 1300 && other < 3 {
			other++ // shown if the test fails: a rule of someone else's took the event
			t.Logf("SYSCALL record without our key: %q", p)
		}
		return nil
	}
	r.SetDeadline(time.Now().Add(20 * time.Second))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	first := -1
	for seen < n {
		got, err := r.ReadBatch(count)
		if err != nil {
			st, _ := k.Conn().Status()
			t.Fatalf("after %d of %d SYSCALL records: %v (stats %+v, kernel %+v)", seen, n, err, r.Stats(), st)
		}
		full := r.LastFull()
		if first < 0 {
			first = got
			if !full {
				t.Errorf("the first read after a %v wait during the burst returned %d records, not a full batch", slept, got)
			}
		}
		w := p.Next(time.Now(), got, full)
		if full && w != 0 {
			t.Fatalf("the pacer would wait %v after a full batch", w)
		}
		if w > 0 && seen < n {
			waits++
			p.Wait(w)
		}
	}
	runtime.ReadMemStats(&ms1)
	if _, err := io.Copy(io.Discard, out); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("load child: %v", err)
	}
	st, _ = k.Conn().Status()
	s := r.Stats()
	if per := float64(ms1.Mallocs-ms0.Mallocs) / float64(s.Records); per > 0.05 {
		t.Errorf("%.3f allocations per record with pacing, want ~0", per)
	}
	t.Logf("waited %v during the burst, then %d records in the first read; %d more waits; stats %+v", slept, first, waits, s)
	if st.Lost != lost0 || s.Overruns != 0 {
		t.Errorf("kernel lost %d -> %d, overruns %d", lost0, st.Lost, s.Overruns)
	}
}
