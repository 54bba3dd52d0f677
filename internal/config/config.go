// Package config owns auditdrain's configuration: the built-in defaults, the
// config file (auditd.conf syntax: `key = value` lines, `#` comments) and
// the command-line overrides (`--set key=value`). Every key is declared in
// one table (keys.go) with its parser and documentation, so an unknown key,
// a malformed value or a repeated key is an error that names the file, the
// line and the key.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// DefaultPath is where `auditdrain run` looks for its config file. The file
// is optional: without it the built-in defaults apply.
const DefaultPath = "/etc/auditdrain/auditdrain.conf"

// ErrUnknownKey is wrapped by errors for keys auditdrain does not know.
var ErrUnknownKey = errors.New("config: unknown key")

// Config is the daemon's whole configuration.
type Config struct {
	// Where and how records are written.
	LogDir               string        // log_dir
	LogGroup             string        // log_group: group name or gid owning the log files ("" or root: files are 0600)
	Compression          string        // compression: zstd | none
	CompressionLevel     string        // compression_level: fastest | default | better
	MaxLogFile           int64         // max_log_file: MiB per segment before rotation
	BatchBytes           int64         // batch_size: uncompressed bytes per batch (one zstd frame)
	FlushInterval        time.Duration // flush_interval: a partial batch is written at most this late
	FsyncInterval        time.Duration // fsync_interval: group-commit period (0 = after every batch)
	Flush                string        // flush: none | interval | incremental | incremental_async | data | sync
	Freq                 int           // freq: records per fsync for flush = incremental(_async)
	MaxLogFileAction     string        // max_log_file_action: rotate | keep_logs | ignore | suspend | syslog
	NumLogs              int           // num_logs: segments kept with rotate (0 = all)
	MaxTotalLogSize      int64         // max_total_log_size: bytes of segments kept with rotate (0 = no cap)
	RotateInterval       time.Duration // rotate_interval: start a new segment after this long (0 = never)
	SpaceLeft            string        // space_left: MiB, or N% of the file system
	SpaceLeftAction      string        // space_left_action
	AdminSpaceLeft       string        // admin_space_left
	AdminSpaceLeftAction string        // admin_space_left_action
	DiskFullAction       string        // disk_full_action
	DiskErrorAction      string        // disk_error_action
	AllowSystemActions   bool          // allow_system_actions: permit single and halt
	Writers              int           // writers: parallel compressors (0 = automatic)
	WriteEOE             bool          // write_eoe: also write the kernel's EOE (end of event) records, which auditd does not
	NameFormat           string        // name_format: none | hostname | user (as auditd)
	Name                 string        // name: the node name when name_format = user

	// How records are read.
	MaxProcs int    // max_procs: OS threads running Go code at once (GOMAXPROCS)
	Mode     string // mode: unicast | multicast
	RingSize int64  // ring_size: bytes between the reader and the writer
	RcvBuf   int64  // rcvbuf: socket receive buffer bytes

	// Kernel settings applied at start. -1 means "leave as it is".
	Enabled         int64  // enabled: 1 (or 0, or -1 to leave)
	BacklogLimit    int64  // backlog_limit
	BacklogWaitTime int64  // backlog_wait_time (jiffies, as auditctl --backlog_wait_time)
	RateLimit       int64  // rate_limit
	Failure         int64  // failure: 0 silent, 1 printk, 2 panic (only with allow_panic = yes)
	AllowPanic      bool   // allow_panic
	Rules           string // rules: a file of auditctl rules loaded at start ("" = use rules_dir)
	RulesDir        string // rules_dir: augenrules-style rules.d loaded at start when rules is empty ("" = none)

	// Backpressure and loss accounting.
	OverflowAction        string // overflow_action: block | drop (when the ring is full)
	HighWater             int64  // high_water: percent of the ring above which only keep records enter (drop mode)
	KeepTypes             string // keep_types: record type names never dropped by the daemon
	KeepKeys              string // keep_keys: rule keys whose events are never dropped by the daemon
	KernelBackpressure    string // kernel_backpressure: wait | drop | leave
	RestoreKernelSettings bool   // restore_kernel_settings: put back backlog_limit, backlog_wait_time, rate_limit on exit
	RateLimits            string // ratelimit: "key=K rate=R burst=B; ..." per rule key, events/s
	RateLimitDefault      string // ratelimit_default: "rate=R burst=B" for events whose key has no rule

	// The daemon's control endpoint and metrics.
	ControlSocket string // control_socket: root-only unix socket for `status` and /metrics
	MetricsListen string // metrics_listen: optional TCP address for Prometheus /metrics ("" = off)
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		LogDir:               "/var/log/auditdrain",
		Compression:          "zstd",
		CompressionLevel:     "fastest",
		MaxLogFile:           64,
		BatchBytes:           1 << 20,
		FlushInterval:        100 * time.Millisecond,
		FsyncInterval:        time.Second,
		Flush:                "interval",
		Freq:                 50,
		MaxLogFileAction:     "rotate",
		SpaceLeft:            "75",
		SpaceLeftAction:      "syslog",
		AdminSpaceLeft:       "50",
		AdminSpaceLeftAction: "suspend",
		DiskFullAction:       "suspend",
		DiskErrorAction:      "syslog",
		NameFormat:           "none",
		Mode:                 "unicast",
		RingSize:             32 << 20,
		RcvBuf:               8 << 20,
		Enabled:              1,
		BacklogLimit:         8192,
		BacklogWaitTime:      -1,
		RateLimit:            -1,
		Failure:              1,
		RulesDir:             "/etc/audit/rules.d",
		ControlSocket:        "/run/auditdrain/control.sock",
		OverflowAction:       "block",
		HighWater:            75,
		KeepTypes:            "CONFIG_CHANGE,USER_AUTH,USER_LOGIN,LOGIN,USER_ACCT,ADD_USER,DEL_USER,ADD_GROUP,DEL_GROUP,USER_ROLE_CHANGE,DAEMON_START,DAEMON_END,DAEMON_ERR",
		KernelBackpressure:   "leave",
	}
}

