package daemon

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// Record types the keep logic looks at.
const typeSyscall = 1300

// overflow is the reader side of backpressure: what happens to a record
// when the ring is full. With overflow_action = block the reader waits in
// Push and the kernel's own backlog absorbs the burst. With drop the reader
// never waits for the ring: above the high-water mark only keep records
// enter (the headroom is theirs), and any other record that does not fit is
// counted and dropped. A keep record is never dropped by the daemon: if the
// ring is completely full it waits for room.
//
// It runs on the reader goroutine only; counters are atomics so status can
// read them.
type overflow struct {
	ring      *ring.Ring
	drop      bool
	highWater int

	keepType [1 << 16]bool
	keepKeys map[string]bool
	// keepSerial remembers, for recent serials, that the event's SYSCALL
	// record carried a keep key, so the event's later records (CWD, PATH,
	// PROCTITLE...) are kept too. Slot = serial % len; value = serial.
	keepSerial [4096]uint64

	dropped   atomic.Uint64
	oversized atomic.Uint64

	mu     sync.Mutex // guards byType and byKey; taken only when a record is dropped
	byType map[uint16]uint64
	byKey  map[string]uint64
}

// newOverflow returns the reader side of backpressure for the ring r:
// overflow_action, high_water (percent of the ring), keep_types (record
// type numbers) and keep_keys, as the config parsed them.
func newOverflow(r *ring.Ring, action config.OverflowAction, highWaterPct int, keepTypes []uint16, keepKeys []string) *overflow {
	o := &overflow{
		ring:      r,
		drop:      action == config.OverflowDrop,
		highWater: int(int64(r.Cap()) * int64(highWaterPct) / 100),
		keepKeys:  map[string]bool{},
		byType:    map[uint16]uint64{},
		byKey:     map[string]uint64{},
	}
	for _, t := range keepTypes {
		o.keepType[t] = true
	}
	for _, k := range keepKeys {
		o.keepKeys[k] = true
	}
	return o
}

// push is the reader's per-record callback.
func (o *overflow) push(typ uint16, p []byte) error {
	if !o.drop {
		err := o.ring.Push(typ, p)
		if errors.Is(err, ring.ErrTooLarge) {
			o.oversized.Add(1)
			return nil
		}
		return err
	}
	if typ == typeSyscall && len(o.keepKeys) > 0 && o.ring.Len() < o.highWater {
		// Remember keep events below the mark too: their later records
		// may arrive after the ring crosses it.
		o.keep(typ, p)
	}
	if o.ring.Len() >= o.highWater {
		if !o.keep(typ, p) {
			o.count(typ, p)
			return nil
		}
		return o.pushKeep(typ, p)
	}
	ok, err := o.ring.TryPush(typ, p)
	switch {
	case errors.Is(err, ring.ErrTooLarge):
		o.oversized.Add(1)
		return nil
	case err != nil:
		return err
	case ok:
		return nil
	}
	if o.keep(typ, p) {
		return o.pushKeep(typ, p)
	}
	o.count(typ, p)
	return nil
}

func (o *overflow) pushKeep(typ uint16, p []byte) error {
	err := o.ring.Push(typ, p)
	if errors.Is(err, ring.ErrTooLarge) {
		o.oversized.Add(1)
		return nil
	}
	return err
}

// keep reports whether the record must not be dropped. It parses the record
// only when the ring is above its high-water mark.
func (o *overflow) keep(typ uint16, p []byte) bool {
	if o.keepType[typ] {
		return true
	}
	if len(o.keepKeys) == 0 {
		return false
	}
	_, _, serial, ok := record.Header(p)
	if !ok {
		return false
	}
	slot := &o.keepSerial[serial%uint64(len(o.keepSerial))]
	if typ == typeSyscall {
		if k, ok := record.Key(p); ok && o.keepKeys[string(k)] {
			*slot = serial
			return true
		}
		return false
	}
	return *slot == serial
}

// count records one dropped record by type and, for a keyed SYSCALL, its
// event by key.
func (o *overflow) count(typ uint16, p []byte) {
	o.dropped.Add(1)
	o.mu.Lock()
	o.byType[typ]++
	if typ == typeSyscall {
		if k, ok := record.Key(p); ok {
			o.byKey[string(k)]++
		}
	}
	o.mu.Unlock()
}

// dropSummary returns the dropped counts by type name and by key.
func (o *overflow) dropSummary() (byType, byKey map[string]uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	byType = make(map[string]uint64, len(o.byType))
	for t, n := range o.byType {
		byType[auparse.AuditMessageType(t).String()] = n
	}
	byKey = make(map[string]uint64, len(o.byKey))
	for k, n := range o.byKey {
		byKey[k] = n
	}
	return byType, byKey
}
