package pipeline

import "sync/atomic"

// serialTableSize is the number of recent serials a serialTable remembers.
// An event's records are normally consecutive, and records of events from
// other CPUs interleave by a few events, so 4096 serials is a wide margin.
const serialTableSize = 4096

// serialTable is a set of recent serials, direct mapped: slot serial % size
// holds the last serial added there. Kernel serials grow by one per event,
// so a slot is reused only by a serial serialTableSize newer. Serial 0 (which
// the kernel does not assign, and auditdrain's own records carry) is never
// in the set.
type serialTable [serialTableSize]uint64

func (t *serialTable) add(serial uint64) { t[serial%serialTableSize] = serial }

func (t *serialTable) has(serial uint64) bool {
	return serial != 0 && t[serial%serialTableSize] == serial
}

// gapTracker counts serial numbers never seen, over a window of recent
// serials, so records that arrive out of order (queue order is not serial
// order) are not counted. A serial is judged missing once the highest
// serial seen is a whole window past it. observe runs on one goroutine; the
// counters are atomic so they can be read from any.
//
// Serial gaps are a heuristic: a rate-limit drop or a record lost after
// queueing leaves a gap, but so do serials used by records that were never
// meant for us; they are reported apart from certain loss.
type gapTracker struct {
	seen    serialTable
	hi      uint64 // highest serial seen
	judged  uint64 // every serial <= judged has been judged
	started bool
	gaps    atomic.Uint64
	late    atomic.Uint64 // records for serials already judged
}

const gapWindow = serialTableSize

func (g *gapTracker) observe(serial uint64) {
	if serial == 0 {
		return
	}
	if !g.started {
		g.started = true
		g.hi = serial
		g.judged = serial - 1
		g.seen.add(serial)
		return
	}
	if serial <= g.judged {
		if serial+1<<31 < g.judged {
			// The kernel's 32-bit serial wrapped (or the kernel
			// restarted its count): start over rather than call every
			// later record late.
			g.started = false
			g.observe(serial)
			return
		}
		g.late.Add(1)
		return
	}
	if serial > g.hi+1<<31 {
		// A record from before a serial wrap, arriving after the tracker
		// started over: late, not 4 billion missing serials.
		g.late.Add(1)
		return
	}
	if serial > g.hi {
		if serial >= gapWindow && serial-gapWindow > g.judged {
			limit := serial - gapWindow // judge every x in (judged, limit]
			var missing uint64
			// Serials above hi were never seen: count them without a loop.
			if limit > g.hi {
				missing += limit - g.hi
				limit = g.hi
			}
			for x := g.judged + 1; x <= limit; x++ {
				if !g.seen.has(x) {
					missing++
				}
			}
			g.judged = serial - gapWindow
			if missing > 0 {
				g.gaps.Add(missing)
			}
		}
		g.hi = serial
	}
	g.seen.add(serial)
}
