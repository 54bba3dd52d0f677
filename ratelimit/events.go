package ratelimit

// tableSize is the number of recent events whose decision is remembered. An
// event's records are normally consecutive, and records of events from other
// CPUs interleave by a few events, so 4096 serials is a wide margin; the table
// costs 32 KiB.
const tableSize = 4096

// Slot states.
const (
	slotEmpty       = iota
	slotProvisional // decided by the default bucket before the keyed record was seen
	slotFinal       // decided by the event's SYSCALL/URINGOP record
)

// eventSlot is the decision for one serial. The table is direct mapped
// (serial mod tableSize): kernel serials grow by one per event, so a slot is
// reused only by an event tableSize serials newer.
type eventSlot struct {
	serial uint32 // the kernel's serial is an unsigned int; compared modulo 2^32
	bucket uint16 // index in Limiter.buckets of the bucket that decided
	state  uint8
	allow  bool
}

// newer reports whether serial a comes after serial b, modulo 2^32 wrap.
func newer(a, b uint32) bool { return int32(a-b) > 0 }
