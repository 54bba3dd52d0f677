package config

import (
	"strconv"
	"time"
)

// valueTable renders every key's value in the syntax its parser accepts, so
// that Set(key, c.Value(key)) leaves c unchanged. TestValueCoversEveryKey
// fails for a key in keyTable missing here.
var valueTable = map[string]func(c *Config) string{
	"log_dir":                 func(c *Config) string { return c.LogDir },
	"log_group":               func(c *Config) string { return c.LogGroup },
	"compression":             func(c *Config) string { return c.Compression },
	"compression_level":       func(c *Config) string { return c.CompressionLevel },
	"max_log_file":            func(c *Config) string { return itoa(c.MaxLogFile) },
	"batch_size":              func(c *Config) string { return FormatSize(c.BatchBytes) },
	"flush_interval":          func(c *Config) string { return durString(c.FlushInterval) },
	"fsync_interval":          func(c *Config) string { return durString(c.FsyncInterval) },
	"writers":                 func(c *Config) string { return strconv.Itoa(c.Writers) },
	"write_eoe":               func(c *Config) string { return yesNo(c.WriteEOE) },
	"name_format":             func(c *Config) string { return c.NameFormat },
	"name":                    func(c *Config) string { return c.Name },
	"max_procs":               func(c *Config) string { return strconv.Itoa(c.MaxProcs) },
	"mode":                    func(c *Config) string { return c.Mode },
	"ring_size":               func(c *Config) string { return FormatSize(c.RingSize) },
	"rcvbuf":                  func(c *Config) string { return FormatSize(c.RcvBuf) },
	"enabled":                 func(c *Config) string { return itoa(c.Enabled) },
	"backlog_limit":           func(c *Config) string { return itoa(c.BacklogLimit) },
	"backlog_wait_time":       func(c *Config) string { return itoa(c.BacklogWaitTime) },
	"rate_limit":              func(c *Config) string { return itoa(c.RateLimit) },
	"failure":                 func(c *Config) string { return itoa(c.Failure) },
	"allow_panic":             func(c *Config) string { return yesNo(c.AllowPanic) },
	"rules":                   func(c *Config) string { return c.Rules },
	"flush":                   func(c *Config) string { return c.Flush },
	"freq":                    func(c *Config) string { return strconv.Itoa(c.Freq) },
	"max_log_file_action":     func(c *Config) string { return c.MaxLogFileAction },
	"num_logs":                func(c *Config) string { return strconv.Itoa(c.NumLogs) },
	"max_total_log_size":      func(c *Config) string { return FormatSize(c.MaxTotalLogSize) },
	"rotate_interval":         func(c *Config) string { return durString(c.RotateInterval) },
	"space_left":              func(c *Config) string { return c.SpaceLeft },
	"space_left_action":       func(c *Config) string { return c.SpaceLeftAction },
	"admin_space_left":        func(c *Config) string { return c.AdminSpaceLeft },
	"admin_space_left_action": func(c *Config) string { return c.AdminSpaceLeftAction },
	"disk_full_action":        func(c *Config) string { return c.DiskFullAction },
	"disk_error_action":       func(c *Config) string { return c.DiskErrorAction },
	"allow_system_actions":    func(c *Config) string { return yesNo(c.AllowSystemActions) },
	"rules_dir":               func(c *Config) string { return c.RulesDir },
	"overflow_action":         func(c *Config) string { return c.OverflowAction },
	"high_water":              func(c *Config) string { return itoa(c.HighWater) },
	"keep_types":              func(c *Config) string { return c.KeepTypes },
	"keep_keys":               func(c *Config) string { return c.KeepKeys },
	"kernel_backpressure":     func(c *Config) string { return c.KernelBackpressure },
	"restore_kernel_settings": func(c *Config) string { return yesNo(c.RestoreKernelSettings) },
	"ratelimit":               func(c *Config) string { return c.RateLimits },
	"ratelimit_default":       func(c *Config) string { return c.RateLimitDefault },
	"metrics_listen":          func(c *Config) string { return c.MetricsListen },
	"control_socket":          func(c *Config) string { return c.ControlSocket },
}

// Value returns the value of key in c as a config file would write it
// ("" for an unknown key): c.Set(key, c.Value(key)) changes nothing. Sizes
// use the largest exact K, M or G suffix, durations Go's syntax, booleans
// yes or no.
func (c Config) Value(key string) string {
	if f, ok := valueTable[key]; ok {
		return f(&c)
	}
	return ""
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// durString is time.Duration.String, which ParseDuration reads back.
func durString(d time.Duration) string { return d.String() }
