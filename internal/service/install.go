package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/auditdrain/auditdrain/internal/config"
)

// AuditdUnit is the unit Install disables and Uninstall enables again.
const AuditdUnit = "auditd.service"

// DefaultUnitDir is where Install writes the unit.
const DefaultUnitDir = "/etc/systemd/system"

// ErrNeedsSystemd is returned for an Offline install or uninstall that was
// also asked to start, stop, enable or disable a service.
var ErrNeedsSystemd = errors.New("service: starting or stopping services needs systemctl (not Offline)")

// Runner runs a command and returns its standard output. A command that
// fails (a non-zero exit) returns an error carrying its standard error.
// ExecRunner runs it for real; tests pass a recorder.
type Runner func(name string, args ...string) (stdout string, err error)

// ExecRunner runs the command with os/exec.
func ExecRunner(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("service: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// InstallOptions says what Install writes and runs. The zero value installs
// the unit (running DefaultBinary) and the default config below "/", runs
// `systemctl daemon-reload` if the unit changed, and touches no service.
type InstallOptions struct {
	Root       string // every path written is below Root ("" = "/"); tests use a temporary directory
	UnitDir    string // where the unit goes ("" = DefaultUnitDir)
	ConfigPath string // the config file written if absent ("" = config.DefaultPath)
	Binary     string // ExecStart= binary ("" = DefaultBinary)

	// ReplaceAuditd runs `systemctl disable --now auditd.service` (if
	// auditd is enabled or running) and then starts auditdrain as Start
	// does.
	ReplaceAuditd bool
	// Start runs `systemctl enable --now auditdrain.service` unless it is
	// enabled and running already (then `systemctl restart` if the unit
	// changed).
	Start bool
	// Offline writes the files and runs no command, for an image being
	// built or a system where systemd is not running.
	Offline bool

	Run Runner // nil: ExecRunner
}

// UninstallOptions says what Uninstall removes and runs.
type UninstallOptions struct {
	Root       string // as in InstallOptions
	UnitDir    string // as in InstallOptions
	ConfigPath string // the config file, reported as kept: Uninstall never removes it

	// RestoreAuditd runs `systemctl enable --now auditd.service` (unless
	// it is enabled and running), after auditdrain has been stopped.
	RestoreAuditd bool
	Offline       bool   // remove the unit file and run no command
	Run           Runner // nil: ExecRunner
}

// Change is one thing Install or Uninstall did, or found already done.
type Change struct {
	Action string // created, updated, removed, ran (changes); unchanged, kept, absent (no change)
	Target string // a path, a command line, or a unit with a note
}

// Report lists what Install or Uninstall did, in order.
type Report struct {
	Changes []Change
}

// Changed reports whether anything was changed.
func (r Report) Changed() bool {
	for _, c := range r.Changes {
		switch c.Action {
		case "created", "updated", "removed", "ran":
			return true
		}
	}
	return false
}

// String prints one change per line: the action, padded, and the target.
func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%-9s %s\n", c.Action, c.Target)
	}
	return b.String()
}

func (r *Report) add(action, target string) {
	r.Changes = append(r.Changes, Change{action, target})
}

