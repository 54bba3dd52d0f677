package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// OverflowAction is what Push does with a record when the ring is full.
type OverflowAction uint8

const (
	// Block waits in the ring's Push for room: nothing is dropped by
	// auditdrain, and the kernel's backlog absorbs the burst.
	Block OverflowAction = iota
	// Drop never waits for the ring: above the high-water mark only keep
	// records enter, and any other record that does not fit is counted
	// and dropped.
	Drop
)

// String returns the action's name in the config file (block, drop).
func (a OverflowAction) String() string {
	switch a {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("OverflowAction(%d)", uint8(a))
}

// Options are the per-record policy's settings.
type Options struct {
	// WriteEOE also writes the kernel's EOE (end of event) records, which
	// auditd does not write: they carry nothing but the event's serial.
	WriteEOE bool
	// Overflow is what happens to a record when the ring is full.
	Overflow OverflowAction
	// HighWaterPct is the percentage of the ring above which only keep
	// records enter (Drop only; 1..100).
	HighWaterPct int
	// KeepTypes are record types never dropped by auditdrain (Drop only).
	KeepTypes []uint16
	// KeepKeys are rule keys whose events are never dropped by auditdrain
	// (Drop only): an event is kept when its SYSCALL or URINGOP record
	// names one of them (as record.KeyIndex matches keys, including each
	// key of a multi-key rule), and so are the event's later records.
	KeepKeys []string
	// Limiter, if not nil, rate-limits events per rule key. The pipeline
	// calls its Allow and Flush on the drain goroutine.
	Limiter *ratelimit.Limiter
	// PrevSerial is the highest serial the previous run wrote (0: none).
	// When the first record drained has a serial beyond PrevSerial+1, an
	// op=restart record for the serials no one saw goes to Emit before it.
	PrevSerial uint64
	// Replayed is the number of records handed out first that a previous
	// process had read (an adopted ring): the op=restart check applies to
	// the first record after them, against the highest serial among them
	// (or PrevSerial, if higher).
	Replayed int
	// Emit receives the records the pipeline writes itself (op=restart,
	// op=ratelimit), on the drain goroutine; the payload is only valid
	// during the call. nil discards them.
	Emit func(typ uint16, payload []byte)
	// Now is the clock of the rate limiter and of the records' stamps;
	// nil means time.Now.
	Now func() time.Time
}

// Pipeline is the per-record policy between one reader and one drain loop.
// Push belongs to the reader goroutine; Filter and FlushRateLimits to the
// drain goroutine; Stats, DropSummary and RateLimitedByKey may be called
// from any goroutine.
type Pipeline struct {
	ring *ring.Ring

	// Reader goroutine.
	drop       bool
	highWater  int // bytes
	keepType   [1 << 16]bool
	keepKeys   *record.KeyIndex // nil when there are no keep keys
	keepSerial serialTable      // serials of events whose keyed record named a keep key
	dropped    atomic.Uint64
	oversized  atomic.Uint64
	mu         sync.Mutex // guards byType and byKey; taken only when a record is dropped
	byType     map[uint16]uint64
	byKey      map[string]*uint64 // a pointer, so counting a known key does not allocate

	// Drain goroutine.
	writeEOE   bool
	limiter    *ratelimit.Limiter
	prevSerial uint64
	replayed   int // records of a previous process still to come (Options.Replayed)
	gaps       gapTracker
	eoe        atomic.Uint64 // EOE records not written
	emit       func(typ uint16, payload []byte)
	now        func() time.Time
	buf        []byte                     // the records the pipeline writes itself
	flushMilli int64                      // the stamp of the op=ratelimit records being flushed
	flushFn    func(key string, n uint64) // rateLimitRecord, bound once
}

// New returns the policy for records pushed into r. It checks the options
// (Overflow, HighWaterPct for Drop) and returns an error naming the bad one.
func New(r *ring.Ring, o Options) (*Pipeline, error) {
	if r == nil {
		return nil, errors.New("pipeline: no ring")
	}
	if o.Overflow != Block && o.Overflow != Drop {
		return nil, fmt.Errorf("pipeline: unknown overflow action %d", o.Overflow)
	}
	if o.Overflow == Drop && (o.HighWaterPct < 1 || o.HighWaterPct > 100) {
		return nil, fmt.Errorf("pipeline: high water %d%% is not in 1..100", o.HighWaterPct)
	}
	p := &Pipeline{
		ring:       r,
		drop:       o.Overflow == Drop,
		highWater:  int(int64(r.Cap()) * int64(o.HighWaterPct) / 100),
		byType:     map[uint16]uint64{},
		byKey:      map[string]*uint64{},
		writeEOE:   o.WriteEOE,
		limiter:    o.Limiter,
		prevSerial: o.PrevSerial,
		replayed:   o.Replayed,
		emit:       o.Emit,
		now:        o.Now,
	}
	for _, t := range o.KeepTypes {
		p.keepType[t] = true
	}
	if len(o.KeepKeys) > 0 {
		p.keepKeys = record.NewKeyIndex(o.KeepKeys)
	}
	if p.emit == nil {
		p.emit = func(uint16, []byte) {}
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.flushFn = p.rateLimitRecord
	return p, nil
}

// Push is the reader's per-record callback: it puts the record into the
// ring under the overflow policy. It returns the ring's error when the ring
// is closed; a record too large for the ring is counted (oversized), not an
// error. With Block it waits for room; with Drop it waits only for a keep
// record when the ring is completely full.
func (p *Pipeline) Push(typ uint16, payload []byte) error {
	if !p.drop {
		return p.push(typ, payload)
	}
	if p.keepKeys != nil && record.CarriesEventKey(typ) && p.ring.Len() < p.highWater {
		// Remember keep events below the mark too: their later records
		// may arrive after the ring crosses it.
		p.keep(typ, payload)
	}
	if p.ring.Len() >= p.highWater {
		if !p.keep(typ, payload) {
			p.count(typ, payload)
			return nil
		}
		return p.push(typ, payload)
	}
	ok, err := p.ring.TryPush(typ, payload)
	switch {
	case errors.Is(err, ring.ErrTooLarge):
		p.oversized.Add(1)
		return nil
	case err != nil:
		return err
	case ok:
		return nil
	}
	if p.keep(typ, payload) {
		return p.push(typ, payload)
	}
	p.count(typ, payload)
	return nil
}

// push waits in the ring's Push for room.
func (p *Pipeline) push(typ uint16, payload []byte) error {
	err := p.ring.Push(typ, payload)
	if errors.Is(err, ring.ErrTooLarge) {
		p.oversized.Add(1)
		return nil
	}
	return err
}

// keep reports whether the record must not be dropped: its type is a keep
// type, or it is the keyed record of an event with a keep key (whose serial
// it then remembers), or a later record of such an event. It parses the
// record only when there are keep keys.
func (p *Pipeline) keep(typ uint16, payload []byte) bool {
	if p.keepType[typ] {
		return true
	}
	if p.keepKeys == nil {
		return false
	}
	_, _, serial, ok := record.Header(payload)
	if !ok {
		return false
	}
	if record.CarriesEventKey(typ) {
		if p.keepKeys.Lookup(typ, payload) != 0 {
			p.keepSerial.add(serial)
			return true
		}
		return false
	}
	return p.keepSerial.has(serial)
}

// count records one dropped record by type and, for a keyed record, its
// event by key (as logged: a multi-key rule's key is its hex).
func (p *Pipeline) count(typ uint16, payload []byte) {
	p.dropped.Add(1)
	p.mu.Lock()
	p.byType[typ]++
	if record.CarriesEventKey(typ) {
		if k, ok := record.Key(payload); ok {
			n := p.byKey[string(k)]
			if n == nil {
				n = new(uint64)
				p.byKey[string(k)] = n
			}
			*n++
		}
	}
	p.mu.Unlock()
}

// Filter is the drain loop's per-record decision: it reports whether the
// record goes to the writer. On the way it notices a restart's unseen
// serials (emitting one op=restart record before this one), tracks serial
// gaps, applies the rate limit and leaves out EOE records unless WriteEOE.
func (p *Pipeline) Filter(typ uint16, payload []byte) bool {
	if _, _, serial, ok := record.Header(payload); ok && serial != 0 {
		switch {
		case p.replayed > 0:
			// A previous process's record: the check waits for the
			// first record read after them.
			p.prevSerial = max(p.prevSerial, serial)
		case p.prevSerial != 0:
			p.restart(serial)
		}
		p.gaps.observe(serial)
	}
	if p.replayed > 0 {
		p.replayed--
	}
	if p.limiter != nil && !p.limiter.Allow(p.now(), typ, payload) {
		return false
	}
	if typ == record.TypeEOE && !p.writeEOE {
		// auditd writes no EOE records either: they carry nothing but the
		// event's serial, which its other records already hold.
		p.eoe.Add(1)
		return false
	}
	return true
}

// restart runs for the first kernel record after a restart: when the
// kernel's serial moved on while no daemon was reading, it emits one
// op=restart record with the range of serials no one saw (a heuristic, as
// all serial gaps: serials of events no rule selected are not used, but
// those of records lost are).
func (p *Pipeline) restart(serial uint64) {
	prev := p.prevSerial
	p.prevSerial = 0
	if serial <= prev+1 {
		return // nothing unseen (or the kernel restarted its count)
	}
	p.buf = AppendRestartRecord(p.buf[:0], p.now().UnixMilli(), prev, serial)
	p.emit(record.TypeDaemonErr, p.buf)
}

// FlushRateLimits emits one op=ratelimit record, stamped now, for each rate
// limit key that suppressed records since the previous flush. Call it from
// the drain goroutine about once a second.
func (p *Pipeline) FlushRateLimits(now time.Time) {
	if p.limiter == nil {
		return
	}
	p.flushMilli = now.UnixMilli()
	p.limiter.Flush(p.flushFn)
}

func (p *Pipeline) rateLimitRecord(key string, suppressed uint64) {
	p.buf = AppendRateLimitRecord(p.buf[:0], p.flushMilli, key, suppressed)
	p.emit(record.TypeDaemonErr, p.buf)
}

// Stats are the pipeline's counters since New.
type Stats struct {
	Dropped     uint64 // records dropped by the overflow policy (CauseDropped)
	Oversized   uint64 // records larger than the ring can hold (CauseOversized)
	RateLimited uint64 // records suppressed by the rate limit (CauseRateLimited)
	Gaps        uint64 // serials judged missing (CauseGap)
	LateSerials uint64 // records whose serial was judged already
	EOESkipped  uint64 // EOE records not written (WriteEOE false)
}

// Stats returns the counters. Each is read atomically; the set is not one
// snapshot.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Dropped:     p.dropped.Load(),
		Oversized:   p.oversized.Load(),
		Gaps:        p.gaps.gaps.Load(),
		LateSerials: p.gaps.late.Load(),
		EOESkipped:  p.eoe.Load(),
	}
	if p.limiter != nil {
		for _, k := range p.limiter.Stats() {
			s.RateLimited += k.Suppressed
		}
	}
	return s
}

// DropSummary returns the records the overflow policy dropped by type name,
// and the events it dropped by key (counted at their SYSCALL or URINGOP
// record, the key as logged).
func (p *Pipeline) DropSummary() (byType, byKey map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byType = make(map[string]uint64, len(p.byType))
	for t, n := range p.byType {
		byType[record.TypeName(t)] = n
	}
	byKey = make(map[string]uint64, len(p.byKey))
	for k, n := range p.byKey {
		byKey[k] = *n
	}
	return byType, byKey
}

// RateLimitedByKey returns the records suppressed since New by each rate
// limit key that suppressed any ("" is the default bucket), or nil without
// a Limiter.
func (p *Pipeline) RateLimitedByKey() map[string]uint64 {
	if p.limiter == nil {
		return nil
	}
	m := map[string]uint64{}
	for _, k := range p.limiter.Stats() {
		if k.Suppressed > 0 {
			m[k.Key] = k.Suppressed
		}
	}
	return m
}
