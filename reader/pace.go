package reader

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/blocksys"
)

// Pacer decides when a reading thread, at a low record rate, waits a
// moment before its next blocking read, so that several audit events share
// one wake-up. At everyday rates the kernel wakes the reader once per
// event (a handful of records), and each wake-up costs the Go runtime
// several system calls and thread hand-offs (its sysmon thread's naps,
// futex wake-ups) that cost more than the records. Waiting Max after a
// small batch lets the next read take every event that arrived meanwhile.
//
// It never waits after a full batch (more may be queued: read on at
// once). At or above MaxRate records a second (in the current second, or
// over the last one) it waits Max no more: with Fill set, it waits about
// the time Fill records take to arrive at that rate, less the batch just
// read (at 15,000 records a second and 12 records read, 3.5 ms for a
// batch of 64), so that a read takes a batch's worth, not the one or two
// events that arrived while the last batch was served; each wake-up of a
// thread blocked in a read also costs the runtime's sysmon a series of
// naps, at every rate. A burst that starts during a wait costs at most
// one wait of queueing in the socket: Max at the kernel's highest rate
// must fit in the socket's receive buffer (see PaceBound). The zero value
// never waits.
//
// A Pacer belongs to the reading goroutine; Wait must be called from a
// goroutine whose thread may sleep (it blocks it in nanosleep, releasing
// its P to the scheduler at once).
type Pacer struct {
	// Max is the wait after a small batch (0: never wait).
	Max time.Duration
	// MaxRate is the record rate (records a second) from which no wait of
	// Max is made (0: 2,000).
	MaxRate int
	// Fill, at or above MaxRate: wait for about Fill records in all
	// (the read's batch size; 0: no wait at these rates).
	Fill int

	winStart int64 // start of the current one-second window (Unix ns)
	winRecs  int   // records in it so far
	lastRate int   // records in the last complete window (per second)
	ts       unix.Timespec
}

// DefaultPaceRate is the record rate from which a Pacer with MaxRate 0
// stops waiting.
const DefaultPaceRate = 2000

// Next returns how long to wait before the next blocking read, given the
// records the last read delivered (0 for a timeout or a batch of acks),
// whether that read returned a full batch (as many datagrams as
// Config.Batch), and the time now. 0 means read at once. No allocation,
// no system call.
func (p *Pacer) Next(now time.Time, records int, full bool) time.Duration {
	if p.Max <= 0 {
		return 0
	}
	maxRate := p.MaxRate
	if maxRate <= 0 {
		maxRate = DefaultPaceRate
	}
	ns := now.UnixNano()
	if el := ns - p.winStart; el >= int64(time.Second) || el < 0 {
		if el < 2*int64(time.Second) && el > 0 {
			p.lastRate = int(int64(p.winRecs) * int64(time.Second) / el)
		} else {
			p.lastRate = 0 // a long quiet gap: the last second was empty
		}
		p.winStart, p.winRecs = ns, 0
	}
	p.winRecs += records
	if records == 0 || full {
		return 0
	}
	if p.winRecs < maxRate && p.lastRate < maxRate {
		return p.Max
	}
	if records >= p.Fill {
		return 0
	}
	rate := int64(p.lastRate)
	if el := ns - p.winStart; el >= int64(10*time.Millisecond) {
		rate = max(rate, int64(p.winRecs)*int64(time.Second)/el)
	}
	if rate <= 0 {
		return 0
	}
	w := time.Duration(int64(p.Fill-records) * int64(time.Second) / rate)
	if w < minFillWait {
		return 0 // the batch fills sooner than a sleep ends
	}
	return min(w, p.Max)
}

// minFillWait is the shortest wait for a batch to fill: a sleep is a
// wake-up too, and at 40,000 events/s (waits of 0.3-0.5 ms) waits from
// 250 us cost 1.26-1.51x the floor's CPU per record against 1.21-1.29x
// from 1 ms (three alternated runs each).
const minFillWait = time.Millisecond

// Wait blocks the calling thread for d (nothing for d <= 0), releasing its
// P at once (see internal/blocksys) so that the runtime's sysmon does not
// watch the sleep. A signal may end it early; the caller then reads a
// little sooner, which is harmless.
func (p *Pacer) Wait(d time.Duration) {
	if d <= 0 {
		return
	}
	p.ts = unix.NsecToTimespec(d.Nanoseconds())
	blocksys.Syscall6(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&p.ts)), 0, 0, 0, 0, 0)
}

// PaceBound returns the longest wait that lets a socket with a receive
// buffer of rcvbuf bytes (as configured: the kernel doubles it) absorb, in
// half of its room, a burst arriving at peakRate records a second during
// the wait. The kernel charges about 1 KiB of buffer per audit record (a
// record is a datagram of at least 1 KiB of skb). When the buffer fills,
// kauditd waits and the kernel's backlog (backlog_limit records) absorbs
// the rest, which this bound leaves as a further margin.
func PaceBound(rcvbuf int64, peakRate int) time.Duration {
	if rcvbuf <= 0 || peakRate <= 0 {
		return 0
	}
	records := rcvbuf * 2 / 1024 / 2
	return time.Duration(records * int64(time.Second) / int64(peakRate))
}

// BatchSize returns the datagrams a read takes at most (Config.Batch).
func (r *Reader) BatchSize() int { return len(r.hdrs) }

// LastFull reports whether the last read returned a full batch (as many
// datagrams as Config.Batch): more may be queued. Reading goroutine only.
func (r *Reader) LastFull() bool { return r.n >= len(r.hdrs) }
