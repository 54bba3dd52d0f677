// Package tally counts what passes through the pipeline, for `auditdrain
// top` and `auditdrain doctor`: records by type and events (SYSCALL and
// URINGOP records, one per event) by rule key, syscall, executable (exe=),
// auid and uid, with their rates over the last 1, 10 and 60 seconds.
//
// [Counter.Count] runs on the drain side for every record drained, before
// the pipeline's filter (what the kernel sent, not what was written). It
// parses the few fields it needs from the record's bytes, does not allocate
// and takes no lock. Sets that are small are counted exactly (record types,
// syscall numbers per arch); unbounded ones (keys, executables, auids,
// uids) in a [topk.Sketch] of fixed size, so memory is bounded whatever the
// traffic.
//
// About once a second the owner calls [Counter.Tick]: it copies the counts
// into a history of per-second frames (the last 61 seconds, plus the loss
// counters once a minute for the last hour) behind a mutex, so [Counter.Top]
// can be called from any goroutine: one lock per second, none per record.
package tally
