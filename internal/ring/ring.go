package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrClosed is returned by TryPush and Push once the ring is closed.
	ErrClosed = errors.New("ring: closed")
	// ErrTooLarge is returned (wrapped, with the sizes) by TryPush and Push
	// for a payload longer than MaxRecord; such a record can never fit.
	ErrTooLarge = errors.New("ring: record too large")
	// ErrInvalidSize is returned (wrapped, with the size) by New for a
	// non-positive or absurdly large size.
	ErrInvalidSize = errors.New("ring: invalid size")
)

const (
	// MinSize is the smallest ring New creates; smaller sizes are rounded up.
	MinSize = 64 << 10
	// MaxSize is the largest size New accepts.
	MaxSize = 1 << 30

	headerSize = 8
	skipLen    = ^uint32(0) // length value of a skip marker
	cacheLine  = 64
)

// Ring is a bounded single-producer single-consumer queue of variable-length
// records stored in one byte buffer.
//
// Concurrency: TryPush and Push must be called from one producer goroutine at
// a time; Drain and Wait from one consumer goroutine at a time. Close, Closed,
// Len, Cap, HighWater and MaxRecord are safe from any goroutine. See the
// package documentation for the framing and the parking protocol.
type Ring struct {
	// Read-only after New (plus closed, which is written once).
	buf      []byte
	size     uint64
	mask     uint64
	maxRec   int
	prodWake chan struct{} // 1-buffered; consumer -> parked producer
	consWake chan struct{} // 1-buffered; producer -> parked consumer
	done     chan struct{} // closed by Close
	closed   atomic.Bool
	_        [cacheLine]byte

	// tail points to tailMem (heap ring) or into the shared header
	// (NewShared, Adopt); written only by the producer.
	tail    *atomic.Uint64
	tailMem atomic.Uint64
	_       [cacheLine - 16]byte

	// head is written only by the consumer.
	head atomic.Uint64
	// free points to head (heap ring) or to the shared header's written
	// position (see Release): the producer may reuse the bytes before it.
	free *atomic.Uint64
	_    [cacheLine - 16]byte

	// consParked is written by the consumer in Wait and read by the
	// producer after every publication.
	consParked atomic.Uint32
	_          [cacheLine - 4]byte

	// prodParked is written by the producer in Push and read by the
	// consumer after every release.
	prodParked atomic.Uint32
	// kicked is set by Kick and consumed by Wait.
	kicked atomic.Bool
	// highWater is written only by the producer.
	highWater atomic.Uint64
	_         [cacheLine - 16]byte

	// Producer-private state.
	cachedHead uint64
	// deferWake: publications do not wake a parked consumer; the producer
	// calls Wake once per batch instead (see DeferWakeups).
	deferWake bool
	_         [cacheLine - 16]byte

	// Consumer-private state.
	timer *time.Timer // reused by Wait; stopped when not in use
	// recStart and recEnd are the positions of the record being handed
	// out by Drain (see Current).
	recStart, recEnd uint64

	// shared is the memfd-backed header and buffer (nil: heap ring).
	shared *sharedMem
}

// New returns an empty ring of size bytes rounded up to a power of two, and
// to at least MinSize. Its memory is touched (mapped) at once: the ring's
// size counts in the process's resident memory from the start. Sizes <= 0 or > MaxSize return an error wrapping
// ErrInvalidSize.
func New(size int) (*Ring, error) {
	if size <= 0 || size > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (want 1..%d)", ErrInvalidSize, size, MaxSize)
	}
	buf := make([]byte, RoundSize(size))
	prefault(buf)
	r := newRing(buf)
	r.tail = &r.tailMem
	r.free = &r.head
	return r, nil
}

// RoundSize is the buffer size a ring asked for size bytes (1..MaxSize)
// has: size rounded up to a power of two, and to at least MinSize.
func RoundSize(size int) int {
	return 1 << bits.Len64(uint64(max(size, MinSize))-1)
}

// newRing returns a ring over buf (a power of two in size); the caller
// sets tail and free.
func newRing(buf []byte) *Ring {
	n := uint64(len(buf))
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Ring{
		buf:      buf,
		size:     n,
		mask:     n - 1,
		maxRec:   int(n/4) - headerSize,
		prodWake: make(chan struct{}, 1),
		consWake: make(chan struct{}, 1),
		done:     make(chan struct{}),
		timer:    t,
	}
}

// prefault touches every page of b, so that the kernel maps them now and
// not one page fault at a time on the producer's path: a ring is written
// from end to end before it wraps, which at a few thousand records a
// second takes longer than a short run lasts, and every push would be the
// first touch of its page.
func prefault(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
}

// entrySize is the number of bytes a payload of n bytes occupies, header and
// padding included.
func entrySize(n int) uint64 {
	return headerSize + (uint64(n)+7)&^7
}

