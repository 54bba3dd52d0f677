package ratelimit

import (
	"fmt"
	"math"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Config lists the limits. The zero Config limits nothing (but still counts).
type Config struct {
	// Rules limit the events of the keys they name; each key at most once.
	Rules []Rule
	// Default limits every event whose key has no Rule, including events
	// with no key (key=(null), or no SYSCALL record at all). nil means
	// unlimited. Its Key is ignored.
	Default *Rule
}

// KeyStats are the record counts of one bucket since New. Key "" is the
// default bucket.
type KeyStats struct {
	Key                 string
	Allowed, Suppressed uint64
}

// Limiter decides, record by record, whether each audit event is within its
// key's rate (see the package documentation for the rules).
//
// Concurrency: Allow and Flush belong to one goroutine (the drain loop) and
// must not run concurrently with each other; Stats may be called from any
// goroutine at any time. A Limiter needs no Close.
type Limiter struct {
	keys    *record.KeyIndex // rule key -> index in buckets (never 0)
	buckets []*bucket        // [0] is the default bucket "", then Config.Rules in order
	events  []eventSlot      // tableSize recent decisions, by serial mod tableSize

	started bool
	epoch   time.Time // the first now passed to Allow: time 0 of the buckets
	last    int64     // latest clock reading in ns since epoch; never goes back
}

// New validates cfg and returns a Limiter with every bucket full. Errors wrap
// ErrInvalidRule and name the offending rule.
func New(cfg Config) (*Limiter, error) {
	if len(cfg.Rules) > math.MaxUint16-1 {
		return nil, fmt.Errorf("%w: %d rules, at most %d", ErrInvalidRule, len(cfg.Rules), math.MaxUint16-1)
	}
	if cfg.Default != nil {
		if err := cfg.Default.validate(false); err != nil {
			return nil, fmt.Errorf("%w: default %q: %v", ErrInvalidRule, cfg.Default.String(), err)
		}
	}
	byKey := make(map[string]int, len(cfg.Rules))
	keys := make([]string, 0, len(cfg.Rules))
	l := &Limiter{
		buckets: make([]*bucket, 0, 1+len(cfg.Rules)),
		events:  make([]eventSlot, tableSize),
	}
	l.buckets = append(l.buckets, newBucket("", cfg.Default))
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if err := r.validate(true); err != nil {
			return nil, fmt.Errorf("%w %q (rule %d): %v", ErrInvalidRule, r.String(), i+1, err)
		}
		if j, dup := byKey[r.Key]; dup {
			return nil, fmt.Errorf("%w: key %q in rules %d and %d", ErrInvalidRule, r.Key, j, i+1)
		}
		byKey[r.Key] = i + 1
		keys = append(keys, r.Key) // keys[i] gets number i+1: the bucket's index
		l.buckets = append(l.buckets, newBucket(r.Key, r))
	}
	l.keys = record.NewKeyIndex(keys)
	return l, nil
}

// Allow reports whether the record (message type typ, raw kernel payload)
// should be kept, and counts it. now is the time the record is handled; pass
// time.Now(), whose monotonic reading the buckets run on (a reading earlier
// than a previous one counts as the previous one). The payload is only read
// during the call. Allow does not allocate.
func (l *Limiter) Allow(now time.Time, typ uint16, payload []byte) bool {
	_, _, serial, ok := record.Header(payload)
	if !ok {
		return l.buckets[0].count(true)
	}
	s := uint32(serial)
	slot := &l.events[s%tableSize]
	known := slot.state != slotEmpty && slot.serial == s
	keyed := record.CarriesEventKey(typ)
	if known && (slot.state == slotFinal || !keyed) {
		return l.buckets[slot.bucket].count(slot.allow)
	}

	var bi uint16 // the default bucket unless the key has a Rule
	if keyed {
		bi = l.lookup(typ, payload)
	}
	if known && bi == 0 {
		// The event was decided provisionally by the default bucket, and
		// its key turns out to have no Rule: the decision stands.
		slot.state = slotFinal
		return l.buckets[0].count(slot.allow)
	}
	b := l.buckets[bi]
	allow := b.take(l.clock(now))
	if known || slot.state == slotEmpty || newer(s, slot.serial) {
		state := uint8(slotProvisional)
		if keyed {
			state = slotFinal
		}
		*slot = eventSlot{serial: s, bucket: bi, state: state, allow: allow}
	}
	return b.count(allow)
}

// lookup returns the index of the bucket for the key of a SYSCALL or URINGOP
// payload: its Rule's bucket, or 0 (default) when it has none.
func (l *Limiter) lookup(typ uint16, payload []byte) uint16 {
	return uint16(l.keys.Lookup(typ, payload))
}

// clock converts now to nanoseconds since the first call, never decreasing.
func (l *Limiter) clock(now time.Time) int64 {
	if !l.started {
		l.epoch, l.started = now, true
	}
	if t := int64(now.Sub(l.epoch)); t > l.last {
		l.last = t
	}
	return l.last
}

// Flush calls fn for each bucket that suppressed records since the previous
// Flush, with its key ("" for the default bucket) and the number of records
// suppressed, in the order default, then Config.Rules; then it starts a new
// interval. Call it from the goroutine that calls Allow, about once a second.
// Flush does not allocate.
func (l *Limiter) Flush(fn func(key string, suppressed uint64)) {
	for _, b := range l.buckets {
		if n := b.pending; n > 0 {
			b.pending = 0
			fn(b.key, n)
		}
	}
}

// Stats returns the records allowed and suppressed by each bucket since New:
// the default bucket (Key "") first, then Config.Rules in order. It may be
// called from any goroutine; each counter is read atomically, the set is not
// one snapshot.
func (l *Limiter) Stats() []KeyStats {
	out := make([]KeyStats, len(l.buckets))
	for i, b := range l.buckets {
		out[i] = KeyStats{Key: b.key, Allowed: b.allowed.Load(), Suppressed: b.suppressed.Load()}
	}
	return out
}
