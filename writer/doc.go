// Package writer owns the audit log on disk: it formats audit records as
// auditd's log_format = RAW lines, batches them, compresses each batch into
// one zstd frame on a pool of compressor goroutines, and appends the frames
// in order to segment files with group-committed fsyncs. It also reads the
// segments back (Segments, Cat) and repairs a torn tail (Repair).
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
// # Files
//
// Dir holds segment files named audit-NNNNNNNNNN.log.zst (or .log with
// Compression "none"), NNNNNNNNNN being a zero-padded decimal sequence
// number. Write order is sequence order. Each Open starts a new segment
// numbered after the highest number present in Dir, counting .broken
// copies, so a number is never reused. A segment is rotated when it grows
// past MaxSegmentBytes, or on Rotate. Files have mode 0600, or 0640 and the
// group LogGroup when LogGroup > 0; they are created with O_EXCL|O_APPEND
// and the directory is fsynced after each creation.
//
// A zstd segment is a sequence of standard zstd frames (RFC 8878), so that
// `zstd -dc audit-*.log.zst` prints the log:
//
//   - first, a skippable frame (magic 0x184D2A50) holding the text
//     "auditdrain segment v1\n", which decoders ignore; it keeps a segment
//     without records a valid zstd file;
//   - then one frame per batch, in seal order, each with the content size
//     and a content checksum, each holding a whole number of lines (at most
//     BatchBytes of text, or one longer record).
//
// A plain segment is the text itself: `ausearch -if FILE` reads it.
//
// # Durability
//
// A record is in a batch after Append; the batch is sealed when full, on
// Flush, or by Tick at most FlushInterval after its first record; its frame
// is then written with one write(2) and fsynced at most FsyncInterval later
// (after every frame when FsyncInterval is 0). Rotation and Close fsync the
// segment, and the directory after creating or closing one. So:
//
//   - after Close returns nil, every appended record is on stable storage;
//   - after a crash, everything up to the last fsync is on disk: records
//     appended within about FlushInterval + FsyncInterval (plus compression
//     and write time) before the crash may be lost; frames written but not
//     yet fsynced may or may not survive, and the last one may be torn.
//
// A write, fsync or rotation failure is sticky (Writer.Err): the partial
// frame is cut off (best effort), nothing more is written, later records
// are counted as lost, and Append and Close return the error, which names
// the file.
//
// # Torn tails
//
// Open runs Repair on the highest-numbered segment before starting a new
// one. Repair keeps the longest prefix of whole frames that parse (frame and
// block headers) and decode with a valid checksum, copies the rest to
// <segment>.broken, and truncates the segment there (a zstd segment left
// with no valid frame is removed); both are fsynced. A plain segment is cut
// after its last newline before any NUL byte. Earlier segments were fsynced
// and closed before the next was created, so only the last one can be torn.
package writer
