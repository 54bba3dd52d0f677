package daemon

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/rulesd"
	"github.com/auditdrain/auditdrain/reader"
)

// ruleSource is what the daemon loads into the kernel: one rules file
// (rules = FILE, auditctl syntax, rules only) or a rules.d directory merged
// as augenrules does (rules_dir, with -D, -b, -f, -e...). It is parsed
// completely before anything is sent to the kernel.
type ruleSource struct {
	mu    sync.Mutex // a reload (SIGHUP) replaces set and file
	set   *rulesd.Set
	file  []auditctl.Rule
	where string
}

// prepareRules parses the configured rules without touching the kernel.
func prepareRules(c config.Config) (*ruleSource, error) {
	switch {
	case c.Rules != "":
		rs, err := auditctl.ParseRulesFile(c.Rules)
		if err != nil {
			return nil, err
		}
		return &ruleSource{file: rs, where: c.Rules}, nil
	case c.Mode == reader.ModeMulticast:
		// Beside a registered daemon, rules.d is that daemon's business.
		return &ruleSource{where: "none (multicast: the registered daemon's rules)"}, nil
	case c.RulesDir != "":
		if _, err := os.Stat(c.RulesDir); errors.Is(err, os.ErrNotExist) {
			return &ruleSource{where: "none (" + c.RulesDir + " does not exist)"}, nil
		}
		set, err := rulesd.Merge(c.RulesDir)
		if set == nil {
			return nil, err
		}
		if err := set.Err(); err != nil {
			return nil, fmt.Errorf("daemon: rules in %s: %w", c.RulesDir, err)
		}
		return &ruleSource{set: set, where: c.RulesDir}, nil
	}
	return &ruleSource{where: "none"}, nil
}

func (r *ruleSource) count() int {
	if r.set != nil {
		return len(r.set.Rules)
	}
	return len(r.file)
}

// setsEnabled reports whether the rules set the enabled flag themselves (-e).
func (r *ruleSource) setsEnabled() bool { return r.set != nil && r.set.Enabled != nil }

// load sends the rules to the kernel, all or nothing. Rules of a rules file
// that the kernel already has (a restart, or a second run with the same
// file) are kept as they are rather than refused as duplicates.
func (r *ruleSource) load(c *auditctl.Conn, allowPanic bool) error {
	if r.set != nil {
		return r.set.Load(c, allowPanic)
	}
	if len(r.file) == 0 {
		return nil
	}
	loaded, err := c.Rules()
	if err != nil {
		return fmt.Errorf("daemon: listing the kernel's rules: %w", err)
	}
	have := map[string]bool{}
	for _, w := range loaded {
		have[string(w)] = true
	}
	var add []auditctl.Rule
	for _, rule := range r.file {
		if !have[string(rule.Wire)] {
			add = append(add, rule)
		}
	}
	return c.AddRules(add)
}

// list returns the rules of the source, in load order.
func (r *ruleSource) list() []auditctl.Rule {
	if r.set != nil {
		return r.set.Rules
	}
	return r.file
}

// Reload re-reads the rules (SIGHUP) and applies the difference: rules only
// in the new set are added first (all or nothing), then rules only in the
// old set are deleted. Rules in both stay loaded throughout, so their events
// keep being audited; the data socket and the ring stay open, so no record
// is lost. Control lines (-D, -b, -f, -e...) of a rules.d take effect at
// the next start. Safe from any goroutine.
func (d *Daemon) Reload(cfg config.Config) error {
	next, err := prepareRules(cfg)
	if err != nil {
		return err
	}
	if d.status0.Enabled == 2 {
		return fmt.Errorf("daemon: reload refused: the kernel's audit configuration is locked (enabled 2) until reboot")
	}
	d.rules.mu.Lock()
	defer d.rules.mu.Unlock()
	have := map[string]bool{}
	for _, r := range d.rules.list() {
		have[string(r.Wire)] = true
	}
	// Rules someone loaded by hand that the new set also has are kept.
	if loaded, err := d.ctl.Rules(); err == nil {
		for _, w := range loaded {
			have[string(w)] = true
		}
	}
	want := map[string]bool{}
	var add []auditctl.Rule
	for _, r := range next.list() {
		want[string(r.Wire)] = true
		if !have[string(r.Wire)] {
			add = append(add, r)
		}
	}
	if err := d.ctl.AddRules(add); err != nil {
		return fmt.Errorf("daemon: reload refused, rules unchanged: %w", err)
	}
	var errs []error
	removed := 0
	for _, r := range d.rules.list() {
		if want[string(r.Wire)] {
			continue
		}
		if err := d.ctl.DeleteRule(r.Wire); err != nil {
			errs = append(errs, fmt.Errorf("daemon: reload: deleting %s:%d: %w", r.File, r.Line, err))
			continue
		}
		removed++
	}
	d.rules.set, d.rules.file, d.rules.where = next.set, next.file, next.where
	d.logf("reloaded rules from %s: %d added, %d removed, %d in all", next.where, len(add), removed, next.count())
	return errors.Join(errs...)
}

// Rotate starts a new log segment now (SIGUSR1). Safe from any goroutine.
func (d *Daemon) Rotate() error {
	if d.w == nil {
		return nil
	}
	d.logf("rotating the log segment")
	return d.w.Rotate()
}

// Resume resumes writing after a disk action suspended it (SIGUSR2). Safe
// from any goroutine.
func (d *Daemon) Resume() error {
	if d.w == nil {
		return nil
	}
	d.logf("resuming writing")
	d.w.Resume()
	return nil
}
