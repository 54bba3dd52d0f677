package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPacerNext(t *testing.T) {
	ms := time.Millisecond
	f := func(rate float64, elapsed time.Duration, done, batch, wantN int64, wantWait time.Duration) {
		t.Helper()
		p := newPacer(rate, 20*ms)
		n, wait := p.next(elapsed, done, batch)
		if n != wantN || wait != wantWait {
			t.Errorf("rate %v at %v after %d done: next = (%d, %v), want (%d, %v)", rate, elapsed, done, n, wait, wantN, wantWait)
		}
	}
	f(1000, 0, 0, 64, 1, 0)             // operation 0 is due at once
	f(1000, 0, 1, 64, 0, ms)            // operation 1 is due 1 ms in
	f(1000, 10*ms, 1, 64, 10, 0)        // 11 due by 10 ms, 1 done
	f(1000, 10*ms, 11, 64, 0, ms)       // on schedule: wait for the next one
	f(1000, 10*ms, 11, 5, 0, ms)        // batch does not matter when nothing is due
	f(1000, 19*ms, 0, 8, 8, 0)          // behind: capped at the batch
	f(100, 0, 3, 64, 0, 30*ms)          // ahead: wait until operation 3's time
	f(0, 5*time.Second, 123, 64, 64, 0) // flat out: always a batch
}

func TestPacerForgivesOldDebt(t *testing.T) {
	// A thread stalled for 100 ms at 1000/s owes 100 operations; only
	// maxLag (20 ms = 20 operations) of it may be caught up.
	p := newPacer(1000, 20*time.Millisecond)
	elapsed := 100 * time.Millisecond
	var done int64
	for {
		n, _ := p.next(elapsed, done, 1000)
		if n == 0 {
			break
		}
		done += n
	}
	if done < 20 || done > 22 {
		t.Fatalf("after a 100 ms stall the thread caught up %d operations, want about 21 (20 ms of debt + 1)", done)
	}
	// Back on schedule: the next operation is 1 ms later.
	if n, wait := p.next(elapsed, done, 1000); n != 0 || wait <= 0 || wait > time.Millisecond {
		t.Fatalf("after catching up, next = (%d, %v), want (0, <= 1ms)", n, wait)
	}
}

func TestPacerNeverSpins(t *testing.T) {
	// For awkward rates, due and at must agree: when nothing is due the
	// wait is positive, and after waiting it something is due.
	for _, rate := range []float64{3, 7, 999.9, 33333, 123457} {
		p := newPacer(rate, time.Second)
		var done int64
		elapsed := time.Duration(0)
		for i := 0; i < 10000 && elapsed < 10*time.Millisecond; i++ {
			n, wait := p.next(elapsed, done, 64)
			if n == 0 {
				if wait <= 0 {
					t.Fatalf("rate %v: wait %v with nothing due", rate, wait)
				}
				elapsed += wait
				continue
			}
			done += n
		}
		want := int64(rate*elapsed.Seconds()) + 1
		if d := done - want; d < -1 || d > 1 {
			t.Errorf("rate %v: %d done by %v, want %d", rate, done, elapsed, want)
		}
	}
}

func TestSplitRate(t *testing.T) {
	for _, c := range []struct {
		rate    float64
		threads int
	}{{100000, 3}, {1, 4}, {0, 2}, {5000, 0}} {
		shares := splitRate(c.rate, c.threads)
		if len(shares) != max(c.threads, 1) {
			t.Errorf("splitRate(%v, %d) gave %d shares", c.rate, c.threads, len(shares))
		}
		var sum float64
		for _, s := range shares {
			sum += s
		}
		if math.Abs(sum-c.rate) > 1e-6 {
			t.Errorf("splitRate(%v, %d) shares add up to %v", c.rate, c.threads, sum)
		}
	}
}

