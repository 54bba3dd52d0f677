package writer

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Defaults applied by Open to zero-valued Config fields.
const (
	DefaultBatchBytes      = 1 << 20
	DefaultFlushInterval   = 100 * time.Millisecond
	DefaultFsyncInterval   = time.Second // not applied to a zero FsyncInterval: see Config
	DefaultMaxSegmentBytes = 64 << 20
	maxDefaultWorkers      = 4
)

// Config says where and how a Writer stores records. Every field is
// documented with the value a zero field gets.
type Config struct {
	// Dir holds the segment files. Created with mode 0700 (0750 and
	// chgrp'd to LogGroup when LogGroup > 0) if missing; an existing
	// directory keeps its mode.
	Dir string
	// Compression is "zstd" (default when empty) or "none" (plain text
	// segments named *.log).
	Compression string
	// Level is the zstd level: "fastest" (default when empty), "default"
	// or "better". Ignored for Compression "none".
	Level string
	// BatchBytes is the uncompressed size of one batch, hence of one zstd
	// frame (default 1 MiB). A record that does not fit in the space left
	// seals the batch first; a single record longer than BatchBytes gets a
	// batch of its own whose buffer grows to fit it (one allocation; the
	// buffer keeps its size for reuse).
	BatchBytes int
	// FlushInterval bounds how long a non-empty batch stays open after its
	// first record (default 100ms). Enforced by Tick, so the caller must
	// call Tick at least that often.
	FlushInterval time.Duration
	// FsyncInterval is the group-commit period: the segment is fsynced at
	// most this long after a frame was written to it. ZERO MEANS FSYNC
	// AFTER EVERY FRAME (batching still applies); use DefaultFsyncInterval
	// (1s) for the daemon's default. Negative is invalid.
	FsyncInterval time.Duration
	// MaxSegmentBytes: after a frame makes the segment larger than this
	// many bytes on disk, the segment is fsynced, closed and a new one is
	// started (default 64 MiB).
	MaxSegmentBytes int64
	// Workers is the number of parallel compressors (default
	// min(GOMAXPROCS, 4)). Ignored for Compression "none".
	Workers int
	// LogGroup is the group owning the files, as auditd's log_group:
	// negative for none, 0 (root) also gives mode 0600 (as auditd), a gid
	// > 0 gives mode 0640 with the files chgrp'd to it.
	LogGroup int
	// Node, when not empty, prefixes each line with "node=<Node> " as
	// auditd does with name_format. It must not contain white space, '=',
	// or control characters.
	Node string
}

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	zstd     bool
	level    zstd.EncoderLevel
	poolSize int
}

func (c Config) resolve() (settings, error) {
	s := settings{Config: c}
	if s.Dir == "" {
		return s, fmt.Errorf("%w: Dir is empty", ErrConfig)
	}
	switch s.Compression {
	case "", "zstd":
		s.Compression, s.zstd = "zstd", true
	case "none":
	default:
		return s, fmt.Errorf("%w: Compression %q (want zstd or none)", ErrConfig, s.Compression)
	}
	switch s.Level {
	case "", "fastest":
		s.Level, s.level = "fastest", zstd.SpeedFastest
	case "default":
		s.level = zstd.SpeedDefault
	case "better":
		s.level = zstd.SpeedBetterCompression
	default:
		return s, fmt.Errorf("%w: Level %q (want fastest, default or better)", ErrConfig, s.Level)
	}
	if s.BatchBytes < 0 || s.FlushInterval < 0 || s.FsyncInterval < 0 || s.MaxSegmentBytes < 0 || s.Workers < 0 {
		return s, fmt.Errorf("%w: negative value in BatchBytes=%d FlushInterval=%v FsyncInterval=%v MaxSegmentBytes=%d Workers=%d",
			ErrConfig, s.BatchBytes, s.FlushInterval, s.FsyncInterval, s.MaxSegmentBytes, s.Workers)
	}
	if s.BatchBytes == 0 {
		s.BatchBytes = DefaultBatchBytes
	}
	if s.FlushInterval == 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	if s.MaxSegmentBytes == 0 {
		s.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if s.Workers == 0 {
		s.Workers = min(runtime.GOMAXPROCS(0), maxDefaultWorkers)
	}
	if strings.ContainsFunc(s.Node, func(r rune) bool { return r <= ' ' || r == '=' || r == 0x7f }) {
		return s, fmt.Errorf("%w: Node %q contains white space, '=' or a control character", ErrConfig, s.Node)
	}
	// One batch filling, one per compressor, and as many again queued
	// for the appender (one of them being written).
	s.poolSize = 2*s.Workers + 2
	if !s.zstd {
		s.Workers = 0
		s.poolSize = 4
	}
	return s, nil
}