// TryPush copies one record of type typ and payload p into the ring without
// blocking. It returns (false, nil) if there is not enough free space right
// now, an error wrapping ErrTooLarge if len(p) > MaxRecord(), and ErrClosed
// after Close. p is not retained. Producer only.
//
// A TryPush racing with a Close from another goroutine may or may not
// succeed; a record it published stays readable.
func (r *Ring) TryPush(typ uint16, p []byte) (bool, error) {
	if r.closed.Load() {
		return false, ErrClosed
	}
	if len(p) > r.maxRec {
		return false, fmt.Errorf("%w: %d bytes > max %d", ErrTooLarge, len(p), r.maxRec)
	}
	tail := r.tail.Load()
	need := entrySize(len(p))
	off := tail & r.mask
	skip := uint64(0)
	if room := r.size - off; need > room {
		skip = room
	}
	total := skip + need
	if tail+total-r.cachedHead > r.size {
		r.cachedHead = r.free.Load()
		if tail+total-r.cachedHead > r.size {
			return false, nil
		}
	}
	if skip != 0 {
		binary.LittleEndian.PutUint64(r.buf[off:], uint64(skipLen))
		off = 0
	}
	binary.LittleEndian.PutUint64(r.buf[off:], uint64(len(p))|uint64(typ)<<32)
	copy(r.buf[off+headerSize:], p)
	newTail := tail + total
	r.tail.Store(newTail) // publish

	if !r.deferWake {
		r.Wake()
	}
	if used := newTail - r.cachedHead; used > r.highWater.Load() {
		// cachedHead may be stale (overestimating use); confirm.
		r.cachedHead = r.free.Load()
		if used = newTail - r.cachedHead; used > r.highWater.Load() {
			r.highWater.Store(used)
		}
	}
	return true, nil
}

// Push is like TryPush but, when the ring is full, parks the calling
// goroutine (no spinning) until the consumer frees space or the ring is
// closed, in which case it returns ErrClosed. Producer only.
func (r *Ring) Push(typ uint16, p []byte) error {
	need := entrySize(len(p))
	for {
		ok, err := r.TryPush(typ, p)
		if ok || err != nil {
			return err
		}
		// The consumer may be parked with deferred wake-ups pending: wake
		// it before waiting for it to free space. A shared ring's space
		// comes back only when records are stored (Release): its consumer
		// is kicked even with nothing to drain, so that it can seal what it
		// holds (ProducerWaiting).
		r.prodParked.Store(1)
		if r.shared != nil {
			r.Kick()
		} else {
			r.Wake()
		}
		if r.closed.Load() || r.fits(need) {
			r.prodParked.Store(0)
			continue
		}
		select {
		case <-r.prodWake:
		case <-r.done:
		}
		r.prodParked.Store(0)
	}
}

// DeferWakeups makes publications stop waking a parked consumer one record
// at a time: the producer calls Wake after each batch of pushes instead (Push
// still wakes the consumer before it parks on a full ring). A producer that
// receives records in batches (one recvmmsg) saves a consumer wake-up, and
// with it a thread switch, per record. Call it before the first push.
// Producer only.
func (r *Ring) DeferWakeups() { r.deferWake = true }

// ProducerWaiting reports whether the producer is parked in Push for
// room. Safe from any goroutine.
func (r *Ring) ProducerWaiting() bool { return r.prodParked.Load() != 0 }

// Wake wakes the consumer if it is parked in Wait. Cheap when it is not (one
// atomic load). Producer only.
func (r *Ring) Wake() {
	if r.consParked.Load() != 0 {
		select {
		case r.consWake <- struct{}{}:
		default:
		}
	}
}

// fits reports whether an entry of need bytes (plus any skip marker it
// requires) fits into the free space now. Producer only.
func (r *Ring) fits(need uint64) bool {
	tail := r.tail.Load()
	off := tail & r.mask
	if room := r.size - off; need > room {
		need += room
	}
	r.cachedHead = r.free.Load()
	return tail+need-r.cachedHead <= r.size
}

// Drain calls fn for each record available now, in push order, then releases
// their space with one atomic store and wakes a parked producer, if any. It
// stops early once at least maxBytes of payload have been handed out (always
// handing out at least one record if any is available); maxBytes <= 0 means
// no limit. It never blocks and returns the number of records handed out.
// Consumer only.
//
// p aliases the ring's memory and is valid only until fn returns: the space
// may be overwritten by the producer as soon as Drain returns. Copy p to keep
// it. fn must not call Drain or Wait. If fn panics, nothing of the batch is
// released, so the records are handed out again by the next Drain.
func (r *Ring) Drain(maxBytes int, fn func(typ uint16, p []byte)) (n int) {
	return r.drain(maxBytes, fn, nil)
}

