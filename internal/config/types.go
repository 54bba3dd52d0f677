package config

import "github.com/auditdrain/auditdrain/writer"

// Compression is the compression key: how segments are stored.
type Compression string

// Compression values.
const (
	CompressionZstd Compression = "zstd" // zstd frames, segments *.log.zst
	CompressionNone Compression = "none" // plain text, segments *.log
)

// LogFormat is the log_format key: how each record is written, as
// auditd.conf's log_format.
type LogFormat string

// LogFormat values, spelled as the writer's.
const (
	LogFormatRaw      LogFormat = writer.FormatRaw      // the kernel's text, as auditd's RAW
	LogFormatEnriched LogFormat = writer.FormatEnriched // RAW, 0x1d and the interpreted fields, as auditd's ENRICHED
)

// CompressionLevel is the compression_level key: the zstd encoder level.
type CompressionLevel string

// CompressionLevel values.
const (
	LevelFastest CompressionLevel = "fastest"
	LevelDefault CompressionLevel = "default"
	LevelBetter  CompressionLevel = "better"
)

// Flush is the flush key: when written frames are made durable, as
// auditd's flush (writer.Config.Flush documents each mode).
type Flush string

// Flush values, spelled as the writer's.
const (
	FlushNone             Flush = writer.FlushNone
	FlushInterval         Flush = writer.FlushInterval
	FlushIncremental      Flush = writer.FlushIncremental
	FlushIncrementalAsync Flush = writer.FlushIncrementalAsync
	FlushData             Flush = writer.FlushData
	FlushSync             Flush = writer.FlushSync
)

// NameFormat is the name_format key: which node name prefixes each record.
type NameFormat string

// NameFormat values (auditd's fqd and numeric are not implemented).
const (
	NameNone     NameFormat = "none"     // no node= prefix
	NameHostname NameFormat = "hostname" // the host name up to its first dot
	NameUser     NameFormat = "user"     // the name key
)

// OverflowAction is the overflow_action key: what the reader does when the
// ring is full.
type OverflowAction string

// OverflowAction values.
const (
	// OverflowBlock makes the reader wait for room; the kernel's backlog
	// absorbs the burst.
	OverflowBlock OverflowAction = "block"
	// OverflowDrop counts and drops records that do not fit (keep_types
	// and keep_keys excepted) above the high_water mark.
	OverflowDrop OverflowAction = "drop"
)

// PluginOverflow is the plugin_overflow_action key (auditd.conf's
// overflow_action): what happens when a plugin's own queue is full. The
// record is lost for that plugin only in every case; the drain never waits.
type PluginOverflow string

// PluginOverflow values (auditd's single and halt are not offered: a plugin
// does not stop the host).
const (
	PluginOverflowSyslog  PluginOverflow = "syslog"  // count, and log the losses
	PluginOverflowIgnore  PluginOverflow = "ignore"  // count only
	PluginOverflowSuspend PluginOverflow = "suspend" // count, and stop feeding the plugin until the next reload
)

// Backpressure is the kernel_backpressure key: whether audited programs
// stall when the kernel's backlog is full.
type Backpressure string

// Backpressure values.
const (
	// BackpressureWait sets backlog_wait_time (or 15000 jiffies when it
	// is not positive): programs stall rather than lose records.
	BackpressureWait Backpressure = "wait"
	// BackpressureDrop sets backlog_wait_time 0: programs never stall,
	// the kernel counts what it drops.
	BackpressureDrop Backpressure = "drop"
	// BackpressureLeave applies backlog_wait_time as configured.
	BackpressureLeave Backpressure = "leave"
)

// The action kinds each action key accepts (the writer refuses the others
// too, but only once it opens, after the config was accepted).
var (
	maxLogFileActions = []writer.ActionKind{writer.ActionRotate, writer.ActionKeepLogs, writer.ActionIgnore, writer.ActionSyslog, writer.ActionSuspend}
	spaceActions      = []writer.ActionKind{writer.ActionIgnore, writer.ActionSyslog, writer.ActionRotate, writer.ActionSuspend, writer.ActionExec, writer.ActionSingle, writer.ActionHalt}
	diskErrorActions  = []writer.ActionKind{writer.ActionIgnore, writer.ActionSyslog, writer.ActionSuspend, writer.ActionExec, writer.ActionSingle, writer.ActionHalt}
)
