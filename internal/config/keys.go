package config

import (
	"fmt"
	"github.com/auditdrain/auditdrain/writer"
	"sort"
	"strconv"
	"strings"
	"time"
)

// key is one config key: its documentation and how to set it.
type key struct {
	doc string
	set func(c *Config, v string) error
}

// keyTable declares every key. Names follow auditd.conf where the meaning is
// the same.
var keyTable = map[string]key{
	"log_dir":                 {"directory of the log segments", str(func(c *Config) *string { return &c.LogDir })},
	"log_group":               {"group (name or gid) that may read the logs; files become 0640", str(func(c *Config) *string { return &c.LogGroup })},
	"compression":             {"zstd | none", oneOf(func(c *Config) *string { return &c.Compression }, "zstd", "none")},
	"compression_level":       {"fastest | default | better", oneOf(func(c *Config) *string { return &c.CompressionLevel }, "fastest", "default", "better")},
	"max_log_file":            {"MiB per segment before rotation", num(func(c *Config) *int64 { return &c.MaxLogFile }, 1, 1<<20)},
	"batch_size":              {"uncompressed bytes per batch (K, M suffixes)", size(func(c *Config) *int64 { return &c.BatchBytes }, 4<<10, 64<<20)},
	"flush_interval":          {"longest a record waits in a partial batch (Go duration)", dur(func(c *Config) *time.Duration { return &c.FlushInterval }, time.Millisecond)},
	"fsync_interval":          {"group-commit fsync period (Go duration; 0 = after every batch)", dur(func(c *Config) *time.Duration { return &c.FsyncInterval }, 0)},
	"writers":                 {"parallel compressors (0 = automatic)", intp(func(c *Config) *int { return &c.Writers }, 0, 64)},
	"write_eoe":               {"yes to also write EOE (end of event) records; auditd does not write them", boolean(func(c *Config) *bool { return &c.WriteEOE })},
	"name_format":             {"none | hostname | user", oneOf(func(c *Config) *string { return &c.NameFormat }, "none", "hostname", "user")},
	"name":                    {"node name when name_format = user", str(func(c *Config) *string { return &c.Name })},
	"max_procs":               {"OS threads running Go code at once (GOMAXPROCS; 0 = one per CPU). 1 is cheapest per record: the work is mostly the kernel's copy, and cross-thread wake-ups cost more than they save; raise it for compression_level = better on a busy host", intp(func(c *Config) *int { return &c.MaxProcs }, 0, 1024)},
	"mode":                    {"unicast (replace auditd) | multicast (beside it)", oneOf(func(c *Config) *string { return &c.Mode }, "unicast", "multicast")},
	"ring_size":               {"bytes buffered between reader and writer (K, M, G suffixes; rounded up to a power of two, at most 1G)", size(func(c *Config) *int64 { return &c.RingSize }, 64<<10, 1<<30)},
	"rcvbuf":                  {"socket receive buffer bytes (K, M suffixes)", size(func(c *Config) *int64 { return &c.RcvBuf }, 64<<10, 1<<30)},
	"enabled":                 {"kernel auditing at start: 0, 1, or -1 to leave it", num(func(c *Config) *int64 { return &c.Enabled }, -1, 1)},
	"backlog_limit":           {"kernel backlog limit (-1 = leave)", num(func(c *Config) *int64 { return &c.BacklogLimit }, -1, 1<<31-1)},
	"backlog_wait_time":       {"kernel backlog wait time in jiffies (-1 = leave; 0 = never stall)", num(func(c *Config) *int64 { return &c.BacklogWaitTime }, -1, 600000)},
	"rate_limit":              {"kernel records/s limit (-1 = leave, 0 = none)", num(func(c *Config) *int64 { return &c.RateLimit }, -1, 1<<31-1)},
	"failure":                 {"kernel failure mode: 0 silent, 1 printk (default), 2 panic (needs allow_panic = yes)", num(func(c *Config) *int64 { return &c.Failure }, -1, 2)},
	"allow_panic":             {"yes to allow failure = 2", boolean(func(c *Config) *bool { return &c.AllowPanic })},
	"rules":                   {"file of auditctl rules to load at start", str(func(c *Config) *string { return &c.Rules })},
	"overflow_action":         {"when the ring is full: block (the reader waits; the kernel backlog absorbs it) | drop (count and drop, keep records excepted)", oneOf(func(c *Config) *string { return &c.OverflowAction }, "block", "drop")},
	"high_water":              {"percent of the ring above which only keep records enter (overflow_action = drop)", num(func(c *Config) *int64 { return &c.HighWater }, 1, 100)},
	"keep_types":              {"comma-separated record types never dropped by the daemon", str(func(c *Config) *string { return &c.KeepTypes })},
	"keep_keys":               {"comma-separated rule keys whose events are never dropped by the daemon", str(func(c *Config) *string { return &c.KeepKeys })},
	"kernel_backpressure":     {"wait (programs stall, backlog_wait_time or 15000) | drop (backlog_wait_time 0: never stall, kernel counts drops) | leave", oneOf(func(c *Config) *string { return &c.KernelBackpressure }, "wait", "drop", "leave")},
	"restore_kernel_settings": {"yes to restore backlog_limit, backlog_wait_time and rate_limit on exit", boolean(func(c *Config) *bool { return &c.RestoreKernelSettings })},
	"ratelimit":               {"per-key event limits: \"key=K rate=R [burst=B]; ...\"", str(func(c *Config) *string { return &c.RateLimits })},
	"ratelimit_default":       {"limit for events whose key has no ratelimit rule: \"rate=R [burst=B]\"", str(func(c *Config) *string { return &c.RateLimitDefault })},
	"metrics_listen":          {"TCP address for Prometheus /metrics, e.g. 127.0.0.1:9947 (empty: only on the control socket)", str(func(c *Config) *string { return &c.MetricsListen })},
	"rules_dir":               {"directory of *.rules files merged as augenrules does, loaded when rules is empty (empty: none)", str(func(c *Config) *string { return &c.RulesDir })},
	"flush":                   {"none | interval (fsync every fsync_interval) | incremental (fsync every freq records) | incremental_async | data (fdatasync each batch before the next is acknowledged: group commit) | sync", oneOf(func(c *Config) *string { return &c.Flush }, "none", "interval", "incremental", "incremental_async", "data", "sync")},
	"freq":                    {"records per fsync with flush = incremental or incremental_async", intp(func(c *Config) *int { return &c.Freq }, 1, 1<<30)},
	"max_log_file_action":     {"when a segment reaches max_log_file: rotate | keep_logs | ignore | suspend | syslog", action(func(c *Config) *string { return &c.MaxLogFileAction })},
	"num_logs":                {"segments kept with max_log_file_action = rotate (0 = keep all)", intp(func(c *Config) *int { return &c.NumLogs }, 0, 1<<20)},
	"max_total_log_size":      {"bytes of segments kept with rotate (K, M, G suffixes; 0 = no cap)", size(func(c *Config) *int64 { return &c.MaxTotalLogSize }, 0, 1<<50)},
	"rotate_interval":         {"start a new segment after this long (Go duration; 0 = only by size)", dur(func(c *Config) *time.Duration { return &c.RotateInterval }, 0)},
	"space_left":              {"free space (MiB, or N%) below which space_left_action runs", threshold(func(c *Config) *string { return &c.SpaceLeft })},
	"space_left_action":       {"ignore | syslog | rotate | suspend | exec /path | single | halt", action(func(c *Config) *string { return &c.SpaceLeftAction })},
	"admin_space_left":        {"free space (MiB, or N%) below which admin_space_left_action runs", threshold(func(c *Config) *string { return &c.AdminSpaceLeft })},
	"admin_space_left_action": {"ignore | syslog | rotate | suspend | exec /path | single | halt", action(func(c *Config) *string { return &c.AdminSpaceLeftAction })},
	"disk_full_action":        {"on ENOSPC: ignore | syslog | rotate | suspend | exec /path | single | halt", action(func(c *Config) *string { return &c.DiskFullAction })},
	"disk_error_action":       {"on other write errors: ignore | syslog | suspend | exec /path | single | halt", action(func(c *Config) *string { return &c.DiskErrorAction })},
	"allow_system_actions":    {"yes to let single and halt actions run", boolean(func(c *Config) *bool { return &c.AllowSystemActions })},
	"control_socket":          {"path of the daemon's root-only control socket", str(func(c *Config) *string { return &c.ControlSocket })},
}

