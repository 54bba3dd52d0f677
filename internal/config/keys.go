package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
)

// key is one config key: its name, its default (in the syntax of the file),
// its documentation and the field it sets.
type key struct {
	name, def, doc string
	v              value
}

// value parses a key's text into its Config field and writes it back:
// set(c, get(c)) leaves c unchanged.
type value interface {
	set(c *Config, s string) error
	get(c *Config) string
}

// field binds a Config field to its parser and its formatter.
type field[T any] struct {
	ptr    func(*Config) *T
	parse  func(string) (T, error)
	format func(T) string
}

func (f field[T]) set(c *Config, s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.ptr(c) = v
	return nil
}

func (f field[T]) get(c *Config) string { return f.format(*f.ptr(c)) }

// keyTable declares every key, one row each. Names follow auditd.conf where
// the meaning is the same.
var keyTable = []key{
	// Where and how records are written.
	{"log_dir", "/var/log/auditdrain", "directory of the log segments", str(func(c *Config) *string { return &c.LogDir })},
	{"log_group", "", "group (name or gid) that may read the logs; files become 0640", str(func(c *Config) *string { return &c.LogGroup })},
	{"log_format", "raw", "raw | enriched (auditd's ENRICHED: each line ends with 0x1d and the ids, arch, syscall and socket address named as this host names them)", oneOf(func(c *Config) *LogFormat { return &c.LogFormat }, LogFormatRaw, LogFormatEnriched)},
	{"compression", "zstd", "zstd | none", oneOf(func(c *Config) *Compression { return &c.Compression }, CompressionZstd, CompressionNone)},
	{"compression_level", "fastest", "fastest | default | better", oneOf(func(c *Config) *CompressionLevel { return &c.CompressionLevel }, LevelFastest, LevelDefault, LevelBetter)},
	{"max_log_file", "64", "MiB per segment before rotation", num(func(c *Config) *int64 { return &c.MaxLogFile }, 1, 1<<20)},
	{"batch_size", "1M", "uncompressed bytes per batch (K, M suffixes)", size(func(c *Config) *int64 { return &c.BatchBytes }, 4<<10, 64<<20)},
	{"flush_interval", "100ms", "longest a record waits in a partial batch (Go duration), except at low rates (low_rate_hold)", dur(func(c *Config) *time.Duration { return &c.FlushInterval }, time.Millisecond)},
	{"low_rate_hold", "2s", "with flush = interval, a batch under 64 KiB after another small one (a low rate) stays open this long, then is written and fsynced at once: larger frames compress better (at 140 records/s, 4.2-4.4% of auditd's bytes at 2s, 5.6% at 0.9s), and such a record is durable at most this long after it was read (flush_interval or less: no hold)", durIn(func(c *Config) *time.Duration { return &c.LowRateHold }, 0, writer.MaxLowRateHold)},
	{"fsync_interval", "1s", "group-commit fsync period (Go duration; 0 = after every batch)", dur(func(c *Config) *time.Duration { return &c.FsyncInterval }, 0)},
	{"flush", "interval", "none | interval (fsync every fsync_interval) | incremental (fsync every freq records) | incremental_async | data (fdatasync each batch before the next is acknowledged: group commit) | sync",
		oneOf(func(c *Config) *Flush { return &c.Flush }, FlushNone, FlushInterval, FlushIncremental, FlushIncrementalAsync, FlushData, FlushSync)},
	{"freq", "50", "records per fsync with flush = incremental or incremental_async", num(func(c *Config) *int { return &c.Freq }, 1, 1<<30)},
	{"max_log_file_action", "rotate", "when a segment reaches max_log_file: rotate | keep_logs | ignore | suspend | syslog", action(func(c *Config) *writer.Action { return &c.MaxLogFileAction }, maxLogFileActions)},
	{"num_logs", "0", "segments kept with max_log_file_action = rotate (0 = keep all)", num(func(c *Config) *int { return &c.NumLogs }, 0, 1<<20)},
	{"max_total_log_size", "0", "bytes of segments kept with rotate (K, M, G suffixes; 0 = no cap)", size(func(c *Config) *int64 { return &c.MaxTotalLogSize }, 0, 1<<50)},
	{"rotate_interval", "0s", "start a new segment after this long (Go duration; 0 = only by size)", dur(func(c *Config) *time.Duration { return &c.RotateInterval }, 0)},
	{"space_left", "75", "free space (MiB, or N%) below which space_left_action runs", threshold(func(c *Config) *writer.Threshold { return &c.SpaceLeft })},
	{"space_left_action", "syslog", "ignore | syslog | rotate | suspend | exec /path (owned by root, not writable by group or others) | single | halt", action(func(c *Config) *writer.Action { return &c.SpaceLeftAction }, spaceActions)},
	{"admin_space_left", "50", "free space (MiB, or N%) below which admin_space_left_action runs", threshold(func(c *Config) *writer.Threshold { return &c.AdminSpaceLeft })},
	{"admin_space_left_action", "suspend", "ignore | syslog | rotate | suspend | exec /path (owned by root, not writable by group or others) | single | halt", action(func(c *Config) *writer.Action { return &c.AdminSpaceLeftAction }, spaceActions)},
	{"disk_full_action", "suspend", "on ENOSPC: ignore | syslog | rotate | suspend | exec /path (owned by root, not writable by group or others) | single | halt", action(func(c *Config) *writer.Action { return &c.DiskFullAction }, spaceActions)},
	{"disk_error_action", "syslog", "on other write errors: ignore | syslog | suspend | exec /path (owned by root, not writable by group or others) | single | halt", action(func(c *Config) *writer.Action { return &c.DiskErrorAction }, diskErrorActions)},
	{"allow_system_actions", "no", "yes to let single and halt actions run", boolean(func(c *Config) *bool { return &c.AllowSystemActions })},
	{"writers", "0", "parallel compressors (0 = automatic)", num(func(c *Config) *int { return &c.Writers }, 0, 64)},
	{"write_eoe", "no", "yes to also write EOE (end of event) records; auditd does not write them", boolean(func(c *Config) *bool { return &c.WriteEOE })},
	{"name_format", "none", "none | hostname | user", oneOf(func(c *Config) *NameFormat { return &c.NameFormat }, NameNone, NameHostname, NameUser)},
	{"name", "", "node name when name_format = user", nodeName(func(c *Config) *string { return &c.Name })},

	// How records are read.
	{"max_procs", "0", "OS threads running Go code at once (GOMAXPROCS; 0 = one per CPU). 1 is cheapest per record: the work is mostly the kernel's copy, and cross-thread wake-ups cost more than they save; raise it for compression_level = better on a busy host", num(func(c *Config) *int { return &c.MaxProcs }, 0, 1024)},
	{"mode", "unicast", "unicast (replace auditd) | multicast (beside it)", oneOf(func(c *Config) *reader.Mode { return &c.Mode }, reader.ModeUnicast, reader.ModeMulticast)},
	{"ring_size", "32M", "bytes buffered between reader and writer (K, M, G suffixes; rounded up to a power of two, at most 1G)", size(func(c *Config) *int64 { return &c.RingSize }, 64<<10, 1<<30)},
	{"read_pace", "100ms", "at low rates (under 2,000 records/s, batch not full), how long the reader waits after a batch before reading again, so several events share one wake-up (less CPU per record); records reach plugins and the forwarder up to this much later. Above 2,000 records/s, after a batch that is not full, it waits about the time the rest of a batch takes to arrive (at least 1 ms, at most this). At most flush_interval, and at most what lets rcvbuf absorb a burst at 300,000 records/s in half its room (32M: 109ms). 0 = read at once", dur(func(c *Config) *time.Duration { return &c.ReadPace }, 0)},
	{"rcvbuf", "32M", "socket receive buffer bytes (K, M suffixes; the kernel doubles it); during a restart it holds about rcvbuf*2/1KiB records (32M: 68,000, 1.1 s at 20,000 getppid events/s), then backlog_limit more", size(func(c *Config) *int64 { return &c.RcvBuf }, 64<<10, 1<<30)},

	// Kernel settings applied at start.
	{"enabled", "1", "kernel auditing at start: 0, 1, or -1 to leave it", num(func(c *Config) *int64 { return &c.Enabled }, -1, 1)},
	{"backlog_limit", "8192", "kernel backlog limit (-1 = leave)", num(func(c *Config) *int64 { return &c.BacklogLimit }, -1, 1<<31-1)},
	{"backlog_wait_time", "-1", "kernel backlog wait time in jiffies (-1 = leave; 0 = never stall)", num(func(c *Config) *int64 { return &c.BacklogWaitTime }, -1, 600000)},
	{"rate_limit", "-1", "kernel records/s limit (-1 = leave, 0 = none)", num(func(c *Config) *int64 { return &c.RateLimit }, -1, 1<<31-1)},
	{"failure", "1", "kernel failure mode: 0 silent, 1 printk (default), 2 panic (needs allow_panic = yes)", num(func(c *Config) *int64 { return &c.Failure }, -1, 2)},
	{"allow_panic", "no", "yes to allow failure = 2", boolean(func(c *Config) *bool { return &c.AllowPanic })},
	{"rules", "", "file of auditctl rules to load at start (owned by root, not writable by group or others)", trustedFile(func(c *Config) *string { return &c.Rules })},
	{"rules_dir", "/etc/audit/rules.d", "directory of *.rules files merged as augenrules does, loaded when rules is empty (empty: none)", str(func(c *Config) *string { return &c.RulesDir })},

	// Backpressure and loss accounting.
	{"overflow_action", "block", "when the ring is full: block (the reader waits; the kernel backlog absorbs it) | drop (count and drop, keep records excepted)", oneOf(func(c *Config) *OverflowAction { return &c.OverflowAction }, OverflowBlock, OverflowDrop)},
	{"high_water", "75", "percent of the ring above which only keep records enter (overflow_action = drop)", num(func(c *Config) *int { return &c.HighWater }, 1, 100)},
	{"keep_types", "CONFIG_CHANGE,USER_AUTH,USER_LOGIN,LOGIN,USER_ACCT,ADD_USER,DEL_USER,ADD_GROUP,DEL_GROUP,USER_ROLE_CHANGE,DAEMON_START,DAEMON_END,DAEMON_ERR",
		"comma-separated record types never dropped by the daemon", field[[]uint16]{func(c *Config) *[]uint16 { return &c.KeepTypes }, parseTypes, formatTypes}},
	{"keep_keys", "", "comma-separated rule keys whose events are never dropped by the daemon", field[[]string]{func(c *Config) *[]string { return &c.KeepKeys }, parseKeys, formatKeys}},
	{"kernel_backpressure", "leave", "wait (programs stall, backlog_wait_time or 15000) | drop (backlog_wait_time 0: never stall, kernel counts drops) | leave", oneOf(func(c *Config) *Backpressure { return &c.KernelBackpressure }, BackpressureWait, BackpressureDrop, BackpressureLeave)},
	{"restore_kernel_settings", "no", "yes to restore backlog_limit, backlog_wait_time and rate_limit on exit", boolean(func(c *Config) *bool { return &c.RestoreKernelSettings })},
	{"ratelimit", "", "per-key event limits: \"key=K rate=R [burst=B]; ...\"", field[[]ratelimit.Rule]{func(c *Config) *[]ratelimit.Rule { return &c.Limits.Rules }, parseRules, formatRules}},
	{"ratelimit_default", "", "limit for events whose key has no ratelimit rule: \"rate=R [burst=B]\"", field[*ratelimit.Rule]{func(c *Config) **ratelimit.Rule { return &c.Limits.Default }, parseDefaultRule, formatDefaultRule}},

	// Plugins (auditd's plugins.d dispatcher).
	{"plugin_dir", "/etc/audit/plugins.d", "directory of auditd plugin files run as auditd 3.0.9's dispatcher runs them (empty: no plugins)", str(func(c *Config) *string { return &c.PluginDir })},
	{"q_depth", "2000", "records each plugin's own queue holds; a full queue loses records for that plugin only, never stalls the drain", num(func(c *Config) *int { return &c.QueueDepth }, 1, 1<<24)},
	{"max_restarts", "10", "restarts of a plugin that exits before it is given up until the next reload", num(func(c *Config) *int { return &c.MaxRestarts }, 0, 1<<20)},
	{"plugin_overflow_action", "syslog", "when a plugin's queue is full (auditd.conf's overflow_action): syslog (count and log) | ignore (count) | suspend (count, and stop feeding the plugin until the next reload)",
		oneOf(func(c *Config) *PluginOverflow { return &c.PluginOverflow }, PluginOverflowSyslog, PluginOverflowIgnore, PluginOverflowSuspend)},

	// Forwarding to NATS JetStream (internal/forward).
	{"forward_url", "", "nats://HOST:PORT (or tls://; several, comma-separated, for a cluster) turns forwarding on: the log's frames are published to JetStream at least once, from disk, never stalling the drain (empty: off)", forwardURL(func(c *Config) *string { return &c.Forward.URL })},
	{"forward_subject", "auditdrain", "subject prefix: frames go to SUBJECT.<host>", natsName(func(c *Config) *string { return &c.Forward.Subject }, true)},
	{"forward_stream", "AUDITDRAIN", "JetStream stream (created with subject SUBJECT.> if missing)", natsName(func(c *Config) *string { return &c.Forward.Stream }, false)},
	{"forward_replicas", "1", "copies of the stream, on a JetStream cluster, when the forwarder creates it", num(func(c *Config) *int { return &c.Forward.Replicas }, 1, 5)},
	{"forward_payload", "frame", "frame (each zstd frame as on disk, RAW lines, with host, boot id, segment and serial headers)", oneOf(func(c *Config) *string { return &c.Forward.Payload }, "frame")},
	{"forward_user", "", "NATS user name (with forward_password)", str(func(c *Config) *string { return &c.Forward.User })},
	{"forward_password", "", "NATS password", str(func(c *Config) *string { return &c.Forward.Password })},
	{"forward_token", "", "NATS token", str(func(c *Config) *string { return &c.Forward.Token })},
	{"forward_nkey_seed", "", "file holding an nkey seed (owned by root, not writable by group or others)", trustedFile(func(c *Config) *string { return &c.Forward.NKeySeed })},
	{"forward_creds", "", "NATS .creds file, JWT and seed (owned by root, not writable by group or others)", trustedFile(func(c *Config) *string { return &c.Forward.Creds })},
	{"forward_tls_ca", "", "CA file verifying the server (turns TLS on)", str(func(c *Config) *string { return &c.Forward.TLSCA })},
	{"forward_tls_cert", "", "client certificate file (with forward_tls_key)", str(func(c *Config) *string { return &c.Forward.TLSCert })},
	{"forward_tls_key", "", "client key file (owned by root, not writable by group or others)", trustedFile(func(c *Config) *string { return &c.Forward.TLSKey })},
	{"forward_insecure", "no", "yes to permit plain text to a server that is not on loopback", boolean(func(c *Config) *bool { return &c.Forward.Insecure })},

	// The daemon's control endpoint and metrics.
	{"control_socket", "/run/auditdrain/control.sock", "path of the daemon's root-only control socket", str(func(c *Config) *string { return &c.ControlSocket })},
	{"metrics_listen", "", "TCP address for Prometheus /metrics, e.g. 127.0.0.1:9947 (empty: only on the control socket)", str(func(c *Config) *string { return &c.MetricsListen })},
}

