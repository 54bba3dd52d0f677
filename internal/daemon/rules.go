package daemon

import (
	"errors"
	"fmt"
	"os"
	"sync"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/rulesd"
	"github.com/auditdrain/auditdrain/internal/service"
	"github.com/auditdrain/auditdrain/reader"
)

// ruleSource is what the daemon loads into the kernel: a rules file (rules
// = FILE, auditctl -R's format) or a rules.d directory (rules_dir), both
// read by rulesd, control lines (-D, -b, -f, -e, -c, -i...) included. It is
// parsed completely before anything is sent to the kernel. The kernel may
// still refuse some of its lines (a watch on a directory this host lacks):
// those are kept in refused, logged and shown by Status, and the daemon
// runs with every rule that loaded.
type ruleSource struct {
	mu      sync.Mutex  // a reload (SIGHUP) replaces all of it
	set     *rulesd.Set // nil: no rules
	where   string
	loaded  int                   // rules of set in the kernel after the last load or reload
	refused []*auditctl.RuleError // lines of set the kernel refused then
}

// prepareRules reads the configured rules without touching the kernel. Its
// errors carry no "daemon:" prefix: the caller says what was refused.
func prepareRules(c config.Config) (*ruleSource, error) {
	var (
		set *rulesd.Set
		err error
	)
	where := c.Rules
	switch {
	case c.Rules != "":
		set, err = rulesd.ReadFile(c.Rules)
	case c.Mode == reader.ModeMulticast:
		// Beside a registered daemon, rules.d is that daemon's business.
		return &ruleSource{where: "none (multicast: the registered daemon's rules)"}, nil
	case c.RulesDir != "":
		if _, err := os.Stat(c.RulesDir); errors.Is(err, os.ErrNotExist) {
			return &ruleSource{where: "none (" + c.RulesDir + " does not exist)"}, nil
		}
		where = c.RulesDir
		set, err = rulesd.Merge(c.RulesDir)
	default:
		return &ruleSource{where: "none"}, nil
	}
	if set == nil {
		return nil, err
	}
	if err := set.Err(); err != nil {
		return nil, err // one error per bad line, each naming its file and line
	}
	if err := set.Check(c.AllowPanic); err != nil {
		return nil, err
	}
	return &ruleSource{set: set, where: where}, nil
}

// loadRules sends the rules to the kernel (rulesd.Set.Apply: nothing when
// the kernel already has them, else Load: in order, a
// rule already loaded counts as loaded, a refused line is reported and
// loading goes on or stops as the rules' -c and -i say) and logs what the
// kernel refused. Only what keeps the rules from being applied at all is
// an error.
//
// known is the kernel's status when the caller knows it (nothing was sent
// since it was read): Apply then sends no status request of its own.
func (d *Daemon) loadRules(allowPanic bool, known *libaudit.AuditStatus) error {
	r := d.rules
	if r.set == nil {
		return nil
	}
	for _, w := range r.set.Warnings {
		d.logf("rules: warning: %s", w)
	}
	rep, unchanged, err := r.set.Apply(d.ctl, known, allowPanic)
	if unchanged {
		d.logf("rules: the kernel already has the %s of %s: kept as they are (no -D, no window without rules)", plural(len(r.set.Rules), "rule"), r.where)
	}
	r.mu.Lock()
	r.loaded, r.refused = rep.Loaded, rep.Refused
	r.mu.Unlock()
	d.logRefused(rep)
	if err != nil {
		return fmt.Errorf("daemon: loading the rules of %s: %w", r.where, err)
	}
	return nil
}

// logRefused logs the lines the kernel refused in a load or reload.
func (d *Daemon) logRefused(rep rulesd.Report) {
	for _, re := range rep.Refused {
		d.logf("%v", re)
	}
	if rep.Stopped {
		d.logf("rules: stopped at the first line the kernel refused, as auditctl does without -c or -i before it: %s not applied; running with the %s loaded", plural(rep.Skipped, "line"), plural(rep.Loaded, "rule"))
	}
}

