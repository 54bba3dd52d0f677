package plugins

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/auditdrain/auditdrain/internal/config"
)

// Type is a plugin's type = key: how it is run.
type Type int

const (
	// TypeAlways (type = always) is a program the dispatcher starts and
	// feeds on its stdin.
	TypeAlways Type = iota
	// TypeBuiltin (type = builtin) is built into the dispatcher; the only
	// builtin is builtin_af_unix.
	TypeBuiltin
)

// String returns the type as a plugin file spells it.
func (t Type) String() string {
	if t == TypeBuiltin {
		return "builtin"
	}
	return "always"
}

// Format is a plugin's format = key: what each record looks like on the
// wire (see the package documentation).
type Format int

const (
	// FormatString (format = string, auditd's default) sends one text
	// line per record.
	FormatString Format = iota
	// FormatBinary (format = binary) sends auditd's dispatcher header and
	// the record data in fixed-size frames.
	FormatBinary
)

// String returns the format as a plugin file spells it.
func (f Format) String() string {
	if f == FormatBinary {
		return "binary"
	}
	return "string"
}

// BuiltinAFUnix is the path = value of the af_unix builtin.
const BuiltinAFUnix = "builtin_af_unix"

// maxLine is the longest line auditd 3.0.9's plugin file parser reads
// (fgets into a 160-byte buffer: 158 characters and the newline); longer
// lines are skipped with a warning.
const maxLine = 158

// Config is one plugin file of plugin_dir, as auditd 3.0.9 reads it
// (audisp/audispd-pconfig.c).
type Config struct {
	// Name is the file's base name ("au-remote.conf"). It identifies the
	// plugin across reloads, as in auditd.
	Name string
	// File is the path the config was read from ("" when built in code).
	File string
	// Active is active = yes (default no). Only active plugins run.
	Active bool
	// Direction is the direction = value ("out", the only one auditd
	// accepts) or "" when the file does not set it.
	Direction string
	// Path is the program to run, or BuiltinAFUnix.
	Path string
	// Type is the type = value (default always).
	Type Type
	// Args are the args = values: at most two, as auditd passes.
	Args []string
	// Format is the format = value (default string).
	Format Format
	// Warnings are the problems auditd only logs and skips (a line too
	// long, args beyond the second); the caller should log them.
	Warnings []string
}

// LoadDir reads every plugin file in dir as auditd 3.0.9 does: every entry
// whose name does not start with '.' and has at most one '.' (so
// "x.conf.rpmsave" and ".hidden" are skipped, but any other name is read,
// not only *.conf), in name order. A missing dir means no plugins.
//
// A file with an error is skipped, as auditd skips it, and the error names
// it (file:line for a syntax error). LoadDir returns the configs of all
// the files that loaded, active or not, together with the errors of those
// that did not, joined (errors.Join): the caller logs the error and runs the
// rest. A plugin file, or an active plugin's program, that someone other
// than root could have written is refused (config.CheckTrusted; auditd
// refuses a plugin file that is not root's or is world writable, and a
// program that is not root's).
func LoadDir(dir string) ([]Config, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugins: reading plugin_dir: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.Count(n, ".") > 1 {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var cfgs []Config
	var errs []error
	for _, n := range names {
		c, err := LoadFile(filepath.Join(dir, n))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs = append(cfgs, c)
	}
	return cfgs, errors.Join(errs...)
}

// LoadFile reads one plugin file as auditd 3.0.9 does (see LoadDir). The
// error starts with "plugins: " and names the file.
func LoadFile(file string) (Config, error) {
	c := Config{Name: filepath.Base(file), File: file}
	if err := checkTrusted(file); err != nil {
		return c, fmt.Errorf("plugins: plugin file: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return c, fmt.Errorf("plugins: %w", err)
	}
	if err := c.parse(data); err != nil {
		return c, err
	}
	if err := c.check(); err != nil {
		return c, fmt.Errorf("plugins: %s: %w", file, err)
	}
	return c, nil
}

// parse reads the key = value lines of a plugin file into c.
func (c *Config) parse(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), len(data)+1)
	for lineno := 1; sc.Scan(); lineno++ {
		line := sc.Text()
		if len(line) > maxLine {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: line longer than %d characters skipped, as auditd does", c.File, lineno, maxLine))
			continue
		}
		// auditd splits on spaces only (strtok " "): a tab is part of a word.
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 3 || f[1] != "=" {
			return fmt.Errorf("plugins: %s:%d: want \"key = value\" (words separated by spaces), got %q", c.File, lineno, line)
		}
		key, val, opts := strings.ToLower(f[0]), f[2], f[3:]
		if key == "args" {
			if len(opts) > 1 {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: args beyond the second (%s) ignored, as auditd does", c.File, lineno, strings.Join(opts[1:], " ")))
				opts = opts[:1]
			}
			c.Args = append([]string{val}, opts...)
			continue
		}
		if len(opts) > 0 {
			return fmt.Errorf("plugins: %s:%d: key %q takes one value, got %q", c.File, lineno, f[0], strings.Join(f[2:], " "))
		}
		var err error
		switch key {
		case "active":
			c.Active, err = oneOf(val, map[string]bool{"yes": true, "no": false})
		case "direction":
			c.Direction, err = oneOf(val, map[string]string{"out": "out"})
		case "path":
			c.Path, err = pathValue(val)
		case "type":
			c.Type, err = oneOf(val, map[string]Type{"always": TypeAlways, "builtin": TypeBuiltin})
		case "format":
			c.Format, err = oneOf(val, map[string]Format{"string": FormatString, "binary": FormatBinary})
		default:
			return fmt.Errorf("plugins: %s:%d: unknown key %q", c.File, lineno, f[0])
		}
		if err != nil {
			return fmt.Errorf("plugins: %s:%d: key %q: %w", c.File, lineno, f[0], err)
		}
	}
	return nil
}