// keyByName indexes keyTable.
var keyByName = func() map[string]*key {
	m := make(map[string]*key, len(keyTable))
	for i := range keyTable {
		m[keyTable[i].name] = &keyTable[i]
	}
	return m
}()

// Keys lists the known keys, sorted.
func Keys() []string {
	ks := make([]string, 0, len(keyTable))
	for _, k := range keyTable {
		ks = append(ks, k.name)
	}
	sort.Strings(ks)
	return ks
}

// Doc returns the documentation of a key ("" for an unknown key).
func Doc(name string) string {
	if k, ok := keyByName[name]; ok {
		return k.doc
	}
	return ""
}

// Value returns the value of key in c as a config file would write it
// ("" for an unknown key): c.Set(key, c.Value(key)) changes nothing. Sizes
// use the largest exact K, M or G suffix, durations Go's syntax, booleans
// yes or no.
func (c Config) Value(name string) string {
	if k, ok := keyByName[name]; ok {
		return k.v.get(&c)
	}
	return ""
}

func str(ptr func(*Config) *string) value {
	return field[string]{ptr, func(s string) (string, error) { return s, nil }, func(s string) string { return s }}
}

// trustedFile is a path that, when not empty, must pass CheckTrusted.
func trustedFile(ptr func(*Config) *string) value {
	return field[string]{ptr, func(s string) (string, error) {
		if s == "" {
			return s, nil
		}
		return s, CheckTrusted(s)
	}, func(s string) string { return s }}
}

