// Package ratelimit owns per-rule-key rate limiting of audit events on the
// drain path: a token bucket for each rule key an operator marks as noisy, and
// an optional default bucket for every other event. It decides; the caller
// drops, and writes the per-key summaries ("key=... suppressed=N") that
// [Limiter.Flush] hands it.
//
// # Events, not records
//
// A token is one event: all records that share a serial. Rule.Rate is in
// events per second and Rule.Burst in events; the counts reported by Flush and
// Stats are in records. An event of SYSCALL, PATH and PROCTITLE costs one
// token, and when it is suppressed all three records are counted.
//
// The event's key is read from its SYSCALL (1300) or URINGOP (1336) record,
// the records in which the kernel logs the key of the rule that matched
// (key=(null) when that rule has none). Other records that contain key=, such
// as CONFIG_CHANGE, name the rule being added or removed, not a rule that
// matched, and do not choose a bucket. With several keys on one rule (logged
// hex-encoded, joined by 0x01) the first of them that has a Rule chooses.
// An event whose key has no Rule, or that has no key, uses Config.Default;
// with no Default it is always allowed.
//
// The first record of an event decides for the whole event, with one
// exception. Each decision is kept in a table of 4096 recent serials (direct
// mapped, serial mod 4096, allocated once by New), so the other records of the
// event follow it whether they arrive before or after, or interleaved with
// other events' records:
//
//   - SYSCALL/URINGOP first (the usual case): it takes a token from its key's
//     bucket; every other record of the event follows.
//   - another record first (CONFIG_CHANGE, AVC, SOCKADDR... are emitted during
//     the system call, before the SYSCALL record at its exit; events without a
//     SYSCALL record, like USER_LOGIN, have only such records): it takes a
//     token from the default bucket (allowed when Default is nil) and the
//     decision is provisional. When the event's SYSCALL record arrives and its
//     key has a Rule, that bucket decides for the SYSCALL record and every
//     later record of the event; the records before it keep the default's
//     decision, and the default's token is spent. When its key has no Rule,
//     the provisional decision stands and no second token is taken.
//   - a record whose slot was reused by an event 4096 serials newer (a very
//     late record) is decided on its own, as the first record of its event
//     would be, and leaves the newer event's slot alone.
//   - a record with no parsable "audit(SEC.MS:SERIAL):" header is allowed.
//
// Keeping the early records of an event while suppressing the rest errs
// toward keeping records; the SYSCALL record of a limited key is always
// decided by that key's bucket.
//
// # Counting
//
// Every record passed to Allow is counted once, as allowed or suppressed, on
// the bucket whose decision it followed ("" is the default bucket, which also
// counts records without a header), so the Allowed and Suppressed totals of
// Stats add up to the number of Allow calls.
//
// # Concurrency and cost
//
// A Limiter belongs to one goroutine, the drain loop: Allow and Flush must not
// be called concurrently. Stats may be called from any goroutine; it reads
// atomic counters. Allow takes no lock and does not allocate: it parses the
// header, indexes the serial table, and for a SYSCALL record finds the key from
// the end of the payload and looks it up in a map without converting it to a
// string. Buckets are integer GCRA (virtual scheduling): exact and
// deterministic for a given sequence of times, which is what lets the tests
// assert exact counts.
//
// API: New, Config, Rule, ParseRule and Limiter are used by the config and
// the per-record pipeline; they carry no stability promise to programs
// outside this module.
package ratelimit