// summary describes the loaded rules for the start message.
func (r *ruleSource) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := fmt.Sprintf("%s loaded from %s", plural(r.loaded, "rule"), r.where)
	if n := len(r.refused); n > 0 {
		s += fmt.Sprintf(", %s refused by the kernel", plural(n, "line"))
	}
	return s
}

// plural is "1 rule", "2 rules".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// statusRules returns the number of rules loaded and the refused lines, for
// Status.
func (r *ruleSource) statusRules() (int, []RuleError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RuleError
	for _, re := range r.refused {
		e := RuleError{File: re.File, Line: re.Line, Rule: re.Text, Error: re.Err.Error()}
		var errno unix.Errno
		if errors.As(re.Err, &errno) {
			e.Error = errno.Error()
		}
		out = append(out, e)
	}
	return r.loaded, out
}

// Reload re-reads the rules (SIGHUP) and applies the difference
// (rulesd.Set.Reload): rules only in the new set are added, in order, then
// rules only in the old set are deleted. Rules in both stay loaded
// throughout, so their events keep being audited; the data socket and the
// ring stay open, so no record is lost. A rule the kernel refuses is logged
// and shown by Status, not an error; the new set's -c and -i decide, as at
// start, whether adding goes on past it. The other control lines (-D, -b,
// -f, -e...) take effect at the next start. It also reads plugin_dir again
// and applies it (see reloadPlugins). Safe from any goroutine.
func (d *Daemon) Reload(cfg config.Config) error {
	// Under systemd, RELOADING=1 now and READY=1 when done, so that
	// `systemctl reload` waits for the rules and plugins to be applied.
	if n := service.NewNotifier(); n.Enabled() {
		n.Reloading()
		defer func() { n.Ready(d.statusLine()) }()
	}
	return errors.Join(d.reloadPlugins(cfg), d.reloadRules(cfg))
}

// reloadRules is Reload's part for the rules.
func (d *Daemon) reloadRules(cfg config.Config) error {
	next, err := prepareRules(cfg)
	if err != nil {
		return fmt.Errorf("daemon: reload refused, rules unchanged: %w", err)
	}
	if d.status0.Enabled == 2 {
		return fmt.Errorf("daemon: reload refused: the kernel's audit configuration is locked (enabled 2) until reboot")
	}
	d.rules.mu.Lock()
	old := d.rules.set
	d.rules.mu.Unlock()
	set := next.set
	if set == nil {
		set = &rulesd.Set{} // no rules any more: delete the old ones
	}
	rep, err := set.Reload(d.ctl, old)
	// With nothing counted, Reload stopped in its checks or at its first
	// request: the kernel still has the old set's rules, so the old set
	// stays what the next reload starts from.
	if err != nil && rep.Loaded+rep.Deleted+len(rep.Refused) == 0 {
		return fmt.Errorf("daemon: reload refused, rules unchanged: %w", err)
	}
	d.rules.mu.Lock()
	d.rules.set, d.rules.where = next.set, next.where
	d.rules.loaded, d.rules.refused = rep.Loaded, rep.Refused
	d.rules.mu.Unlock()
	d.logRefused(rep)
	d.logf("reloaded rules from %s: %d added, %d removed, %d loaded, %d refused",
		next.where, rep.Loaded-rep.Present, rep.Deleted, rep.Loaded, len(rep.Refused))
	if err != nil {
		return fmt.Errorf("daemon: reload: %w", err)
	}
	return nil
}

// Rotate starts a new log segment now (SIGUSR1). Safe from any goroutine.
func (d *Daemon) Rotate() error {
	w := d.wcur.Load()
	if w == nil {
		return nil
	}
	d.logf("rotating the log segment")
	return w.Rotate()
}

// Resume resumes writing after a disk action suspended it (SIGUSR2). Safe
// from any goroutine.
func (d *Daemon) Resume() error {
	w := d.wcur.Load()
	if w == nil {
		return nil
	}
	d.logf("resuming writing")
	w.Resume()
	return nil
}