// nodeName is a name fit for "node=NAME": no white space, '=' or control
// characters.
func nodeName(ptr func(*Config) *string) value {
	return field[string]{ptr, func(s string) (string, error) {
		if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '=' || r == 0x7f }) {
			return "", errors.New("contains white space, '=' or a control character")
		}
		return s, nil
	}, func(s string) string { return s }}
}

// oneOf is an enum: the value is one of values, by their fmt.Sprint name,
// case-insensitively.
func oneOf[T comparable](ptr func(*Config) *T, values ...T) value {
	return field[T]{ptr, func(s string) (T, error) {
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = fmt.Sprint(v)
			if strings.EqualFold(s, names[i]) {
				return v, nil
			}
		}
		var zero T
		return zero, fmt.Errorf("want one of %s", strings.Join(names, ", "))
	}, func(v T) string { return fmt.Sprint(v) }}
}

func num[T int | int64](ptr func(*Config) *T, lo, hi T) value {
	return field[T]{ptr, func(s string) (T, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, errors.New("not an integer")
		}
		if n < int64(lo) || n > int64(hi) {
			return 0, fmt.Errorf("out of range [%d, %d]", lo, hi)
		}
		return T(n), nil
	}, func(n T) string { return strconv.FormatInt(int64(n), 10) }}
}

