package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/plugins"
)

// PluginDropIn is the drop-in, below the unit directory, that Install
// writes when an active plugin needs more than the unit's sandbox gives
// (the network, a socket directory), and removes when none does: the base
// unit stays as narrow as auditdrain alone needs.
const PluginDropIn = UnitName + ".d/plugins.conf"

// pluginNeeds is what the unit must allow for the plugins of Debian's
// audispd-plugins that need more than the base unit gives, by program name.
var pluginNeeds = map[string]struct {
	net  bool   // AF_INET AF_INET6
	note string // what it is for
}{
	"audisp-remote":      {true, "sends to remote_server over TCP; spools in /var/spool/audit"},
	"audispd-zos-remote": {true, "sends to a z/OS LDAP server"},
	"audisp-syslog":      {false, "logs to /dev/log"},
}

// sandbox is what the active plugins need from the unit.
type sandbox struct {
	net      bool
	rwPaths  []string
	programs []string // the plugins' lines for the report
	warnings []string
}

// pluginSandbox reads the config's plugin_dir (below root) as the daemon
// will and works out what its active plugins need.
func pluginSandbox(root, confPath string) sandbox {
	var s sandbox
	if os.Geteuid() != 0 {
		// Only root's config and plugin files are trusted, and only root
		// installs units: a test as another user has no plugins.
		return s
	}
	cfg, err := config.Load(confPath, true)
	if err != nil {
		s.warnings = append(s.warnings, fmt.Sprintf("%v: assuming plugin_dir = %s", err, config.Default().PluginDir))
		cfg = config.Default()
	}
	if cfg.PluginDir == "" {
		return s
	}
	dir := filepath.Join(root, cfg.PluginDir)
	cfgs, err := plugins.LoadDir(dir)
	if err != nil {
		for _, e := range unjoin(err) {
			s.warnings = append(s.warnings, fmt.Sprintf("plugin not run: %v", e))
		}
	}
	for _, c := range cfgs {
		if !c.Active {
			continue
		}
		if c.Path == plugins.BuiltinAFUnix {
			line := fmt.Sprintf("%s: %s %s", c.Name, c.Path, strings.Join(c.Args, " "))
			for _, a := range c.Args {
				if filepath.IsAbs(a) {
					d := filepath.Dir(a)
					s.rwPaths = append(s.rwPaths, d)
					line += fmt.Sprintf(" (its socket's directory %s made writable by %s)", d, PluginDropIn)
				}
			}
			s.programs = append(s.programs, line)
			continue
		}
		need, known := pluginNeeds[filepath.Base(c.Path)]
		line := fmt.Sprintf("%s: %s, %s format", c.Name, c.Path, c.Format)
		switch {
		case !known:
			s.warnings = append(s.warnings, fmt.Sprintf("plugin %s: %s runs inside auditdrain's sandbox (ProtectSystem=strict, RestrictAddressFamilies=AF_NETLINK AF_UNIX, no new privileges); if it needs more, add it with `systemctl edit auditdrain`", c.Name, c.Path))
		case need.net:
			s.net = true
			line += fmt.Sprintf(" (%s: AF_INET AF_INET6 allowed by %s)", need.note, PluginDropIn)
		default:
			line += " (" + need.note + ")"
		}
		s.programs = append(s.programs, line)
	}
	slices.Sort(s.rwPaths)
	s.rwPaths = slices.Compact(s.rwPaths)
	return s
}

// dropIn returns the drop-in's text, or nil when the plugins need nothing
// beyond the base unit.
func (s sandbox) dropIn() []byte {
	if !s.net && len(s.rwPaths) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Written by `auditdrain install`: what the active plugins of plugin_dir\n# need beyond auditdrain's own sandbox. Rewritten or removed at each install.\n[Service]\n")
	if s.net {
		b.WriteString("# audisp-remote and the like send over TCP.\nRestrictAddressFamilies=AF_INET AF_INET6\n")
	}
	for _, p := range s.rwPaths {
		b.WriteString("ReadWritePaths=-" + p + "\n")
	}
	return []byte(b.String())
}

// applyPlugins lists the active plugins and their warnings in r, and
// writes or removes the drop-in. It reports whether the drop-in changed.
func applyPlugins(r *Report, root, unitDir, confPath string) (bool, error) {
	s := pluginSandbox(root, confPath)
	for _, p := range s.programs {
		r.add("plugin", p)
	}
	for _, w := range s.warnings {
		r.add("warning", w)
	}
	path := filepath.Join(unitDir, PluginDropIn)
	text := s.dropIn()
	if text == nil {
		switch err := os.Remove(path); {
		case err == nil:
			r.add("removed", path)
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		default:
			return false, fmt.Errorf("service: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("service: %w", err)
	}
	action, err := writeIfChanged(path, text, 0o644)
	if err != nil {
		return false, err
	}
	r.add(action, path)
	return action != "unchanged", nil
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
