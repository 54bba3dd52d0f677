package ratelimit

import "sync/atomic"

// bucket is one key's token bucket and counters. The GCRA fields and pending
// are owned by the drain goroutine; allowed and suppressed are atomics that
// Stats reads from any goroutine.
type bucket struct {
	key string

	// GCRA (virtual scheduling) in nanoseconds on the Limiter's clock.
	// interval 0 means unlimited (a nil Config.Default).
	interval int64 // time for one token to come back: 1e9/rate
	span     int64 // burst * interval: how far tat may run ahead of now
	tat      int64 // theoretical arrival time of the next event

	pending uint64 // records suppressed since the last Flush

	allowed, suppressed atomic.Uint64 // records since New
}

func newBucket(key string, r *Rule) *bucket {
	b := &bucket{key: key}
	if r != nil {
		b.interval = r.interval()
		b.span = int64(r.Burst) * b.interval
	}
	return b
}

// take spends one token at time now (nanoseconds) and reports whether there
// was one. A full bucket holds span/interval = burst tokens; one comes back
// every interval.
func (b *bucket) take(now int64) bool {
	if b.interval == 0 {
		return true
	}
	tat := max(b.tat, now) + b.interval
	if tat-now > b.span {
		return false
	}
	b.tat = tat
	return true
}

// count records the fate of one record decided by this bucket.
func (b *bucket) count(allow bool) bool {
	if allow {
		b.allowed.Add(1)
	} else {
		b.suppressed.Add(1)
		b.pending++
	}
	return allow
}