func size(ptr func(*Config) *int64, lo, hi int64) value {
	return field[int64]{ptr, func(s string) (int64, error) {
		n, err := ParseSize(s)
		if err != nil {
			return 0, err
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("out of range [%d, %d] bytes", lo, hi)
		}
		return n, nil
	}, FormatSize}
}

func dur(ptr func(*Config) *time.Duration, min time.Duration) value {
	return durIn(ptr, min, math.MaxInt64)
}

func durIn(ptr func(*Config) *time.Duration, min, max time.Duration) value {
	return field[time.Duration]{ptr, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errors.New("not a duration (e.g. 100ms, 1s)")
		}
		if d < min {
			return 0, fmt.Errorf("below the minimum %v", min)
		}
		if d > max {
			return 0, fmt.Errorf("above the maximum %v", max)
		}
		return d, nil
	}, time.Duration.String}
}

func boolean(ptr func(*Config) *bool) value {
	return field[bool]{ptr, func(s string) (bool, error) {
		switch strings.ToLower(s) {
		case "yes", "true", "1", "on":
			return true, nil
		case "no", "false", "0", "off":
			return false, nil
		}
		return false, errors.New("want yes or no")
	}, func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}}
}

// action is a disk or space action of one of kinds. An exec action's
// program must pass CheckTrusted: it will run as root.
func action(ptr func(*Config) *writer.Action, kinds []writer.ActionKind) value {
	return field[writer.Action]{ptr, func(s string) (writer.Action, error) {
		a, err := writer.ParseAction(s)
		if err == nil && slices.Contains(kinds, a.Kind) {
			if a.Kind == writer.ActionExec {
				return a, CheckTrusted(a.Path)
			}
			return a, nil
		}
		if word, _, _ := strings.Cut(strings.TrimSpace(s), " "); strings.EqualFold(word, "exec") && slices.Contains(kinds, writer.ActionExec) {
			return a, errors.New("exec needs an absolute program path: exec /path")
		}
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = k.String()
			if k == writer.ActionExec {
				names[i] = "exec /path"
			}
		}
		return a, fmt.Errorf("want one of %s", strings.Join(names, ", "))
	}, writer.Action.String}
}