func TestDrivePacesAndCounts(t *testing.T) {
	var calls atomic.Int64
	spec := LoadSpec{Rate: 20000, Threads: 2, Duration: 300 * time.Millisecond}
	out, err := drive(context.Background(), spec, func(int) (worker, error) {
		return worker{
			op:     func() error { calls.Add(1); return nil },
			finish: func() (int64, error) { return 0, nil },
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Events != calls.Load() {
		t.Fatalf("drive counted %d events for %d successful calls", out.Events, calls.Load())
	}
	// The pacer must never burst above the offered rate. How close it
	// comes from below depends on the CPU the test gets (the pacer's own
	// arithmetic is tested with a fake clock above), so only a gross
	// shortfall fails: a pacer that stalls or forgets a thread.
	if r := out.Rate(); r < 0.2*spec.Rate || r > 1.05*spec.Rate {
		t.Fatalf("achieved %.0f/s (%d in %v), offered %.0f/s", r, out.Events, out.Elapsed, spec.Rate)
	}
	if out.Elapsed < spec.Duration {
		t.Fatalf("elapsed %v for a %v load", out.Elapsed, spec.Duration)
	}
}

func TestDriveSlowOperationShowsInAchievedRate(t *testing.T) {
	// Each operation takes 1 ms: one thread cannot offer 5000/s, and the
	// achieved rate must say so instead of the pacer bursting.
	spec := LoadSpec{Rate: 5000, Threads: 1, Duration: 200 * time.Millisecond}
	out, err := drive(context.Background(), spec, func(int) (worker, error) {
		return worker{
			op:     func() error { time.Sleep(time.Millisecond); return nil },
			finish: func() (int64, error) { return 0, nil },
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Rate(); r > 1100 {
		t.Fatalf("achieved %.0f/s with 1 ms operations on one thread", r)
	}
}

func TestDriveRejectedAndErrors(t *testing.T) {
	boom := errors.New("boom")
	var finished, calls atomic.Int64
	spec := LoadSpec{Rate: 0, Threads: 3, Duration: 5 * time.Second}
	start := time.Now()
	out, err := drive(context.Background(), spec, func(thread int) (worker, error) {
		var n int
		return worker{
			op: func() error {
				n++
				if thread == 1 && n > 100 {
					return boom
				}
				calls.Add(1)
				return nil
			},
			finish: func() (int64, error) { finished.Add(1); return 10, nil },
		}, nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "thread 1 after 100 events") {
		t.Fatalf("err = %v, want it to wrap %v and name the thread", err, boom)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("one thread's error did not stop the others (%v)", time.Since(start))
	}
	if finished.Load() != 3 {
		t.Fatalf("%d workers finished, want 3", finished.Load())
	}
	if want := calls.Load() - 30; out.Events != want {
		t.Fatalf("events = %d, want %d successful calls less 3 x 10 rejected", out.Events, want)
	}
}

func TestDriveSetupFailureFinishesOthers(t *testing.T) {
	var finished atomic.Int64
	boom := errors.New("no socket")
	_, err := drive(context.Background(), LoadSpec{Threads: 3, Duration: time.Second}, func(thread int) (worker, error) {
		if thread == 2 {
			return worker{}, boom
		}
		return worker{op: func() error { return nil }, finish: func() (int64, error) { finished.Add(1); return 0, nil }}, nil
	})
	if !errors.Is(err, boom) || finished.Load() != 2 {
		t.Fatalf("err = %v, %d finished; want %v and 2", err, finished.Load(), boom)
	}
}

func TestDriveStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out, err := drive(ctx, LoadSpec{Rate: 1000, Threads: 2, Duration: time.Minute}, func(int) (worker, error) {
		return worker{op: func() error { return nil }, finish: func() (int64, error) { return 0, nil }}, nil
	})
	if err != nil || out.Elapsed > time.Second || out.Events == 0 {
		t.Fatalf("cancelled drive: %+v, %v", out, err)
	}
}

func TestSyscallLoadWithoutRules(t *testing.T) {
	// Without a rule nothing is audited, but the pacing with the real
	// operation holds.
	l := newSyscallLoad(os.Getpid())
	const rate = 20000
	out, err := l.Run(context.Background(), LoadSpec{Rate: rate, Threads: 2, Duration: 300 * time.Millisecond, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	// The machine may be busy (other tests, the race detector): the rate
	// may fall short a little, never overshoot.
	if r := out.Rate(); r < 0.75*rate || r > 1.05*rate {
		t.Fatalf("syscall load achieved %.0f/s, offered %d/s", r, rate)
	}
}

func BenchmarkPacerNext(b *testing.B) {
	p := newPacer(100000, 20*time.Millisecond)
	var done int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n, _ := p.next(time.Duration(i)*time.Microsecond, done, 64)
		done += n
	}
}
