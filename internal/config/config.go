// Package config owns auditdrain's configuration: the built-in defaults, the
// config file (auditd.conf syntax: `key = value` lines, `#` comments), the
// import of auditd's own auditd.conf, and the command-line overrides
// (`--set key=value`). Every key is one row of one table (keys.go) with its
// name, default, documentation and parser, and parses into a typed field of
// Config: an unknown key, a malformed value or a repeated key is an error
// naming the file, the line and the key. Validate checks what no single
// key can, so that a Config it accepts starts the daemon without a config
// error. Files that decide what auditdrain runs as root (the config file, an
// exec action's program, rules files) must pass CheckTrusted.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/ratelimit"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
)

// DefaultPath is where `auditdrain run` looks for its config file. The file
// is optional: without it the built-in defaults apply.
const DefaultPath = "/etc/auditdrain/auditdrain.conf"

// ErrUnknownKey is wrapped by errors for keys auditdrain does not know.
var ErrUnknownKey = errors.New("unknown key")

// Config is the daemon's whole configuration, parsed and typed. The comment
// of each field names its key; keys.go documents them.
type Config struct {
	// Where and how records are written.
	LogDir               string           // log_dir
	LogGroup             string           // log_group: group name or gid owning the log files ("" or root: files are 0600)
	LogFormat            LogFormat        // log_format: raw | enriched
	Compression          Compression      // compression
	CompressionLevel     CompressionLevel // compression_level
	MaxLogFile           int64            // max_log_file: MiB per segment before rotation
	BatchBytes           int64            // batch_size: uncompressed bytes per batch (one zstd frame)
	FlushInterval        time.Duration    // flush_interval: a partial batch is written at most this late
	LowRateHold          time.Duration    // low_rate_hold: ... except a low rate's small batch, held this long
	FsyncInterval        time.Duration    // fsync_interval: group-commit period (0 = after every batch)
	Flush                Flush            // flush
	Freq                 int              // freq: records per fsync for flush = incremental(_async)
	MaxLogFileAction     writer.Action    // max_log_file_action
	NumLogs              int              // num_logs: segments kept with rotate (0 = all)
	MaxTotalLogSize      int64            // max_total_log_size: bytes of segments kept with rotate (0 = no cap)
	RotateInterval       time.Duration    // rotate_interval: start a new segment after this long (0 = never)
	SpaceLeft            writer.Threshold // space_left
	SpaceLeftAction      writer.Action    // space_left_action
	AdminSpaceLeft       writer.Threshold // admin_space_left
	AdminSpaceLeftAction writer.Action    // admin_space_left_action
	DiskFullAction       writer.Action    // disk_full_action
	DiskErrorAction      writer.Action    // disk_error_action
	AllowSystemActions   bool             // allow_system_actions: permit single and halt
	Writers              int              // writers: parallel compressors (0 = automatic)
	WriteEOE             bool             // write_eoe: also write the kernel's EOE records, which auditd does not
	NameFormat           NameFormat       // name_format
	Name                 string           // name: the node name when name_format = user

	// How records are read.
	MaxProcs int         // max_procs: OS threads running Go code at once (GOMAXPROCS)
	Mode     reader.Mode // mode: unicast | multicast
	RingSize int64       // ring_size: bytes between the reader and the writer
	RcvBuf   int64       // rcvbuf: socket receive buffer bytes

	ReadPace time.Duration // read_pace: the reader's wait after a small batch at low rates (0: none)

	// Kernel settings applied at start. -1 means "leave as it is".
	Enabled         int64  // enabled: 1 (or 0, or -1 to leave)
	BacklogLimit    int64  // backlog_limit
	BacklogWaitTime int64  // backlog_wait_time (jiffies, as auditctl --backlog_wait_time)
	RateLimit       int64  // rate_limit: the kernel's records/s limit
	Failure         int64  // failure: 0 silent, 1 printk, 2 panic (only with allow_panic = yes)
	AllowPanic      bool   // allow_panic
	Rules           string // rules: a file of auditctl rules loaded at start ("" = use rules_dir)
	RulesDir        string // rules_dir: augenrules-style rules.d loaded at start when rules is empty ("" = none)

	// Backpressure and loss accounting.
	OverflowAction        OverflowAction   // overflow_action
	HighWater             int              // high_water: percent of the ring above which only keep records enter (drop)
	KeepTypes             []uint16         // keep_types: record types never dropped by the daemon
	KeepKeys              []string         // keep_keys: rule keys whose events are never dropped by the daemon
	KernelBackpressure    Backpressure     // kernel_backpressure
	RestoreKernelSettings bool             // restore_kernel_settings: put back backlog_limit, backlog_wait_time, rate_limit on exit
	Limits                ratelimit.Config // ratelimit (Rules) and ratelimit_default (Default): per rule key, events/s

	// Plugins (auditd's plugins.d dispatcher, internal/plugins).
	PluginDir      string         // plugin_dir: plugin files ("" = no plugins)
	QueueDepth     int            // q_depth: records per plugin queue
	MaxRestarts    int            // max_restarts: restarts of a plugin that exits
	PluginOverflow PluginOverflow // plugin_overflow_action: on a full plugin queue

	// The daemon's control endpoint and metrics.
	ControlSocket string // control_socket: root-only unix socket for `status` and /metrics
	MetricsListen string // metrics_listen: optional TCP address for Prometheus /metrics ("" = off)

	Forward Forward // forward_*: forwarding to NATS JetStream (forward.go)
}

