// Package ring owns the in-memory hand-off between the netlink reader and the
// writers: a bounded, lock-free, single-producer single-consumer ring of
// variable-length audit records, sized in bytes. It is internal to auditdrain
// (the daemon and its pipeline are its only users), not an API for other programs.
//
// # Concurrency contract
//
// Exactly one goroutine may act as the producer (TryPush, Push) and exactly one
// goroutine as the consumer (Drain, Wait) at any time. Close, Closed, Len, Cap,
// HighWater and MaxRecord may be called from any goroutine. Close is
// idempotent and may be called from a goroutine other than the producer to
// abort a blocked Push.
//
// No mutex is taken on the push or drain path: publishing one record is one
// atomic store of the producer's tail position, and releasing a whole batch of
// drained records is one atomic store of the consumer's head position. Push,
// TryPush, Drain and Wait do not allocate.
//
// # Positions
//
// head (next byte to read) and tail (next byte to write) are monotonically
// increasing uint64 byte positions; the byte offset in the buffer is
// position & (Cap()-1). Bytes in use are tail-head, free bytes are
// Cap()-(tail-head). Each position lives on its own cache line.
//
// # Framing
//
// Every entry starts at an 8-byte aligned offset with an 8-byte header, in
// little-endian order:
//
//	offset 0  uint32  payload length in bytes (0xFFFFFFFF: skip marker)
//	offset 4  uint16  record type (opaque to the ring; the audit message type)
//	offset 6  uint16  reserved, zero
//	offset 8  payload, padded with unspecified bytes to a multiple of 8
//
// Entries are contiguous in the buffer so that Drain can hand the consumer one
// slice without copying. When an entry does not fit between the write offset
// and the end of the buffer, the producer writes a skip marker there (a header
// whose length is 0xFFFFFFFF; it always fits because all offsets are multiples
// of 8) and places the entry at offset 0. The marker and the entry after it are
// published together by the same tail store, so a consumer never sees a
// marker without a following entry. The bytes skipped count as in use until
// the consumer passes them. MaxRecord is Cap()/4 minus the header, so even with
// the worst skip a record always fits into an empty ring.
//
// # Parking
//
// A side that must wait (the producer in Push when the ring is full, the
// consumer in Wait when it is empty) stores 1 in its atomic "parked" flag,
// re-checks the condition, and only then blocks on a 1-buffered wake channel
// (plus the close channel, plus a reused timer for Wait). The other side, after
// its publishing store, loads that flag and, only if it is set, does a
// non-blocking send on the wake channel. Because the Go memory model makes
// atomics sequentially consistent, either the waiter's re-check sees the
// publication or the publisher sees the flag, so no wakeup is lost. A stale
// token in the channel only causes one spurious, re-checked wakeup.
package ring