// DrainWhile is Drain with the end decided by more: it hands out the
// records available now, in push order, until more returns false (the
// record it was called for is handed out and released too) or none is
// left. A consumer that must not wait asks more whether the next record
// can be taken without waiting. The rules of Drain apply.
func (r *Ring) DrainWhile(more func(typ uint16, p []byte) bool) (n int) {
	return r.drain(0, nil, more)
}

// entry decodes the entry at pos (before the tail): its record's type and
// payload (capacity-limited) and the position after it; for the wrap
// marker, a nil payload and the start of the buffer's next lap.
func (r *Ring) entry(pos uint64) (typ uint16, p []byte, next uint64) {
	off := pos & r.mask
	h := binary.LittleEndian.Uint64(r.buf[off:])
	l := uint32(h)
	if l == skipLen {
		return 0, nil, pos + r.size - off
	}
	start, end := off+headerSize, off+headerSize+uint64(l)
	return uint16(h >> 32), r.buf[start:end:end], pos + entrySize(int(l))
}

// drain is Drain (fn) or DrainWhile (more).
func (r *Ring) drain(maxBytes int, fn func(typ uint16, p []byte), more func(typ uint16, p []byte) bool) (n int) {
	head := r.head.Load()
	tail := r.tail.Load()
	pos := head
	handed := 0
	for pos != tail {
		typ, p, next := r.entry(pos)
		if p == nil {
			pos = next // the wrap marker
			continue
		}
		r.recStart = pos
		pos = next
		r.recEnd = pos
		n++
		if more != nil {
			if !more(typ, p) {
				break
			}
			continue
		}
		fn(typ, p)
		handed += len(p)
		if maxBytes > 0 && handed >= maxBytes {
			break
		}
	}
	if pos == head {
		return 0
	}
	r.head.Store(pos) // release
	if r.prodParked.Load() != 0 {
		select {
		case r.prodWake <- struct{}{}:
		default:
		}
	}
	return n
}

// Current returns the positions of the record Drain is handing out (its
// entry's first byte and the byte after it): every record before start
// has been handed out. Called from Drain's callback. Consumer only.
func (r *Ring) Current() (start, end uint64) { return r.recStart, r.recEnd }

// Wait parks the consumer until at least one record is available (true), the
// timeout elapses (false), the ring is closed and empty (false), or Kick is
// called (false if nothing is available). A timeout <= 0 waits without
// limit. Consumer only.
func (r *Ring) Wait(timeout time.Duration) bool {
	var timerC <-chan time.Time
	if timeout > 0 {
		r.timer.Reset(timeout)
		defer r.timer.Stop()
		timerC = r.timer.C
	}
	for {
		// Load closed before tail: if closed is seen, every record
		// pushed before Close is visible to the tail load.
		closed := r.closed.Load()
		if r.available() {
			r.kicked.Store(false)
			return true
		}
		if closed || r.kicked.Swap(false) {
			return false
		}
		r.consParked.Store(1)
		if r.closed.Load() || r.available() || r.kicked.Load() {
			r.consParked.Store(0)
			continue
		}
		select {
		case <-r.consWake:
		case <-r.done:
		case <-timerC:
			r.consParked.Store(0)
			return r.available()
		}
		r.consParked.Store(0)
	}
}

// Kick makes the consumer's Wait return now, or its next Wait return at
// once, even with nothing to drain (false, unless records are available):
// the consumer has something else to look at. Safe from any goroutine.
func (r *Ring) Kick() {
	r.kicked.Store(true)
	select {
	case r.consWake <- struct{}{}:
	default:
	}
}

// available reports whether a record is ready to drain. Consumer only.
func (r *Ring) available() bool {
	return r.tail.Load() != r.head.Load()
}

// Close marks the ring closed: later pushes fail with ErrClosed, a blocked
// Push returns ErrClosed and a blocked Wait returns once the ring is empty.
// Records already pushed stay readable through Drain. Close is idempotent and
// safe from any goroutine.
func (r *Ring) Close() {
	if r.closed.CompareAndSwap(false, true) {
		close(r.done)
	}
}

// Closed reports whether Close has been called. Safe from any goroutine.
func (r *Ring) Closed() bool { return r.closed.Load() }

// Len returns the bytes currently in use, headers, padding and skipped bytes
// included. Safe from any goroutine; the value is a snapshot.
func (r *Ring) Len() int {
	head := r.head.Load() // before tail, so that tail >= head
	used := r.tail.Load() - head
	if used > r.size { // head moved on between the two loads
		used = r.size
	}
	return int(used)
}

// Cap returns the ring size in bytes.
func (r *Ring) Cap() int { return int(r.size) }

// HighWater returns the largest Len observed by the producer right after a
// push. Safe from any goroutine.
func (r *Ring) HighWater() int { return int(r.highWater.Load()) }

// MaxRecord returns the largest payload TryPush and Push accept:
// Cap()/4 minus the 8-byte header.
func (r *Ring) MaxRecord() int { return r.maxRec }
