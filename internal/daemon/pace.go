package daemon

import (
	"time"

	"github.com/auditdrain/auditdrain/reader"
)

// peakRecordRate is the kernel record rate read_pace is bounded against:
// about what 2 vCPUs deliver flat out (100,000 getppid events/s, 3 records
// each). A burst at that rate during one paced wait fills at most half of
// the socket's receive buffer.
const peakRecordRate = 300_000

// paceFor returns the reader's wait after a small batch at a low rate:
// read_pace, at most flush_interval and at most reader.PaceBound for the
// socket's buffer; none in discard mode (the bench's measure of the bare
// reader).
func paceFor(c paceConfig) time.Duration {
	if c.discard || c.pace <= 0 {
		return 0
	}
	return min(c.pace, c.flush, reader.PaceBound(c.rcvbuf, peakRecordRate))
}

type paceConfig struct {
	pace, flush time.Duration
	rcvbuf      int64
	discard     bool
}

// pace runs on the reader's thread after a batch of n records has been
// served (afterRead returned timeout). After a small batch at a low rate
// it waits (reader.Pacer), so that the next read takes the events that
// arrived meanwhile with one wake-up; the records already read have been
// handed on before it waits. The wait is at most the time until the writer
// must be ticked; it then looks at the writer again and returns the next
// read's timeout.
func (d *Daemon) pace(n int, timeout time.Duration) time.Duration {
	if d.pacer.Max <= 0 || n == 0 {
		return timeout
	}
	w := d.pacer.Next(time.Now(), n, d.rd.LastFull())
	if w <= 0 || d.ring.Len() > 0 || d.stopping.Load() {
		return timeout
	}
	if timeout > 0 {
		w = min(w, timeout)
	}
	d.pacer.Wait(w)
	if timeout == 0 {
		return 0
	}
	return d.afterRead()
}
