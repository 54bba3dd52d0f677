package bench

import (
	"math"
	"testing"
)

// st builds a recorded step: offered and achieved rates, lost events,
// kernel lost, stall seconds.
func st(reader string, offered, achieved float64, loss, klost int64, stall float64) Step {
	return Step{Reader: reader, OfferedRate: offered, AchievedRate: achieved, Counted: true,
		Events: int64(achieved * 5), Loss: loss, KernelLost: klost, StallSeconds: stall, Seconds: 5}
}

func TestKnees(t *testing.T) {
	f := func(name string, steps []Step, want []Knee) {
		t.Helper()
		got := Knees(steps)
		if len(got) != len(want) {
			t.Fatalf("%s: Knees = %+v, want %+v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: knee %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	f("bracketed", []Step{
		st("auditd", 20000, 20000, 0, 0, 0),
		st("auditd", 60000, 59000, 900, 900, 0),
		st("auditd", 40000, 40000, 0, 0, 0),
	}, []Knee{{Reader: "auditd", Found: true, Rate: 40000, Offered: 40000, Exceeded: true, FirstBad: 59000}})

	f("never lost, load-bound past the machine's limit", []Step{
		st("auditdrain", 40000, 40000, 0, 0, 0),
		st("auditdrain", 80000, 79800, 0, 0, 0),
		st("auditdrain", 160000, 118000, 0, 0, 0),
	}, []Knee{{Reader: "auditdrain", Found: true, Rate: 118000, Offered: 160000, LoadBound: true}})

	f("never lost, load kept up: a lower bound", []Step{
		st("discard", 20000, 20000, 0, 0, 0),
		st("discard", 40000, 39990, 0, 0, 0),
	}, []Knee{{Reader: "discard", Found: true, Rate: 39990, Offered: 40000}})

	f("stall counts as bad, kernel lost counts as bad", []Step{
		st("a", 10000, 10000, 0, 0, 0),
		st("a", 20000, 20000, 0, 0, 0.4),
		st("b", 10000, 10000, 0, 0, 0),
		st("b", 20000, 20000, 0, 3, 0),
	}, []Knee{
		{Reader: "a", Found: true, Rate: 10000, Offered: 10000, Exceeded: true, FirstBad: 20000},
		{Reader: "b", Found: true, Rate: 10000, Offered: 10000, Exceeded: true, FirstBad: 20000},
	})

	f("lost everywhere", []Step{
		st("x", 20000, 20000, 5, 0, 0),
		st("x", 40000, 40000, 50, 0, 0),
	}, []Knee{{Reader: "x", Exceeded: true, FirstBad: 20000}})

	// A noisy low step does not hide a clean higher one: the knee is the
	// highest clean achieved rate.
	f("noisy", []Step{
		st("y", 10000, 10000, 0, 0, 0),
		st("y", 20000, 20000, 1, 0, 0),
		st("y", 30000, 30000, 0, 0, 0),
		st("y", 40000, 40000, 7, 0, 0),
	}, []Knee{{Reader: "y", Found: true, Rate: 30000, Offered: 30000, Exceeded: true, FirstBad: 40000}})

	// Flat out (offered 0) sorts last; its achieved rate competes.
	f("flat out", []Step{
		st("z", 0, 90000, 0, 0, 0),
		st("z", 50000, 50000, 0, 0, 0),
	}, []Knee{{Reader: "z", Found: true, Rate: 90000, Offered: 0, LoadBound: true}})

	none := st(ReaderNone, 20000, 20000, 0, 0, 0)
	none.Counted = false
	failed := st("w", 40000, 40000, 0, 0, 0)
	failed.Error = "reader died"
	f("uncounted and failed steps are ignored", []Step{none, failed, st("w", 20000, 20000, 0, 0, 0)},
		[]Knee{{Reader: "w", Found: true, Rate: 20000, Offered: 20000}})
}

func TestRatios(t *testing.T) {
	knees := []Knee{
		{Reader: "auditdrain", Found: true, Rate: 120000, LoadBound: true},
		{Reader: "auditd-raw", Found: true, Rate: 50000, Exceeded: true},
		{Reader: "auditd", Found: true, Rate: 30000, Exceeded: true},
		{Reader: "broken", Found: false},
	}
	got := Ratios(knees, "auditdrain")
	want := []Ratio{
		{Reader: "auditdrain", Versus: "auditd-raw", Ratio: 2.4, AtLeast: true},
		{Reader: "auditdrain", Versus: "auditd", Ratio: 4, AtLeast: true},
	}
	if len(got) != len(want) {
		t.Fatalf("Ratios = %+v, want %+v", got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Reader != w.Reader || g.Versus != w.Versus || g.AtLeast != w.AtLeast || math.Abs(g.Ratio-w.Ratio) > 1e-9 {
			t.Errorf("ratio %d = %+v, want %+v", i, g, w)
		}
	}
	exact := Ratios([]Knee{{Reader: "a", Found: true, Rate: 10, Exceeded: true}, {Reader: "b", Found: true, Rate: 5, Exceeded: true}}, "a")
	if len(exact) != 1 || exact[0].AtLeast || exact[0].Ratio != 2 {
		t.Fatalf("bracketed knees: %+v", exact)
	}
	if r := Ratios(knees, "broken"); r != nil {
		t.Fatalf("base without a knee: %+v", r)
	}
	if r := Ratios(knees, "absent"); r != nil {
		t.Fatalf("absent base: %+v", r)
	}
}
