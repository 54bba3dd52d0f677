package bench

import (
	"errors"
	"testing"
	"time"
)

func TestNewStep(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	m := measure{
		reader: ReaderAuditdrain, load: LoadSyscall, offered: 40000,
		out:     LoadOutcome{Events: 200000, Elapsed: 5 * time.Second},
		counted: true, onDisk: 199000, records: 600000, bytes: 30_000_000, perEvent: 3,
		lostBefore: 4294967290, lostAfter: 10, // the counter wrapped: 16 lost
		waitBefore: 100, waitAfter: 600, hz: 250,
		backlogPeak: 8000, cpuSeconds: 1.194, peakRSS: 50 << 20,
		p50: p(3), p99: p(40),
	}
	s := newStep(m)
	want := Step{
		Reader: ReaderAuditdrain, Load: LoadSyscall, OfferedRate: 40000, AchievedRate: 40000, Seconds: 5,
		Events: 200000, Counted: true, OnDisk: 199000, Loss: 1000, LossFraction: 0.005,
		KernelLost: 16, BacklogPeak: 8000, StallSeconds: 2, Records: 600000,
		ReaderCPU: 1.194, CPUPerMillion: 2, PeakRSS: 50 << 20, BytesOnDisk: 30_000_000, BytesPerRec: 50,
		LatencyP50Ms: m.p50, LatencyP99Ms: m.p99,
	}
	if s != want {
		t.Fatalf("newStep =\n%+v\nwant\n%+v", s, want)
	}
	if s.Clean() {
		t.Fatal("a lossy step is Clean")
	}

	// More on disk than caused (a reader that logs the bench's events
	// twice) is no negative loss; an uncounted reader has no loss at all;
	// an error is carried.
	s = newStep(measure{out: LoadOutcome{Events: 10, Elapsed: time.Second}, counted: true, onDisk: 12})
	if s.Loss != 0 || !s.Clean() {
		t.Fatalf("over-count: %+v", s)
	}
	s = newStep(measure{reader: ReaderNone, out: LoadOutcome{Events: 10, Elapsed: time.Second}})
	if s.Counted || s.Loss != 0 || s.Clean() {
		t.Fatalf("uncounted reader: %+v (Clean must be false: nothing known)", s)
	}
	s = newStep(measure{counted: true, err: errors.New("reader died")})
	if s.Error != "reader died" || s.Clean() {
		t.Fatalf("failed step: %+v", s)
	}
}

func TestEstimateEvents(t *testing.T) {
	f := func(records, overhead int64, perEvent int, events, want int64) {
		t.Helper()
		if got := estimateEvents(records, overhead, perEvent, events); got != want {
			t.Errorf("estimateEvents(%d, %d, %d, %d) = %d, want %d", records, overhead, perEvent, events, got, want)
		}
	}
	f(300002, 2, 3, 100000, 100000) // exact
	f(300010, 2, 3, 100000, 100000) // never above events
	f(299800, 2, 3, 100000, 100000) // 67 short of 100000: within 0.1%, noise
	f(270002, 2, 3, 100000, 90000)  // a real 10% shortfall
	f(14, 2, 3, 5, 5)               // tiny counts: 1 short is within 2
	f(0, 2, 3, 100, 0)              // nothing read
	f(1000, 0, 0, 1000, 1000)       // perEvent 0 taken as 1
	f(1, 10, 3, 0, 0)               // overhead larger than the records
}
