// Package writer owns writing the audit log: it formats audit records as
// auditd's log_format = RAW (or ENRICHED) lines, batches them, compresses each batch into
// one zstd frame on a pool of compressor goroutines, and appends the frames
// in order to segment files with group-committed fsyncs under the flush
// policies of auditd.conf, rotates and retires segments, and acts on full
// or failing disks as auditd's *_action settings say. The on-disk format
// itself (names, frames, index trailer), reading segments back and torn-tail
// repair live in package internal/segment. Within this module it is the
// API the daemon uses (Open, Config, Writer); it is not meant for programs
// outside it.
//
// # Line format
//
// Each record is one line, exactly as auditd 3.0.9 writes it with
// log_format = RAW:
//
//	[node=<Node> ]type=<NAME> msg=<payload>\n
//
// NAME comes from go-libaudit's table of message types (auparse), or is
// UNKNOWN[<n>] for a type it does not name. The payload is the kernel's
// text, e.g. "audit(1732564000.123:4567): arch=c000003e syscall=59 ...";
// trailing '\n' and NUL bytes are dropped, the payload ends at the first
// NUL, any other '\n' becomes ' ', and one trailing ' ' is dropped (auditd
// does the same), so a record never spans lines. Lines are not truncated
// (auditd cuts lines near 8.9 KB; the kernel does not send records that
// long).
//
// With Format "enriched" each line is auditd 3.0.9's log_format = ENRICHED
// line instead: the RAW text, then, for records with fields auditd
// interprets, 0x1d and those fields named as this host names them
// (ARCH=x86_64 SYSCALL=execve AUID="alice" ...; package internal/enrich),
// then '\n'. One Enricher does it on the drain goroutine inside Append, so
// names are resolved in record order (an ADD_USER is seen before the
// records that follow it) with no lock and no allocation once its caches
// are warm.
//
// # Files
//
// Dir holds segment files named audit-NNNNNNNNNN.log.zst (or .log with
// Compression "none"), NNNNNNNNNN being a zero-padded decimal sequence
// number. Write order is sequence order. Each Open starts a new segment
// numbered after the highest number present in Dir, counting .broken
// copies, so a number is never reused. Files have mode 0600, or 0640 and
// the group LogGroup when LogGroup > 0; they are created with
// O_EXCL|O_APPEND, the header is fsynced and then the directory.
//
// A zstd segment is a sequence of standard zstd frames: a skippable
// header frame, one data frame per batch (each a whole number of lines, at
// most BatchBytes of text or one longer record, with a content checksum;
// a DAEMON_RESUME notice, see Disk conditions, is a frame of its own), and,
// once the segment is closed (rotation, Close) or repaired by a later Open,
// an index trailer. Package internal/segment documents the format and reads
// it back (`auditdrain cat`); `zstd -dc` prints the log.
//
// A plain segment is the text itself (no index): `ausearch -if FILE` reads
// it.
//
// # Rotation and retention
//
// When a frame makes the segment larger than MaxSegmentBytes,
// MaxLogFileAction applies: rotate (the default) or keep_logs close it
// (index trailer, fsync) and create the next (header, fsync, directory
// fsync); ignore and syslog keep writing to it; suspend stops writing until
// Resume, which rotates. A segment holding records is also rotated when it
// is RotateInterval old, and on Rotate. After a rotation with rotate, the
// oldest segments beyond NumLogs, then beyond MaxTotalBytes, are deleted
// (never the current one). Rotation and deletion run on the appender
// goroutine: they never block Append beyond the usual backpressure.
//
// # Durability
//
// A record is in a batch after Append; the batch is sealed when full, on
// Flush, or by Tick at most FlushInterval after its first record (at the
// next Tick with Flush "data"/"sync"; with "interval", a low rate's small
// batch at most LowRateHold after it); its frame is then written with one
// write(2), and fsynced according to Flush:
//
//   - none: only when the segment is closed;
//   - interval (default): at most FsyncInterval after the write, and at
//     most FlushInterval + FsyncInterval after the frame's first record
//     (at once for a frame held longer at a low rate), on the syncer
//     goroutine (FsyncInterval 0 means data);
//   - incremental: inline on the appender once Freq records were written
//     since the last fsync (and at most FsyncInterval late if > 0);
//   - incremental_async: the same, on the syncer goroutine;
//   - data / sync: fdatasync / fsync as soon as possible after each write,
//     on the syncer goroutine; frames written meanwhile are covered by the
//     next one (group commit); a batch is acknowledged (its buffer reused)
//     only after an fsync covering it completed, so at most the pool's
//     batches are ever unsynced and Append blocks beyond that.
//
// An fsync covers every frame written before it started, never one
// record. Every fsync is timed (Stats.FsyncLatency); at each one the age
// of the oldest record it made durable, from its batch's first Append, is
// observed (Stats.DurabilityWindow). Rotation and Close fsync the segment,
// and the directory after creating or deleting one. So:
//
//   - after Close returns nil, every record counted in Stats.Records is on
//     stable storage;
//   - after a crash, everything up to the last fsync is on disk: records
//     appended within about the durability window before the crash may be
//     lost; frames written but not yet fsynced may or may not survive, and
//     the last one may be torn. After a kill -9 (no machine crash) only
//     what was not yet written is lost: the open batch and those in the
//     pipeline.
//
// # Disk conditions
//
// Errors never stop the Writer nor fail Append. A write failing with
// ENOSPC raises disk_full, any other write, fsync or segment
// creation failure, or the open segment losing its last link (it or Dir
// was removed), raises disk_error; free space (fstatfs, every
// CheckInterval) below SpaceLeft or AdminSpaceLeft raises space_left or
// admin_space_left. Each condition applies its action once per occurrence
// and delivers an Event to Config.Notify: ignore, syslog (the caller logs
// the Event), rotate (delete the oldest segments, keeping MinLogs, until
// free space is back above the threshold; for disk_full the frame is then
// retried once), suspend (drop every batch from now on, counting its
// records), exec (start a program), single/halt (start init with 1/0 and
// suspend; refused unless AllowSystemActions). A frame that fails is cut
// off the segment (truncate) and its records are counted as not written
// (Stats.RecordsNotWritten, by cause). A suspension ends on Resume, or by
// itself for the space conditions when free space is back above the
// threshold (for disk_full: at least max(SpaceLeft, AdminSpaceLeft,
// 4*BatchBytes)). A removed Dir is made again at the next segment.
//
// The log itself says what it is missing: the first frame written after
// records were not written (or after a suspension) is preceded, in the same
// write(2), by one line
//
//	type=DAEMON_RESUME msg=audit(SEC.MS:0): op=resume cause=<cause> records_not_written=N first_serial=A last_serial=B
//
// (type 1206, AUDIT_DAEMON_RESUME; ausearch -m DAEMON_RESUME finds it), A
// and B being the smallest and largest serial among those N records.
// Records + RecordsLost equals the records appended once Close returns.
//
// # Torn tails
//
// Open repairs the highest-numbered segment before starting a new one
// (segment.Repair: the torn tail a crash left is cut off and saved as
// <segment>.broken, and the segment gets the index trailer its writer did
// not write; Writer.LastRepair reports it). Earlier segments were fsynced
// and closed before the next was created, so only the last one can be
// torn.
package writer
