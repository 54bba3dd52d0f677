package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// ImportAuditdConf reads auditd's own config file (auditd.conf, auditd
// 3.0.9's keys) over the defaults. Keys with the same meaning in auditdrain
// are honoured; keys auditdrain does not implement are returned in ignored
// (in file order, "key" or "key=VALUE" when only that value is not
// implemented), for one warning; they are not errors. A line that is not
// `key = value` or names a key auditd does not know is an error naming the
// file and line, as are values auditdrain cannot accept for a key it
// honours. A key given twice takes the last value, as in auditd.
//
// The mapping:
//
//	log_file              log_dir = the directory of log_file: auditdrain writes its
//	                      segments (audit-NNNNNNNNNN.log.zst) beside auditd's audit.log*
//	log_group             log_group
//	name_format           name_format (none, hostname, user; fqd and numeric are ignored)
//	name                  name
//	max_log_file          max_log_file (MiB per log file or segment in both)
//	flush, freq           flush, freq (the same modes; auditdrain's are group-committed)
//	num_logs              num_logs
//	max_log_file_action   max_log_file_action
//	space_left, admin_space_left, and the space, disk_full and disk_error actions:
//	                      the same keys (values lowercased: ROTATE is rotate; EXEC
//	                      keeps its path, which must pass CheckTrusted); email is
//	                      ignored, the default stays
//	local_events          yes: honoured (always so); no: error, auditdrain reads local events
//	write_logs            yes: honoured (always so); no: error, auditdrain only writes logs
//	log_format            log_format (raw, enriched: auditd's ENRICHED, byte for byte);
//	                      nolog: error, as write_logs = no
//	plugin_dir, q_depth, max_restarts
//	                      the same keys (auditdrain runs plugins.d as auditd 3.0.9 does)
//	overflow_action       plugin_overflow_action (auditd's overflow_action is its
//	                      dispatcher queue's; auditdrain's overflow_action is its ring's):
//	                      ignore, syslog, suspend; single and halt are listed (they cannot
//	                      hold: a plugin does not stop the host) and syslog applies
//	disp_qos              lossy: honoured (always so); lossless: listed, as it cannot
//	                      hold: the drain never waits for a plugin
//	all other keys        ignored: priority_boost, e-mail, the network (tcp_*, transport,
//	                      krb5_*, use_libwrap, distribute_network), dispatcher (auditdrain
//	                      runs plugins itself) and end_of_event_timeout.
//
// Values of ignored keys are not checked. The file must pass the checks of
// CheckTrusted, as auditd requires of it.
func ImportAuditdConf(path string) (Config, []string, error) {
	c := Default()
	f, err := openTrusted(path)
	if err != nil {
		return c, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var (
		ignoredAt = map[string]int{}    // key -> the (last) line where it was ignored
		ignoredAs = map[string]string{} // key -> what to list
	)
	err = scanKeyValues(path, f, func(line int, k, v string) error {
		k = strings.ToLower(k)
		handle, known := auditdKeys[k]
		if !known {
			return fmt.Errorf("%w %q: not an auditd.conf key", ErrUnknownKey, k)
		}
		ign, err := handle(&c, v)
		if err != nil {
			return fmt.Errorf("key %s = %q: %w", k, v, err)
		}
		delete(ignoredAt, k) // the last value counts
		if ign != "" {
			ignoredAt[k], ignoredAs[k] = line, ign
		}
		return nil
	})
	if err != nil {
		return c, nil, err
	}
	keys := slices.SortedFunc(maps.Keys(ignoredAt), func(a, b string) int { return ignoredAt[a] - ignoredAt[b] })
	ignored := make([]string, len(keys))
	for i, k := range keys {
		ignored[i] = ignoredAs[k]
	}
	return c, ignored, nil
}

// auditdKey applies one auditd.conf key to c. It returns "" when the key
// was honoured, or what to list as ignored.
type auditdKey func(c *Config, v string) (ignored string, err error)

// ignore is the auditdKey of a key auditdrain does not implement.
func ignore(key string) auditdKey {
	return func(*Config, string) (string, error) { return key, nil }
}

// as applies the value to the auditdrain key of the same meaning.
func as(key string) auditdKey {
	return func(c *Config, v string) (string, error) { return "", keyByName[key].v.set(c, v) }
}

// lower applies the value, its first word lowercased (auditd writes
// ROTATE, auditdrain rotate; "exec /path" keeps its path), to the auditdrain
// key of the same name. The listed values auditdrain does not implement
// (email) are listed as ignored, leaving auditdrain's default.
func lower(key string, ignored ...string) auditdKey {
	return func(c *Config, v string) (string, error) {
		word, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		val := strings.ToLower(word)
		if slices.Contains(ignored, val) {
			return key + "=" + v, nil
		}
		if rest != "" {
			val += " " + rest
		}
		return "", keyByName[key].v.set(c, val)
	}
}

// auditdKeys lists every key of auditd 3.0.9's auditd.conf (src/auditd-config.c).
var auditdKeys = map[string]auditdKey{
	"local_events": func(_ *Config, v string) (string, error) {
		return "", yesOnly(v, "auditdrain always reads the kernel's local events")
	},
	"write_logs": func(_ *Config, v string) (string, error) {
		return "", yesOnly(v, "auditdrain's job is writing the log")
	},
	"log_file": func(c *Config, v string) (string, error) {
		if !filepath.IsAbs(v) {
			return "", errors.New("not an absolute path")
		}
		return "", keyByName["log_dir"].v.set(c, filepath.Dir(filepath.Clean(v)))
	},
	"log_format": func(c *Config, v string) (string, error) {
		if strings.EqualFold(v, "nolog") {
			return "", errors.New("nolog (write no log) is not something auditdrain can do")
		}
		return "", keyByName["log_format"].v.set(c, v)
	},
	"log_group": as("log_group"),
	"flush":     lower("flush"),
	"freq":      as("freq"),
	"num_logs":  as("num_logs"),
	"name_format": func(c *Config, v string) (string, error) {
		switch strings.ToLower(v) {
		case "fqd", "numeric":
			return "name_format=" + v, nil
		}
		return "", keyByName["name_format"].v.set(c, v)
	},
	"name":                as("name"),
	"max_log_file":        as("max_log_file"),
	"max_log_file_action": lower("max_log_file_action"),
	"dispatcher":          ignore("dispatcher"),
	"disp_qos": func(_ *Config, v string) (string, error) {
		if strings.EqualFold(v, "lossless") {
			return "disp_qos=lossless (cannot hold: the drain never waits for a plugin; a plugin whose queue is full loses records, counted as loss cause plugin)", nil
		}
		return "", nil // lossy: what auditdrain always does
	},
	"space_left":              lower("space_left"),
	"space_left_action":       lower("space_left_action", "email"),
	"action_mail_acct":        ignore("action_mail_acct"),
	"verify_email":            ignore("verify_email"),
	"admin_space_left":        lower("admin_space_left"),
	"admin_space_left_action": lower("admin_space_left_action", "email"),
	"disk_full_action":        lower("disk_full_action"),
	"disk_error_action":       lower("disk_error_action"),
	"priority_boost":          ignore("priority_boost"),
	"tcp_listen_port":         ignore("tcp_listen_port"),
	"tcp_listen_queue":        ignore("tcp_listen_queue"),
	"tcp_max_per_addr":        ignore("tcp_max_per_addr"),
	"use_libwrap":             ignore("use_libwrap"),
	"tcp_client_ports":        ignore("tcp_client_ports"),
	"tcp_client_max_idle":     ignore("tcp_client_max_idle"),
	"transport":               ignore("transport"),
	"enable_krb5":             ignore("enable_krb5"),
	"krb5_principal":          ignore("krb5_principal"),
	"krb5_key_file":           ignore("krb5_key_file"),
	"distribute_network":      ignore("distribute_network"),
	"q_depth":                 as("q_depth"),
	"max_restarts":            as("max_restarts"),
	"plugin_dir":              as("plugin_dir"),
	"overflow_action": func(c *Config, v string) (string, error) {
		switch val := strings.ToLower(v); val {
		case "single", "halt":
			return "overflow_action=" + v + " (cannot hold: a plugin's full queue does not stop the host; plugin_overflow_action = syslog)", nil
		default:
			return "", keyByName["plugin_overflow_action"].v.set(c, val)
		}
	},
	"end_of_event_timeout": ignore("end_of_event_timeout"),
}

// yesOnly accepts "yes" and rejects "no" with why.
func yesOnly(v, why string) error {
	switch strings.ToLower(v) {
	case "yes":
		return nil
	case "no":
		return fmt.Errorf("no is not supported: %s", why)
	}
	return errors.New("want yes or no")
}
