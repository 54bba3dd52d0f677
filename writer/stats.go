package writer

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the inclusive upper bounds of the histogram buckets:
// 1ms to 10s in a 1-2-5 series. One more bucket counts what is above 10s.
// Read-only.
var latencyBounds = [...]time.Duration{
	1 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2 * time.Second, 5 * time.Second,
	10 * time.Second,
}

// NumLatencyBuckets is the number of buckets of a LatencyHistogram: one per
// bound of LatencyBucketBound, plus one for values above 10s.
const NumLatencyBuckets = len(latencyBounds) + 1

// LatencyBucketBound returns the inclusive upper bound of bucket i, or 0
// for the last bucket (above 10s, unbounded).
func LatencyBucketBound(i int) time.Duration {
	if i < 0 || i >= len(latencyBounds) {
		return 0
	}
	return latencyBounds[i]
}

// LatencyHistogram is a snapshot of a fixed-bucket histogram (see
// LatencyBucketBound). It is a plain value.
type LatencyHistogram struct {
	Counts [NumLatencyBuckets]uint64
	Max    time.Duration // largest value observed
}

// Count returns the number of observations.
func (h LatencyHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns an upper estimate of the q-quantile (0 < q <= 1): the
// upper bound of the bucket holding it, capped at Max (so the top bucket
// reports Max). It returns 0 when the histogram is empty.
func (h LatencyHistogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.999999)
	rank = max(rank, 1)
	rank = min(rank, total)
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum >= rank {
			if i < len(latencyBounds) && latencyBounds[i] < h.Max {
				return latencyBounds[i]
			}
			return h.Max
		}
	}
	return h.Max
}

// histogram is the live, atomic form of LatencyHistogram.
type histogram struct {
	counts [NumLatencyBuckets]atomic.Uint64
	max    atomic.Int64
}

func (h *histogram) observe(d time.Duration) { h.observeN(d, 1) }

// observeN counts n observations of d.
func (h *histogram) observeN(d time.Duration, n uint64) {
	d = max(d, 0)
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(n)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) snapshot() LatencyHistogram {
	var s LatencyHistogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Max = time.Duration(h.max.Load())
	return s
}

// Stats is a snapshot of a Writer's counters. Record and byte counters
// advance when a frame has been written to the segment file.
type Stats struct {
	Records  uint64 // records written (not counting notices)
	Batches  uint64 // frames (batches) written
	BytesIn  uint64 // text bytes written (uncompressed lines)
	BytesOut uint64 // bytes appended to segment files (frames, notices, headers, trailers)
	// RecordsLost is the sum of RecordsNotWritten: records appended that
	// were dropped, never written.
	RecordsLost uint64
	// RecordsNotWritten counts the records dropped, by cause: the
	// condition that suspended writing, or the write error (disk full or
	// other) whose frame failed. Records + RecordsLost equals the records
	// appended once Close has returned.
	RecordsNotWritten [NumCauses]uint64
	// RecordsSynced counts the records covered by a completed fsync.
	RecordsSynced   uint64
	Notices         uint64 // DAEMON_RESUME notice lines written into the log
	Fsyncs          uint64 // fsyncs of segment files and of the directory
	FsyncNanosTotal int64
	FsyncNanosMax   int64
	Segments        uint64 // segment files created by this Writer
	SegmentsDeleted uint64 // segments deleted by retention or by a rotate action
	WriteErrors     uint64 // failed writes, fsyncs and segment creations
	Events          uint64 // events delivered (or that would have been) to Config.Notify
	// Suspended is true while writing is suspended, for SuspendCause.
	Suspended    bool
	SuspendCause Cause
	// FreeBytes is the free space of the log's file system at the last
	// check (-1 before the first).
	FreeBytes int64
	// Latency: per record, the time from its kernel timestamp to the
	// write of its frame (rounded up by at most one of its batch's 64
	// age slots: 16 ms, or a 64th of a longer LowRateHold), so that a quantile is over
	// records, not frames. Batches whose first record has no audit(...)
	// timestamp, and records without one, are not observed.
	Latency LatencyHistogram
	// FsyncLatency: the duration of every fsync.
	FsyncLatency LatencyHistogram
	// DurabilityWindow: at each completed fsync of the segment that
	// covered records, the age of the oldest record it made durable,
	// measured from the Append of that record's batch's first record (on
	// the monotonic clock; for the daemon, when the record left the ring)
	// to the fsync's completion. It is the window of records at risk in
	// a crash.
	DurabilityWindow LatencyHistogram
	// Err is the most recent write-path error (see Writer.Err).
	Err error
}

// counters are the live, atomic statistics of a Writer.
type counters struct {
	records, batches, bytesIn, bytesOut    atomic.Uint64
	notWritten                             [NumCauses]atomic.Uint64
	recordsSynced, notices                 atomic.Uint64
	fsyncs, segments, deleted, writeErrors atomic.Uint64
	events                                 atomic.Uint64
	fsyncNanos, fsyncMax                   atomic.Int64
	free                                   atomic.Int64
	suspended                              atomic.Int32 // cause+1, 0 when writing
	latency, fsyncLatency, window          histogram
}

func (c *counters) fsynced(nanos int64) {
	c.fsyncs.Add(1)
	c.fsyncNanos.Add(nanos)
	for {
		m := c.fsyncMax.Load()
		if nanos <= m || c.fsyncMax.CompareAndSwap(m, nanos) {
			break
		}
	}
	c.fsyncLatency.observe(time.Duration(nanos))
}