// Default returns the built-in configuration: every key at the default its
// row in the key table gives.
func Default() Config {
	var c Config
	for _, k := range keyTable {
		if err := k.v.set(&c, k.def); err != nil {
			panic(fmt.Sprintf("config: default of %s %q: %v", k.name, k.def, err))
		}
	}
	return c
}

// Load reads the config file at path over the defaults. A missing file is
// not an error when optional is true (the default path). The file must pass
// the checks of CheckTrusted (/dev/null, which reads empty, is accepted).
func Load(path string, optional bool) (Config, error) {
	c := Default()
	f, err := openTrusted(path)
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

// openTrusted opens a config file and checks, on the open file, that only
// root can have written it.
func openTrusted(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !isNullDevice(fi) {
		err = checkInfo(path, fi, false)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Parse applies the `key = value` lines of r (named name in errors) to c.
// A key given twice in one file is an error: it is almost always a mistake.
func (c *Config) Parse(name string, r io.Reader) error {
	seen := map[string]int{}
	return scanKeyValues(name, r, func(line int, k, v string) error {
		k = strings.ToLower(k)
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
// with "config: ", the file and the line.
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

// Set applies one key. It is how the file, `--set key=value` and the
// command-line flags reach the config. Its error names the key and the
// value; the caller says where they came from.
func (c *Config) Set(name, value string) error {
	k, ok := keyByName[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("%w %q (known keys: %s)", ErrUnknownKey, name, strings.Join(Keys(), ", "))
	}
	if err := k.v.set(c, value); err != nil {
		return fmt.Errorf("key %s = %q: %w", k.name, value, err)
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

// Validate checks what no single key can: combinations of keys, the log
// group, the node name, and again the files that must be trusted (exec
// programs, the rules file, the rules.d directory that will be loaded), as
// they are now. A Config it accepts gives no config error at start.
func (c *Config) Validate() error {
	if c.Failure == 2 && !c.AllowPanic {
		return errors.New("config: failure = 2 makes the kernel panic on any lost record; set allow_panic = yes as well if that is really wanted")
	}
	if c.NameFormat == NameUser && c.Name == "" {
		return errors.New("config: name_format = user needs name = ...")
	}
	if c.LogDir == "" {
		return errors.New("config: log_dir is empty")
	}
	if c.ControlSocket == "" {
		return errors.New("config: control_socket is empty")
	}
	for _, a := range c.actions() {
		switch a.a.Kind {
		case writer.ActionSingle, writer.ActionHalt:
			if !c.AllowSystemActions {
				return fmt.Errorf("config: %s = %s changes the system's run level; set allow_system_actions = yes as well to permit it", a.key, a.a)
			}
		case writer.ActionExec:
			if err := CheckTrusted(a.a.Path); err != nil {
				return fmt.Errorf("config: %s = %s: %w", a.key, a.a, err)
			}
		}
	}
	if c.Rules != "" {
		if err := CheckTrusted(c.Rules); err != nil {
			return fmt.Errorf("config: rules: %w", err)
		}
	} else if c.RulesDir != "" && c.Mode == reader.ModeUnicast {
		// Loaded only in unicast mode, and only if it exists.
		if _, err := os.Stat(c.RulesDir); !errors.Is(err, os.ErrNotExist) {
			if err := checkTrustedDir(c.RulesDir); err != nil {
				return fmt.Errorf("config: rules_dir: %w", err)
			}
		}
	}
	if err := c.validateForward(); err != nil {
		return err
	}
	if _, err := c.Writer(nil); err != nil {
		return err
	}
	return nil
}

// actions lists the action keys with their values.
func (c *Config) actions() []struct {
	key string
	a   writer.Action
} {
	return []struct {
		key string
		a   writer.Action
	}{
		{"max_log_file_action", c.MaxLogFileAction}, {"space_left_action", c.SpaceLeftAction},
		{"admin_space_left_action", c.AdminSpaceLeftAction}, {"disk_full_action", c.DiskFullAction},
		{"disk_error_action", c.DiskErrorAction},
	}
}

// Writer returns the writer's configuration; notify receives its events.
// It resolves log_group to a gid and name_format to a node name.
func (c Config) Writer(notify func(writer.Event)) (writer.Config, error) {
	gid, err := c.logGID()
	if err != nil {
		return writer.Config{}, err
	}
	node, err := c.node()
	if err != nil {
		return writer.Config{}, err
	}
	return writer.Config{
		Dir:                  c.LogDir,
		Format:               string(c.LogFormat),
		Compression:          string(c.Compression),
		Level:                string(c.CompressionLevel),
		BatchBytes:           int(c.BatchBytes),
		FlushInterval:        c.FlushInterval,
		LowRateHold:          c.LowRateHold,
		Flush:                string(c.Flush),
		Freq:                 c.Freq,
		FsyncInterval:        c.FsyncInterval,
		MaxSegmentBytes:      c.MaxLogFile << 20,
		MaxLogFileAction:     c.MaxLogFileAction,
		RotateInterval:       c.RotateInterval,
		NumLogs:              c.NumLogs,
		MaxTotalBytes:        c.MaxTotalLogSize,
		SpaceLeft:            c.SpaceLeft,
		SpaceLeftAction:      c.SpaceLeftAction,
		AdminSpaceLeft:       c.AdminSpaceLeft,
		AdminSpaceLeftAction: c.AdminSpaceLeftAction,
		DiskFullAction:       c.DiskFullAction,
		DiskErrorAction:      c.DiskErrorAction,
		AllowSystemActions:   c.AllowSystemActions,
		Workers:              c.Writers,
		LogGroup:             gid,
		Node:                 node,
		Notify:               notify,
	}, nil
}

// logGID resolves log_group to a gid; "" and "root" mean none (-1: files
// 0600).
func (c Config) logGID() (int, error) {
	g := c.LogGroup
	if g == "" || g == "root" || g == "0" {
		return -1, nil
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return n, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return 0, fmt.Errorf("config: log_group = %s: %w", g, err)
	}
	return strconv.Atoi(grp.Gid)
}

// NodeName returns the node name name_format and name give ("" for none),
// as the writer and the plugins prefix records with it.
func (c Config) NodeName() (string, error) { return c.node() }

// node returns the node name to prefix records with ("" for none).
func (c Config) node() (string, error) {
	switch c.NameFormat {
	case NameUser:
		return c.Name, nil
	case NameHostname:
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("config: name_format = hostname: %w", err)
		}
		if i := strings.IndexByte(h, '.'); i > 0 {
			h = h[:i]
		}
		return h, nil
	}
	return "", nil
}
