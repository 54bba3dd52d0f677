// Package segment owns auditdrain's on-disk log format: segment file
// names, the zstd frames of a segment and the hand-written walker that
// splits them, the index trailer, reading segments back (Cat,
// CatFiltered, ReadIndex, ScanIndex) and repairing a torn tail (Repair).
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
// Lines are auditd's log_format = RAW lines; their header is parsed with
// package record's grammar (record.LineHeader). A plain segment is the
// text itself, without index.
//
// # Torn tails and their repair
//
// Frames are appended with one write(2) each and fsynced later, so a
// crash can leave the last segment with a torn tail: a frame cut short,
// garbage, or zeros. Repair keeps the longest prefix of whole frames
// whose frame and block headers parse (the frame walker: magic, frame
// header descriptor, block headers and sizes, without decompressing)
// and whose data decodes with a valid content checksum and ends with a
// newline; skippable frames are kept as they are. It copies the rest to
// <segment>.broken, truncates the segment there (a zstd segment with no
// valid frame is removed) and fsyncs both, then appends the index trailer
// the crashed writer did not write. A plain segment is cut after its last
// newline before any NUL byte. Only the last segment of a directory can be
// torn: earlier ones were fsynced and closed before the next was created.
package segment
