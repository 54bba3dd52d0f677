package writer

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/auditdrain/auditdrain/internal/enrich"
)

// Defaults applied by Open to zero-valued Config fields.
const (
	DefaultBatchBytes    = 1 << 20
	DefaultFlushInterval = 100 * time.Millisecond
	// MinFrameBytes: with Flush "interval", a batch smaller than this
	// after another one (a low rate) is kept open past FlushInterval, up
	// to LowRateHold (see Writer.Tick): at everyday rates a 100 ms frame
	// holds a dozen records, and zstd compresses a frame on its own (a
	// 4 KiB frame of audit records to about a sixth, a 64 KiB one to about
	// a twentieth).
	MinFrameBytes = 64 << 10
	// MaxLowRateHold is the largest LowRateHold accepted.
	MaxLowRateHold         = 10 * time.Second
	DefaultMaxSegmentBytes = 64 << 20
	DefaultFreq            = 50 // auditd's freq in its shipped auditd.conf
	DefaultMinLogs         = 2
	DefaultCheckInterval   = time.Second
	maxDefaultWorkers      = 4
	defaultInit            = "/sbin/init"
)

// Line formats (Config.Format), as auditd.conf's log_format.
const (
	FormatRaw      = "raw"
	FormatEnriched = "enriched"
)

// Flush modes (Config.Flush), as auditd.conf's flush.
const (
	FlushNone             = "none"
	FlushInterval         = "interval"
	FlushIncremental      = "incremental"
	FlushIncrementalAsync = "incremental_async"
	FlushData             = "data"
	FlushSync             = "sync"
)

type flushMode uint8

