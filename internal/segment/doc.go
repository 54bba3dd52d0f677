// Package segment owns auditdrain's on-disk log format: segment file
// names, the zstd frames of a segment and the hand-written walker that
// splits them, the index trailer, reading segments back (Reader: Cat,
// CatFiltered, Follow; Select, ReadIndex, ScanIndex) and repairing a torn
// tail (Repair).
// The writer package writes segments with it; `auditdrain cat` and the
// daemon's restart logic read them with it. It is internal: not an API
// for programs outside this module (the format itself, below, is the
// stable interface: standard zstd and auditd RAW lines).
//
// # Files
//
// A log directory holds segment files named audit-NNNNNNNNNN.log.zst (or
// audit-NNNNNNNNNN.log for plain text), NNNNNNNNNN being a zero-padded
// decimal sequence number; write order is sequence order (List, ScanDir).
// A new segment is numbered after the highest number present, counting
// .broken copies, so a number is never reused.
//
// # A zstd segment
//
// A zstd segment is a sequence of standard zstd frames (RFC 8878), so that
// `zstd -dc audit-*.log.zst` prints the log and `zstd -t` accepts it:
//
//   - first, a skippable frame (magic 0x184D2A50) holding the text
//     "auditdrain segment v1\n", which decoders ignore; it keeps a segment
//     without records a valid zstd file (Create writes it);
//   - then one data frame per batch of whole lines, in write order, each
//     with its content size and a content checksum;
//   - last, when the segment was closed cleanly or repaired, the index
//     trailer: a skippable frame with magic 0x184D2A51 and a 108-byte
//     payload (layout in index.go): "ADIX", version 1, the record count,
//     the count of records with an audit(SECONDS.MILLIS:SERIAL) header
//     and, over those, the first, last, smallest and largest serial and
//     timestamp, the data frame count, the segment's size before the
//     trailer, and a CRC-32C of the payload (Tally.AppendTrailer writes
//     it). ReadIndex reads it with one read of the last 116 bytes;
//     CatFiltered uses it to skip segments without decompressing them. A
//     segment without it is scanned instead (ScanIndex).
//
// Lines are auditd's log_format = RAW lines, never empty; their header is
// parsed with package record's grammar (record.LineHeader, by the writer
// for the trailer and by ScanIndex and the filters alike). A plain segment
// is the text itself, without index. Whether a file is a zstd segment is
// decided by its name (IsZstd) everywhere.
//
// # Bounds
//
// A data frame may need a window of at most MaxWindow (16 MiB; the
// writer's encoder uses 4 or 8 MiB) and decode to at most MaxFrameText
// (128 MiB; batch_size is at most 64 MiB). The frame walker checks both
// from the frame and block headers, before anything is decompressed, and
// treats a frame beyond them as damage: a decompression bomb costs no more
// than a real frame in Cat, ScanIndex and Repair, hence in the daemon's
// start, which repairs the last segment.
//
// # Reading
//
// The Reader prints a data frame's lines only once the whole frame is
// decoded and verified: its content checksum, its declared size, whole
// non-empty lines. A region that does not parse or verify is skipped, to
// the next zstd or skippable frame magic where a frame verifies, with a
// warning (Skip: segment and byte offset) and a *SkipError (ErrSkipped) at
// the end; the other frames and segments are printed. The last segment
// may be the one a daemon is writing: a frame cut at its end with nothing
// valid after it is where the log ends for now. A cut index trailer holds
// no records and is no damage; a damaged or missing trailer makes a
// filtered read scan the segment. Follow keeps reading the newest segment
// as it grows, and the next ones.
//
// # Torn tails and their repair
//
// Frames are appended with one write(2) each and fsynced later, so a
// crash can leave the last segment with a torn tail: a frame cut short,
// garbage, or zeros. Repair keeps the longest prefix of whole frames
// whose frame and block headers parse (the frame walker: magic, frame
// header descriptor, block headers and sizes, without decompressing)
// and whose data verifies as the Reader verifies it (within the bounds
// above, so that zstd -t accepts what is kept); skippable frames are kept
// as they are. It copies the rest to <segment>.broken, truncates the
// segment there (a zstd segment with no valid frame, or an empty file, is
// removed: zstd -t rejects an empty file) and fsyncs both, then appends
// the index trailer the crashed writer did not write. A plain segment is
// cut after its last newline before any NUL byte. Only the last segment of a directory can be
// torn: earlier ones were fsynced and closed before the next was created.
package segment