// oneOf looks up a value case-insensitively, as auditd does.
func oneOf[T any](val string, m map[string]T) (T, error) {
	if v, ok := m[strings.ToLower(val)]; ok {
		return v, nil
	}
	want := make([]string, 0, len(m))
	for k := range m {
		want = append(want, k)
	}
	sort.Strings(want)
	var zero T
	return zero, fmt.Errorf("value %q is not one of %s", val, strings.Join(want, ", "))
}

// pathValue checks a path = value as auditd does: a builtin_ name, or a
// path whose directory is at least 4 characters long ("/var").
func pathValue(v string) (string, error) {
	if len(v) >= 8 && strings.EqualFold(v[:8], "builtin_") {
		return v, nil
	}
	if d := filepath.Dir(v); len(d) < 4 || !filepath.IsAbs(v) {
		return "", fmt.Errorf("value %q: directory %q is too short (want an absolute path such as /sbin/audisp-remote)", v, d)
	}
	return v, nil
}

// check is auditd's sanity check of an active plugin: a path, and for a
// program a trusted regular file with at least the 0750 permission bits;
// for a builtin, a builtin auditdrain has and valid arguments.
func (c *Config) check() error {
	if !c.Active {
		return nil
	}
	if c.Path == "" {
		return errors.New("plugin is active but has no path")
	}
	if c.Type == TypeBuiltin || strings.HasPrefix(strings.ToLower(c.Path), "builtin_") {
		if c.Type != TypeBuiltin || !strings.EqualFold(c.Path, BuiltinAFUnix) {
			return fmt.Errorf("path %s with type %s: the only builtin is %s with type builtin", c.Path, c.Type, BuiltinAFUnix)
		}
		_, _, err := afUnixArgs(c.Args)
		return err
	}
	if err := checkTrusted(c.Path); err != nil {
		return fmt.Errorf("plugin program: %w", err)
	}
	fi, err := os.Stat(c.Path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o750 != 0o750 {
		return fmt.Errorf("plugin program %s has mode %04o; auditd requires at least 0750 (owner rwx, group rx)", c.Path, perm)
	}
	return nil
}

// checkTrusted is the trust check of plugin files and programs:
// config.CheckTrusted (owned by root, not writable by group or others).
// Tests replace it so that they run without root.
var checkTrusted = config.CheckTrusted
