package bench

import "slices"

// loadBoundShare is the share of the offered rate under which a step's
// generator is taken to have failed to produce its load.
const loadBoundShare = 0.95

// Knee is one reader's knee: the highest achieved rate at which it lost no
// event and stalled no program. A Knee is a plain value.
type Knee struct {
	Reader string `json:"reader"`
	// Found is false when no step of the reader was clean.
	Found bool `json:"found"`
	// Rate is the achieved rate of the knee step, events/s.
	Rate float64 `json:"rate"`
	// Offered is that step's offered rate (0 = flat out).
	Offered float64 `json:"offered"`
	// Exceeded is true when a step at a higher offered rate lost or
	// stalled: the knee lies between Rate and FirstBad. When false, the
	// reader never lost in the range swept and Rate is only a lower bound.
	Exceeded bool `json:"exceeded"`
	// FirstBad is the achieved rate of the lowest-offered step above the
	// knee that lost or stalled.
	FirstBad float64 `json:"first_bad,omitempty"`
	// LoadBound is true when, at or past the knee, the generator could not
	// reach the offered rate while the reader still lost nothing: the
	// machine's CPU, not the reader, set the limit.
	LoadBound bool `json:"load_bound"`
}

// offeredOrder sorts steps by offered rate, flat out (0) last.
func offeredOrder(a, b Step) int {
	ka, kb := a.OfferedRate, b.OfferedRate
	switch {
	case ka == kb:
		return 0
	case ka == 0:
		return 1
	case kb == 0:
		return -1
	case ka < kb:
		return -1
	}
	return 1
}

// Knees returns the knee of every reader that appears in steps and whose
// output is counted, in order of first appearance. Steps that failed are
// ignored.
func Knees(steps []Step) []Knee {
	var out []Knee
	for _, name := range readersOf(steps) {
		var mine []Step
		for _, s := range steps {
			if s.Reader == name && s.Error == "" && s.Counted {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		out = append(out, kneeOf(name, mine))
	}
	return out
}

// kneeOf finds the knee among one reader's measured steps.
func kneeOf(reader string, steps []Step) Knee {
	steps = slices.Clone(steps)
	slices.SortStableFunc(steps, offeredOrder)
	k := Knee{Reader: reader}
	at := -1
	for i, s := range steps {
		if s.Clean() && (!k.Found || s.AchievedRate > k.Rate) {
			k.Found, k.Rate, k.Offered, at = true, s.AchievedRate, s.OfferedRate, i
		}
	}
	for _, s := range steps[at+1:] {
		if !s.Clean() {
			k.Exceeded, k.FirstBad = true, s.AchievedRate
			break
		}
	}
	if k.Found {
		for _, s := range steps[at:] {
			if !s.Clean() {
				break
			}
			if s.OfferedRate == 0 || s.AchievedRate < loadBoundShare*s.OfferedRate {
				k.LoadBound = true
			}
		}
	}
	return k
}

// readersOf returns the distinct readers of steps in order of first
// appearance.
func readersOf(steps []Step) []string {
	var names []string
	for _, s := range steps {
		if !slices.Contains(names, s.Reader) {
			names = append(names, s.Reader)
		}
	}
	return names
}

// Ratio compares two readers' knees.
type Ratio struct {
	Reader string  `json:"reader"`
	Versus string  `json:"versus"`
	Ratio  float64 `json:"ratio"`
	// AtLeast is true when Reader's knee is only a lower bound (it never
	// lost in the range swept, or the load, not the reader, was the
	// limit): the true ratio is at least Ratio.
	AtLeast bool `json:"at_least"`
}

// Ratios returns base's knee divided by every other reader's knee, for the
// readers in knees that have one. It returns nothing when base has no knee.
func Ratios(knees []Knee, base string) []Ratio {
	i := slices.IndexFunc(knees, func(k Knee) bool { return k.Reader == base })
	if i < 0 || !knees[i].Found {
		return nil
	}
	b := knees[i]
	var out []Ratio
	for _, k := range knees {
		if k.Reader == base || !k.Found || k.Rate <= 0 {
			continue
		}
		out = append(out, Ratio{
			Reader:  base,
			Versus:  k.Reader,
			Ratio:   b.Rate / k.Rate,
			AtLeast: !b.Exceeded || b.LoadBound,
		})
	}
	return out
}
