package bench

import "time"

// pacer spreads one thread's operations evenly over time at a fixed rate.
// Operation n (counting from 0) is due at origin + n/rate. A thread that
// falls more than maxLag behind has the excess forgiven (the origin moves
// forward) rather than bursting to catch up: the achieved rate then shows
// that the machine could not produce the offered load. A pacer is used by
// one goroutine only.
type pacer struct {
	rate   float64       // operations per second; 0 = flat out
	maxLag time.Duration // debt older than this is forgiven
	origin time.Duration // elapsed time at which operation 0 was due
}

func newPacer(rate float64, maxLag time.Duration) pacer {
	return pacer{rate: rate, maxLag: maxLag}
}

// due returns how many operations are due by elapsed.
func (p *pacer) due(elapsed time.Duration) int64 {
	if elapsed < p.origin {
		return 0
	}
	return int64((elapsed-p.origin).Seconds()*p.rate) + 1
}

// at returns the elapsed time at which operation n is due.
func (p *pacer) at(n int64) time.Duration {
	return p.origin + time.Duration(float64(n)/p.rate*float64(time.Second))
}

// next tells a thread that has started done operations, at elapsed, how
// many to start now (n > 0), or else how long to wait before asking again.
// batch caps n so that the thread looks at the clock regularly.
func (p *pacer) next(elapsed time.Duration, done int64, batch int64) (n int64, wait time.Duration) {
	if p.rate <= 0 {
		return batch, 0
	}
	if lag := elapsed - p.at(done); lag > p.maxLag {
		// Forgive the debt beyond maxLag: shift the schedule so that
		// operation done was due exactly maxLag ago.
		p.origin += lag - p.maxLag
	}
	if due := p.due(elapsed); due > done {
		return min(due-done, batch), 0
	}
	// Rounding can put at(done) at or just before elapsed while due
	// says not yet: never ask the caller to spin.
	return 0, max(p.at(done)-elapsed, time.Microsecond)
}

// splitRate divides an offered rate evenly among threads.
func splitRate(rate float64, threads int) []float64 {
	threads = max(threads, 1)
	out := make([]float64, threads)
	for i := range out {
		out[i] = rate / float64(threads)
	}
	return out
}