// Load reads the config file at path over the defaults. A missing file is
// not an error when optional is true (the default path).
func Load(path string, optional bool) (Config, error) {
	c := Default()
	f, err := os.Open(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return c, nil
		}
		return c, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := c.Parse(path, f); err != nil {
		return c, err
	}
	return c, nil
}

// Parse applies the `key = value` lines of r (named name in errors) to c.
// A key given twice in one file is an error: it is almost always a mistake.
func (c *Config) Parse(name string, r io.Reader) error {
	seen := map[string]int{}
	return scanKeyValues(name, r, func(line int, k, v string) error {
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("key %q already set on line %d", k, prev)
		}
		seen[k] = line
		return c.Set(k, v)
	})
}

// scanKeyValues calls fn for each `key = value` line of r (auditd.conf
// syntax: blank lines and `#` comments skipped, white space around key and
// value trimmed), stopping at the first error, which it returns prefixed
// with the file and line.
func scanKeyValues(name string, r io.Reader, fn func(line int, key, value string) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("config: %s:%d: %q: expected `key = value`", name, line, s)
		}
		if err := fn(line, strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("config: %s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config: reading %s: %w", name, err)
	}
	return nil
}

// Set applies one key. It is how both the file and `--set key=value`
// reach the config.
func (c *Config) Set(key, value string) error {
	k, ok := keyTable[strings.ToLower(key)]
	if !ok {
		return fmt.Errorf("%w %q (known keys: %s)", ErrUnknownKey, key, strings.Join(Keys(), ", "))
	}
	if err := k.set(c, value); err != nil {
		return fmt.Errorf("key %q: value %q: %w", key, value, err)
	}
	return nil
}

// SetPair applies "key=value", as given to --set.
func (c *Config) SetPair(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("config: --set %q: expected key=value", kv)
	}
	if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("config: --set: %w", err)
	}
	return nil
}

// Validate checks combinations no single key can check.
func (c *Config) Validate() error {
	if c.Failure == 2 && !c.AllowPanic {
		return errors.New("config: failure = 2 makes the kernel panic on any lost record; set allow_panic = yes as well if that is really wanted")
	}
	if c.NameFormat == "user" && c.Name == "" {
		return errors.New("config: name_format = user needs name = ...")
	}
	if c.LogDir == "" {
		return errors.New("config: log_dir is empty")
	}
	return nil
}

// Node returns the node name to prefix records with ("" for none).
func (c *Config) Node() (string, error) {
	switch c.NameFormat {
	case "none":
		return "", nil
	case "user":
		return c.Name, nil
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("config: name_format = hostname: %w", err)
		}
		if i := strings.IndexByte(h, '.'); i > 0 {
			h = h[:i]
		}
		return h, nil
	}
	return "", fmt.Errorf("config: name_format %q", c.NameFormat)
}
