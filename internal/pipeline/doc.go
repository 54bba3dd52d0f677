// Package pipeline owns the per-record policy of auditdrain: everything that
// happens to one kernel audit record between the reader and the writer.
//
// On the reader goroutine, [Pipeline.Push] puts each record into the ring
// under the overflow policy: with [Block] the reader waits for room (the
// kernel's backlog absorbs a burst); with [Drop] only keep records (by type,
// or events whose rule key is a keep key, through [record.KeyIndex]) enter
// above the high-water mark, and any other record that does not fit is
// counted by type and key and dropped.
//
// On the drain goroutine, [Pipeline.Filter] decides whether each record
// drained from the ring is written: it notices the serials a restart left
// unseen (one op=restart record), tracks serial gaps (with the kernel's
// 32-bit serial wrap), applies the per-key rate limit (a
// [ratelimit.Limiter]) and drops EOE records unless write_eoe is set.
//
// It also owns the loss causes ([Cause], one name table), loss snapshots
// ([Losses]), kernel counter deltas ([CounterDelta]) and the text of the
// records auditdrain writes about loss (op=lost, op=ratelimit, op=restart).
// Where the counters come from (reader, kernel poll, writer) and where the
// records go is the daemon's wiring (internal/daemon).
//
// Nothing on the per-record path allocates or takes a lock, except that a
// dropped record takes a mutex to count it by type and key.
package pipeline