const (
	flushNone flushMode = iota
	flushInterval
	flushIncremental
	flushIncrementalAsync
	flushData
	flushSync
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
	// first record (default 100ms), except at low rates (LowRateHold).
	// Enforced by Tick, so the caller must call Tick at least that often,
	// or when SealDue says.
	FlushInterval time.Duration
	// LowRateHold: with Flush "interval", a batch smaller than
	// MinFrameBytes after a batch that was also smaller (the rate is low,
	// not a burst ending) stays open this long after its first record
	// instead of FlushInterval, for a frame that compresses several times
	// better (zero, or FlushInterval or less: no hold; at most
	// MaxLowRateHold; the daemon's default is 2s). Such a frame is fsynced
	// at most FlushInterval + FsyncInterval after its first record, or at
	// once when written if it was held longer: at low rates a record is
	// durable at most max(LowRateHold, FlushInterval + FsyncInterval)
	// after it was appended.
	LowRateHold time.Duration
	// Flush is when written frames are made durable (auditd's flush):
	//
	//   - "none": never, except when a segment is closed (rotation, Close);
	//   - "interval" (default when empty): fdatasync at most FsyncInterval
	//     after a frame is written, on the syncer goroutine (writes go on);
	//     FsyncInterval 0 means "data";
	//   - "incremental": fdatasync on the appender goroutine (writing
	//     pauses) once Freq records have been written since the last one;
	//   - "incremental_async": the same, on the syncer goroutine;
	//   - "data": fdatasync as soon as a frame is written, and a batch is
	//     acknowledged (its buffer reused, hence Append unblocked when the
	//     pool is empty) only once an fdatasync covering its frame has
	//     completed; frames written while one runs are covered by the next
	//     (group commit). Tick seals any open batch, ignoring
	//     FlushInterval;
	//   - "sync": as "data" with fsync (metadata too).
	//
	// In the incremental modes a positive FsyncInterval also bounds how
	// long written records stay unsynced. Every fsync covers every frame
	// written before it started: never one per record.
	Flush string
	// Freq is the number of records between fsyncs in the incremental
	// modes (default 50, as auditd).
	Freq int
	// FsyncInterval is the group-commit period of Flush "interval": the
	// segment is fsynced at most this long after a frame was written to
	// it. ZERO MEANS FLUSH "data" (no default is applied: the daemon's
	// configuration passes its own, 1s). Negative is invalid.
	FsyncInterval time.Duration
	// MaxSegmentBytes: when a frame makes the segment larger than this
	// many bytes on disk, MaxLogFileAction applies (default 64 MiB).
	MaxSegmentBytes int64
	// MaxLogFileAction is what happens when a segment exceeds
	// MaxSegmentBytes (auditd's max_log_file_action): ActionRotate
	// (default: close it, start the next, then delete the oldest segments
	// beyond NumLogs and MaxTotalBytes), ActionKeepLogs (rotate, delete
	// nothing), ActionIgnore (keep writing to it), ActionSyslog (report it
	// once, keep writing), ActionSuspend (stop writing until Resume, which
	// rotates first).
	MaxLogFileAction Action
	// RotateInterval also rotates a segment that holds records once it
	// is this old (0: never by age). Retention applies as for size.
	RotateInterval time.Duration
	// NumLogs is the number of segments kept, the current one included,
	// when MaxLogFileAction is ActionRotate (0: no limit).
	NumLogs int
	// MaxTotalBytes caps the size of all segments together when
	// MaxLogFileAction is ActionRotate: after a rotation the oldest are
	// deleted until the rest fit (0: no cap). The current segment is never
	// deleted.
	MaxTotalBytes int64
	// MinLogs is the retention floor of the disk-space ActionRotate: it
	// never deletes the newest MinLogs segments, the current one included
	// (default 2).
	MinLogs int

	// SpaceLeft and AdminSpaceLeft are free-space thresholds (zero: no
	// check) checked every CheckInterval with fstatfs (space available to
	// unprivileged users, as auditd). When free space falls below one,
	// its action runs once; it runs again only after free space has been
	// above the threshold. A suspension they cause ends by itself when
	// free space is above the threshold again, or on Resume.
	SpaceLeft            Threshold
	SpaceLeftAction      Action // default ActionSyslog; any kind but ActionKeepLogs
	AdminSpaceLeft       Threshold
	AdminSpaceLeftAction Action // default ActionSuspend; any kind but ActionKeepLogs
	// DiskFullAction applies when a write fails with ENOSPC (default
	// ActionSuspend; any kind but ActionKeepLogs). With
	// ActionRotate the frame is retried once after deleting segments. A
	// disk-full suspension ends by itself once free space is at least
	// max(SpaceLeft, AdminSpaceLeft, 4*BatchBytes), or on Resume.
	DiskFullAction Action
	// DiskErrorAction applies when any other write, fsync or segment
	// creation fails, or the open segment was removed (default
	// ActionSyslog; ActionIgnore, ActionSyslog, ActionSuspend, ActionExec,
	// ActionSingle or ActionHalt). A disk-error suspension ends on Resume.
	DiskErrorAction Action
	// AllowSystemActions permits ActionSingle and ActionHalt; without it
	// Open refuses them.
	AllowSystemActions bool
	// CheckInterval is the period of the appender's checks: free space,
	// the open segment's link count, RotateInterval (default 1s).
	CheckInterval time.Duration
	// Notify, when not nil, receives every Event. It is called on the
	// appender goroutine: it must return quickly and must not call
	// Append, Tick, Flush, Rotate or Close. Actions "syslog" expect it to log
	// the event to syslog.
	Notify func(Event)
	// BeforeDelete, when not nil, is called with a segment's path just
	// before retention or a rotate action deletes it (on the appender
	// goroutine; it must return quickly): the forwarder counts the records
	// it had not sent yet.
	BeforeDelete func(path string)
	// Marks, when not nil, is told where each frame's records end in the
	// caller's input (the positions given to At): before the write(2) of
	// a frame and after it. See FrameMarks.
	Marks FrameMarks
	// initPath is the program run by ActionSingle and ActionHalt
	// (/sbin/init); tests point it elsewhere.
	initPath string
	// Workers is the number of parallel compressors (default
	// min(GOMAXPROCS, 4)). Ignored for Compression "none".
	Workers int
	// LogGroup is the group owning the files, as auditd's log_group:
	// negative for none, 0 (root) also gives mode 0600 (as auditd), a gid
	// > 0 gives mode 0640 with the files chgrp'd to it.
	LogGroup int
	// Format is the line format: FormatRaw (default when empty) or
	// FormatEnriched, auditd's log_format = ENRICHED (each record followed
	// by 0x1d and the ids, arch, syscall and socket address auditd
	// interprets, named as this host names them; see package
	// internal/enrich). The names are resolved on the drain goroutine, in
	// record order, by one Enricher.
	Format string
	// enrich configures the Enricher of FormatEnriched (tests point it at
	// other passwd and group files); its Node is set from Node.
	enrich enrich.Options
	// Node, when not empty, prefixes each line with "node=<Node> " as
	// auditd does with name_format. It must not contain white space, '=',
	// or control characters.
	Node string
}

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	zstd     bool
	enriched bool
	level    zstd.EncoderLevel
	poolSize int
	flush    flushMode
	// hold is how long Tick keeps a batch smaller than minFrame open (at
	// least FlushInterval); minFrame is the size from which a batch is
	// sealed at FlushInterval. See Writer.Tick.
	hold     time.Duration
	minFrame int
	// ageShift: a batch's age slots are 1<<ageShift ms wide, so that
	// ageSlots of them cover hold (see batch.ages).
	ageShift uint
	// trace, when not nil, is told about every write, fsync and batch
	// release (tests only).
	trace func(traceEvent)
	// env, when not nil, replaces the real clock and file system (tests
	// only).
	env *env
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
	switch strings.ToLower(s.Format) {
	case "", FormatRaw:
		s.Format = FormatRaw
	case FormatEnriched:
		s.Format, s.enriched = FormatEnriched, true
	default:
		return s, fmt.Errorf("%w: Format %q (want raw or enriched)", ErrConfig, s.Format)
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
	if err := s.resolveDurability(); err != nil {
		return s, err
	}
	s.minFrame = min(MinFrameBytes, s.BatchBytes)
	if s.LowRateHold < 0 || s.LowRateHold > MaxLowRateHold {
		return s, fmt.Errorf("%w: LowRateHold %v (want 0..%v)", ErrConfig, s.LowRateHold, MaxLowRateHold)
	}
	s.hold = s.FlushInterval
	if s.flush == flushInterval {
		s.hold = max(s.hold, s.LowRateHold)
	}
	s.ageShift = minAgeShift
	for ageSlots<<s.ageShift < s.hold.Milliseconds() {
		s.ageShift++
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

// resolveDurability validates and defaults the flush, rotation and
// disk-space fields.
func (s *settings) resolveDurability() error {
	switch strings.ToLower(s.Flush) {
	case "", FlushInterval:
		s.Flush, s.flush = FlushInterval, flushInterval
		if s.FsyncInterval == 0 {
			s.flush = flushData
		}
	case FlushNone:
		s.Flush, s.flush = FlushNone, flushNone
	case FlushIncremental:
		s.Flush, s.flush = FlushIncremental, flushIncremental
	case FlushIncrementalAsync:
		s.Flush, s.flush = FlushIncrementalAsync, flushIncrementalAsync
	case FlushData:
		s.Flush, s.flush = FlushData, flushData
	case FlushSync:
		s.Flush, s.flush = FlushSync, flushSync
	default:
		return fmt.Errorf("%w: Flush %q (want none, interval, incremental, incremental_async, data or sync)", ErrConfig, s.Flush)
	}
	if s.Freq < 0 || s.RotateInterval < 0 || s.NumLogs < 0 || s.MaxTotalBytes < 0 || s.MinLogs < 0 || s.CheckInterval < 0 {
		return fmt.Errorf("%w: negative value in Freq=%d RotateInterval=%v NumLogs=%d MaxTotalBytes=%d MinLogs=%d CheckInterval=%v",
			ErrConfig, s.Freq, s.RotateInterval, s.NumLogs, s.MaxTotalBytes, s.MinLogs, s.CheckInterval)
	}
	if s.Freq == 0 {
		s.Freq = DefaultFreq
	}
	if s.MinLogs == 0 {
		s.MinLogs = DefaultMinLogs
	}
	if s.CheckInterval == 0 {
		s.CheckInterval = DefaultCheckInterval
	}
	if s.initPath == "" {
		s.initPath = defaultInit
	}
	for _, th := range []Threshold{s.SpaceLeft, s.AdminSpaceLeft} {
		if th.Bytes < 0 || th.Percent < 0 || th.Percent > 100 {
			return fmt.Errorf("%w: space threshold %+v", ErrConfig, th)
		}
	}
	spaceKinds := []ActionKind{ActionIgnore, ActionSyslog, ActionRotate, ActionSuspend, ActionExec, ActionSingle, ActionHalt}
	for _, f := range []struct {
		name  string
		a     *Action
		def   ActionKind
		kinds []ActionKind
	}{
		{"MaxLogFileAction", &s.MaxLogFileAction, ActionRotate, []ActionKind{ActionRotate, ActionKeepLogs, ActionIgnore, ActionSyslog, ActionSuspend}},
		{"SpaceLeftAction", &s.SpaceLeftAction, ActionSyslog, spaceKinds},
		{"AdminSpaceLeftAction", &s.AdminSpaceLeftAction, ActionSuspend, spaceKinds},
		{"DiskFullAction", &s.DiskFullAction, ActionSuspend, spaceKinds},
		{"DiskErrorAction", &s.DiskErrorAction, ActionSyslog, []ActionKind{ActionIgnore, ActionSyslog, ActionSuspend, ActionExec, ActionSingle, ActionHalt}},
	} {
		if f.a.Kind == ActionDefault {
			f.a.Kind = f.def
		}
		if !slices.Contains(f.kinds, f.a.Kind) {
			return fmt.Errorf("%w: %s %q is not one of %v", ErrConfig, f.name, f.a, f.kinds)
		}
		if f.a.Kind == ActionExec && !filepath.IsAbs(f.a.Path) {
			return fmt.Errorf("%w: %s %q: exec needs an absolute program path", ErrConfig, f.name, f.a)
		}
		if (f.a.Kind == ActionSingle || f.a.Kind == ActionHalt) && !s.AllowSystemActions {
			return fmt.Errorf("%w: %s %q refused: it changes the system's run level; set AllowSystemActions (allow_system_actions = yes) to permit it",
				ErrConfig, f.name, f.a)
		}
	}
	return nil
}