// Install writes the unit and, if absent, the default config, then runs
// the systemctl commands the options ask for. It is idempotent: what is in
// place already is reported as unchanged or kept, and only the commands
// needed are run. On error the report lists what was done before it.
func Install(o InstallOptions) (Report, error) {
	var r Report
	if o.Offline && (o.ReplaceAuditd || o.Start) {
		return r, ErrNeedsSystemd
	}
	unit, err := Unit(o.Binary)
	if err != nil {
		return r, err
	}
	unitPath := filepath.Join(rootOf(o.Root), orDefault(o.UnitDir, DefaultUnitDir), UnitName)
	unitAction, err := writeIfChanged(unitPath, unit, 0o644)
	if err != nil {
		return r, err
	}
	r.add(unitAction, unitPath)

	confPath := filepath.Join(rootOf(o.Root), orDefault(o.ConfigPath, config.DefaultPath))
	switch _, err := os.Lstat(confPath); {
	case err == nil:
		r.add("kept", confPath)
	case errors.Is(err, fs.ErrNotExist):
		if err := writeAtomic(confPath, DefaultConfig(), 0o640); err != nil {
			return r, err
		}
		r.add("created", confPath)
	default:
		return r, fmt.Errorf("service: %w", err)
	}
	// The active plugins: listed, and what they need given in a drop-in.
	dropInChanged, err := applyPlugins(&r, rootOf(o.Root), filepath.Dir(unitPath), confPath)
	if err != nil {
		return r, err
	}
	if o.Offline {
		return r, nil
	}

	sys := systemctl{run: orRunner(o.Run), r: &r}
	if unitAction != "unchanged" || dropInChanged {
		if err := sys.do("daemon-reload"); err != nil {
			return r, err
		}
	}
	if o.ReplaceAuditd {
		st, err := sys.state(AuditdUnit)
		if err != nil {
			return r, err
		}
		switch {
		case !st.found():
			r.add("absent", AuditdUnit+" (not installed)")
		case st.enabled() || st.running():
			if err := sys.do("disable", "--now", AuditdUnit); err != nil {
				return r, err
			}
		default:
			r.add("unchanged", AuditdUnit+" (disabled and stopped already)")
		}
	}
	if o.ReplaceAuditd || o.Start {
		st, err := sys.state(UnitName)
		if err != nil {
			return r, err
		}
		switch {
		case !st.enabled() || !st.running():
			err = sys.do("enable", "--now", UnitName)
		case unitAction == "updated" || dropInChanged:
			err = sys.do("restart", UnitName)
		default:
			r.add("unchanged", UnitName+" (enabled and running already)")
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// Uninstall stops and disables auditdrain, removes its unit, reloads
// systemd and, with RestoreAuditd, enables and starts auditd. The config
// file is kept. It is idempotent; on error the report lists what was done
// before it.
func Uninstall(o UninstallOptions) (Report, error) {
	var r Report
	if o.Offline && o.RestoreAuditd {
		return r, ErrNeedsSystemd
	}
	sys := systemctl{run: orRunner(o.Run), r: &r}
	unitPath := filepath.Join(rootOf(o.Root), orDefault(o.UnitDir, DefaultUnitDir), UnitName)
	_, err := os.Lstat(unitPath)
	installed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("service: %w", err)
	}
	if installed && !o.Offline {
		st, err := sys.state(UnitName)
		if err != nil {
			return r, err
		}
		if st.enabled() || st.running() {
			if err := sys.do("disable", "--now", UnitName); err != nil {
				return r, err
			}
		}
	}
	if installed {
		if err := os.Remove(unitPath); err != nil {
			return r, fmt.Errorf("service: %w", err)
		}
		if err := syncDir(filepath.Dir(unitPath)); err != nil {
			return r, err
		}
		r.add("removed", unitPath)
	} else {
		r.add("absent", unitPath)
	}
	// The plugins' drop-in, if install wrote one, and its directory if
	// nothing else is in it.
	dropIn := filepath.Join(filepath.Dir(unitPath), PluginDropIn)
	if err := os.Remove(dropIn); err == nil {
		r.add("removed", dropIn)
		_ = os.Remove(filepath.Dir(dropIn)) // fails, harmlessly, when the admin's drop-ins are there
	} else if !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("service: %w", err)
	}
	confPath := filepath.Join(rootOf(o.Root), orDefault(o.ConfigPath, config.DefaultPath))
	if _, err := os.Lstat(confPath); err == nil {
		r.add("kept", confPath)
	}
	if o.Offline {
		return r, nil
	}
	if installed {
		if err := sys.do("daemon-reload"); err != nil {
			return r, err
		}
	}
	if o.RestoreAuditd {
		st, err := sys.state(AuditdUnit)
		if err != nil {
			return r, err
		}
		switch {
		case !st.found():
			return r, fmt.Errorf("service: cannot restore %s: it is not installed (apt-get install auditd)", AuditdUnit)
		case !st.enabled() || !st.running():
			if err := sys.do("enable", "--now", AuditdUnit); err != nil {
				return r, err
			}
		default:
			r.add("unchanged", AuditdUnit+" (enabled and running already)")
		}
	}
	return r, nil
}

// systemctl runs systemctl through a Runner, recording changes in r.
type systemctl struct {
	run Runner
	r   *Report
}

// do runs a systemctl command that changes something.
func (s systemctl) do(args ...string) error {
	if _, err := s.run("systemctl", args...); err != nil {
		return fmt.Errorf("service: systemctl %s: %w", strings.Join(args, " "), err)
	}
	s.r.add("ran", "systemctl "+strings.Join(args, " "))
	return nil
}

// unitState is what `systemctl show` says about a unit.
type unitState struct {
	load, active, file string // LoadState, ActiveState, UnitFileState
}

func (u unitState) found() bool { return u.load != "" && u.load != "not-found" }

func (u unitState) enabled() bool {
	return strings.HasPrefix(u.file, "enabled") || strings.HasPrefix(u.file, "linked")
}

func (u unitState) running() bool {
	return u.active != "" && u.active != "inactive" && u.active != "failed"
}

// state asks systemd about unit; it changes nothing.
func (s systemctl) state(unit string) (unitState, error) {
	out, err := s.run("systemctl", "show", "--property=LoadState,ActiveState,UnitFileState", unit)
	if err != nil {
		return unitState{}, fmt.Errorf("service: asking systemd about %s: %w", unit, err)
	}
	var u unitState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "LoadState":
			u.load = v
		case "ActiveState":
			u.active = v
		case "UnitFileState":
			u.file = v
		}
	}
	if u.load == "" {
		return u, fmt.Errorf("service: systemctl show %s printed no LoadState: %q", unit, out)
	}
	return u, nil
}

// writeIfChanged writes data to path unless it holds data already, and
// says what it did: created, updated or unchanged.
func writeIfChanged(path string, data []byte, mode fs.FileMode) (string, error) {
	old, err := os.ReadFile(path)
	action := "updated"
	switch {
	case err == nil && bytes.Equal(old, data):
		return "unchanged", nil
	case errors.Is(err, fs.ErrNotExist):
		action = "created"
	case err != nil:
		return "", fmt.Errorf("service: %w", err)
	}
	if err := writeAtomic(path, data, mode); err != nil {
		return "", err
	}
	return action, nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, fsynced and renamed over path, and fsyncs the directory. It
// creates the missing directories (0755).
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("service: writing %s: %w", f.Name(), err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("service: fsync %s: %w", dir, err)
	}
	return nil
}

func rootOf(root string) string { return orDefault(root, "/") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orRunner(r Runner) Runner {
	if r == nil {
		return ExecRunner
	}
	return r
}