func threshold(ptr func(*Config) *writer.Threshold) value {
	return field[writer.Threshold]{ptr, func(s string) (writer.Threshold, error) {
		t, err := writer.ParseThreshold(s)
		if err != nil {
			return t, errors.New("want MiB (e.g. 75) or a percentage of the file system (e.g. 10%)")
		}
		return t, nil
	}, writer.Threshold.String}
}

// splitList splits a comma-separated list, trimming white space around
// items and dropping empty ones (nil for none).
func splitList(s string) []string {
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	if items = slices.DeleteFunc(items, func(x string) bool { return x == "" }); len(items) == 0 {
		return nil
	}
	return items
}

// parseTypes reads record types, by go-libaudit's names (LOGIN,
// USER_AUTH...) or numbers, into their numbers.
func parseTypes(s string) ([]uint16, error) {
	var out []uint16
	for _, name := range splitList(s) {
		t, ok := record.ParseType(name)
		if !ok {
			return nil, fmt.Errorf("unknown record type %q", name)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func formatTypes(ts []uint16) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = record.TypeName(t)
	}
	return strings.Join(names, ",")
}

// parseKeys reads rule keys (auditctl -k).
func parseKeys(s string) ([]string, error) {
	keys := splitList(s)
	for _, k := range keys {
		if len(k) > record.MaxKeyLen || strings.ContainsAny(k, "\x00\x01") {
			return nil, fmt.Errorf("key %q: longer than %d bytes or contains NUL or 0x01", k, record.MaxKeyLen)
		}
	}
	return keys, nil
}

func formatKeys(ks []string) string { return strings.Join(ks, ",") }

// parseRules reads "key=K rate=R [burst=B]; ..." with ratelimit.ParseRule,
// and checks the rules together (a key given twice) with ratelimit.New.
func parseRules(s string) ([]ratelimit.Rule, error) {
	var rules []ratelimit.Rule
	for _, f := range strings.Split(s, ";") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := ratelimit.ParseRule(f)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) > 1 {
		if _, err := ratelimit.New(ratelimit.Config{Rules: rules}); err != nil {
			return nil, err
		}
	}
	return rules, nil
}

func formatRules(rs []ratelimit.Rule) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, "; ")
}

// defaultRuleKey names the default rule for ratelimit.ParseRule, which wants
// a key; the default rule's key is ignored.
const defaultRuleKey = "default"

func parseDefaultRule(s string) (*ratelimit.Rule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	r, err := ratelimit.ParseRule("key=" + defaultRuleKey + " " + s)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func formatDefaultRule(r *ratelimit.Rule) string {
	if r == nil {
		return ""
	}
	d := *r
	d.Key = defaultRuleKey
	return strings.TrimPrefix(d.String(), "key="+defaultRuleKey+" ")
}

// ParseSize parses a byte count with an optional K, M or G suffix (powers
// of 1024), e.g. "32M".
func ParseSize(v string) (int64, error) {
	mult := int64(1)
	s := strings.TrimSpace(v)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("not a size (e.g. 65536, 64K, 32M)")
	}
	return n * mult, nil
}

// FormatSize writes a byte count the way ParseSize reads it, with the
// largest suffix that divides it exactly: 1048576 is "1M".
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
