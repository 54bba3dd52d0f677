// Package forward sends auditdrain's on-disk log to NATS JetStream and
// collects it back on a central host (issue 13).
//
// The Forwarder tails the segments of a log directory (the closed ones
// and the one the writer is appending to) with a segment.FrameScanner:
// it reads from disk, independently of the writer, so a slow or
// unreachable server never stalls the drain. Each data frame is published
// as one message: the zstd frame as on disk, with headers for the host,
// boot id, segment, frame offset, serial range and record count. A batch
// of frames is published asynchronously and waited for as a whole; only
// once the server has acknowledged every message of the batch is the
// cursor (segment, offset after the last frame, last serial) written:
// to a temporary file, fsynced, renamed over the cursor file, directory
// fsynced. A crash or restart resumes from the cursor, so nothing the log
// still holds is skipped; what was published but not yet in the cursor is
// published again with the same message id (Nats-Msg-Id, from host, boot
// id, segment and frame offset) and the stream's duplicate window drops
// the copy. Segments the writer's retention deletes before they were sent
// are counted (Lost, the loss cause "forward").
//
// The Collector is a durable JetStream pull consumer (several collectors
// with the same durable name share the work) that writes each host's
// frames into DIR/<host>/ as segments with the source's numbers, so that
// `auditdrain cat DIR/<host>` reads them. A frame is written, fdatasynced
// and recorded in the host's state file before its message is
// acknowledged; a frame at or before the recorded position is a duplicate
// and is only acknowledged.
//
// The transport is behind Sink (publish a batch, acknowledged as a
// whole) so that another one (Kafka) can follow.
package forward