// Keys lists the known keys, sorted.
func Keys() []string {
	ks := make([]string, 0, len(keyTable))
	for k := range keyTable {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Doc returns the documentation of a key.
func Doc(k string) string { return keyTable[k].doc }

// action and threshold keep the text; the writer parses it when it opens,
// but a malformed value is refused here already, naming the key.
func action(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if _, err := writer.ParseAction(v); err != nil {
			return err
		}
		*f(c) = v
		return nil
	}
}

func threshold(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if _, err := writer.ParseThreshold(v); err != nil {
			return err
		}
		*f(c) = v
		return nil
	}
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func oneOf(f func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		lv := strings.ToLower(v)
		for _, a := range allowed {
			if lv == a {
				*f(c) = a
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
	}
}

func num(f func(*Config) *int64, lo, hi int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("out of range [%d, %d]", lo, hi)
		}
		*f(c) = n
		return nil
	}
}

func intp(f func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("out of range [%d, %d]", lo, hi)
		}
		*f(c) = n
		return nil
	}
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
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size (e.g. 65536, 64K, 32M)")
	}
	return n * mult, nil
}

func size(f func(*Config) *int64, lo, hi int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		if n < lo || n > hi {
			return fmt.Errorf("out of range [%d, %d] bytes", lo, hi)
		}
		*f(c) = n
		return nil
	}
}

func dur(f func(*Config) *time.Duration, min time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 100ms, 1s)")
		}
		if d < min {
			return fmt.Errorf("below the minimum %v", min)
		}
		*f(c) = d
		return nil
	}
}

func boolean(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "yes", "true", "1", "on":
			*f(c) = true
		case "no", "false", "0", "off":
			*f(c) = false
		default:
			return fmt.Errorf("want yes or no")
		}
		return nil
	}
}
