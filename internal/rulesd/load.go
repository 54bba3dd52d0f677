package rulesd

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// auditStatusBacklogWaitTimeActual is AUDIT_STATUS_BACKLOG_WAIT_TIME_ACTUAL:
// an AUDIT_SET with exactly this mask resets backlog_wait_time_actual.
const auditStatusBacklogWaitTimeActual libaudit.AuditStatusMask = 0x80

// Report is what Load or Reload did to the kernel.
type Report struct {
	// Loaded counts the rules of the set that are in the kernel
	// afterwards: added, or already there (Present).
	Loaded int
	// Present counts, among Loaded, the rules an identical copy of which
	// was already loaded: the kernel listed it, or answered EEXIST to
	// adding it. Not an error: a restart finds the rules of the previous
	// run.
	Present int
	// Deleted counts the rules deleted: by -D (Load), or rules of the old
	// set that the new one does not have (Reload).
	Deleted int
	// Refused lists the lines the kernel refused, in the order they were
	// applied. Err wraps the kernel's errno ("refused by the kernel: no
	// such file or directory" for a watch on a missing directory).
	Refused []*auditctl.RuleError
	// Stopped reports that loading stopped at the last refused line,
	// because neither -c nor -i was in effect there (auditctl's default);
	// Skipped counts the lines, -e included, that were not applied.
	Stopped bool
	Skipped int

	// failed: a refusal that auditctl -R would report in its exit status
	// (one under -c, or one that stopped loading; not one under -i only).
	failed bool
}

// Err reports the refusals as auditctl -R's exit status would: nil when
// nothing was refused or every refusal happened under -i alone, otherwise
// an error that lists them.
func (r *Report) Err() error {
	if !r.failed {
		return nil
	}
	errs := make([]error, 0, len(r.Refused)+1)
	for _, re := range r.Refused {
		errs = append(errs, re)
	}
	if r.Stopped {
		errs = append(errs, fmt.Errorf("rulesd: stopped at the first line the kernel refused, as auditctl does without -c or -i: %d lines not applied", r.Skipped))
	}
	return errors.Join(errs...)
}

// onError is what a line the kernel refuses does to the lines after it,
// following auditctl's -c and -i.
type onError int

const (
	errStop     onError = iota // no -c or -i yet: stop loading
	errIgnore                  // -i: go on; the refusal does not make loading fail
	errContinue                // -c: go on; loading fails at the end
)

// next is the policy after the line whose control is c (zero for a rule).
func (p onError) next(c control) onError {
	switch {
	case c.kind == ctlContinue:
		return errContinue
	case c.kind == ctlIgnore && p < errIgnore:
		return errIgnore
	}
	return p
}

// refuse records that the kernel refused l (with the errno from err, when
// it answered) and reports whether to go on. An error that is not the
// kernel's answer (no reply, a failed socket) is returned as fatal.
func (r *Report) refuse(l Line, err error, p onError) (goOn bool, fatal error) {
	errno, ok := auditctl.KernelErrno(err)
	if !ok {
		return false, fmt.Errorf("rulesd: %s:%d %q: %w", l.File, l.Line, strings.TrimSpace(l.Text), err)
	}
	r.Refused = append(r.Refused, &auditctl.RuleError{File: l.File, Line: l.Line, Text: strings.TrimSpace(l.Text), Err: fmt.Errorf("refused by the kernel: %w", errno)})
	if p != errIgnore {
		r.failed = true
	}
	if p == errStop {
		r.Stopped = true
		return false, nil
	}
	return true, nil
}

// Load applies the set to the kernel through c, line by line in the order
// augenrules writes them (the order `auditctl -R audit.rules` reads them
// in): -D, -b, -f, the other lines as written, -e last.
//
// Before anything is sent it refuses, with an error and no change, a set
// with errors (ErrInvalid), failure mode 2 without allowPanic
// (auditctl.ErrPanicRefused), --loginuid-immutable (ErrUnsupported) and a
// locked kernel (ErrLocked).
//
// Unlike auditctl, it takes a rule the kernel already has (it lists it, or
// answers EEXIST) as loaded, not as an error, and does not send it twice.
// As auditctl does, it adds a line the kernel refuses (a watch on a missing
// directory, a field this kernel does not support...) to Report.Refused
// and, without -c or -i before that line, stops there (the lines after it,
// -e included, are not applied); with -c or -i it goes on. What was
// applied stays applied: nothing is rolled back. Report.Err says
// whether auditctl would have failed. Load returns an error only for what
// stopped it other than a refusal: the checks above, or a request the
// kernel did not answer.
//
// Load must not run concurrently with anything else changing the kernel's
// rules.
func (s *Set) Load(c *auditctl.Conn, allowPanic bool) (Report, error) {
	var rep Report
	if _, err := s.check(c, nil, allowPanic); err != nil {
		return rep, err
	}
	have, err := loadedRules(c)
	if err != nil {
		return rep, err
	}
	return rep, s.run(c, s.steps, have, allowPanic, &rep)
}

// run applies steps in order, with auditctl's -c and -i semantics (see
// Load), and counts what it did in rep. It returns an error only for a
// request the kernel did not answer.
func (s *Set) run(c *auditctl.Conn, steps []step, have map[string]bool, allowPanic bool, rep *Report) error {
	policy := errStop
	for i, st := range steps {
		err := s.applyStep(c, st, have, allowPanic, rep)
		policy = policy.next(st.ctl)
		if err == nil {
			continue
		}
		goOn, fatal := rep.refuse(st.line, err, policy)
		if fatal != nil {
			return fatal
		}
		if !goOn {
			rep.Skipped = len(steps) - i - 1
			break
		}
	}
	return nil
}

// Check reports, without the kernel, what makes Load refuse the set before
// sending anything: errors found when reading it (ErrInvalid), failure mode
// 2 without allowPanic (auditctl.ErrPanicRefused), --loginuid-immutable
// (ErrUnsupported). A daemon calls it before it touches the kernel.
func (s *Set) Check(allowPanic bool) error {
	if s.err != nil {
		return fmt.Errorf("%w (%s)", ErrInvalid, countErrors(s.err))
	}
	if s.Failure != nil && *s.Failure == unix.AUDIT_FAIL_PANIC && !allowPanic {
		return fmt.Errorf("rulesd: %s: %w", s.where(ctlFailure), auditctl.ErrPanicRefused)
	}
	if s.LoginuidImmutable {
		return fmt.Errorf("rulesd: %s: --loginuid-immutable: %w: auditctl.Conn cannot set kernel audit features yet; run `auditctl --loginuid-immutable` instead", s.where(ctlLoginuidImmutable), ErrUnsupported)
	}
	return nil
}

// check refuses, before anything is sent, what Load and Apply must not
// do, and returns the kernel's status: known when the caller has it (no
// request), else read.
func (s *Set) check(c *auditctl.Conn, known *libaudit.AuditStatus, allowPanic bool) (libaudit.AuditStatus, error) {
	var st libaudit.AuditStatus
	if err := s.Check(allowPanic); err != nil {
		return st, err
	}
	if c == nil {
		return st, fmt.Errorf("rulesd: %w", auditctl.ErrNotDialed)
	}
	if known != nil {
		st = *known
	} else {
		var err error
		if st, err = c.Status(); err != nil {
			return st, fmt.Errorf("rulesd: %w", err)
		}
	}
	if st.Enabled == 2 {
		return st, ErrLocked
	}
	return st, nil
}

// loadedRules returns the set of the kernel's rules, in wire format.
func loadedRules(c *auditctl.Conn) (map[string]bool, error) {
	loaded, err := c.Rules()
	if err != nil {
		return nil, fmt.Errorf("rulesd: %w", err)
	}
	have := make(map[string]bool, len(loaded))
	for _, w := range loaded {
		have[string(w)] = true
	}
	return have, nil
}

// applyStep sends one line to the kernel and counts what it did in rep.
// have is the set of the kernel's rules, kept up to date.
//
// A rule in have is not sent again. The kernel answers EEXIST to an
// identical rule, but not to a -A rule: it compares the new rule's flags,
// which carry AUDIT_FILTER_PREPEND, with those of the rule it holds, from
// which it has cleared the flag, so a -A rule sent twice is loaded twice.
func (s *Set) applyStep(c *auditctl.Conn, st step, have map[string]bool, allowPanic bool, rep *Report) error {
	if st.ctl.kind == 0 {
		r := s.Rules[st.rule]
		if have[string(r.Wire)] {
			rep.Loaded++
			rep.Present++
			return nil
		}
		err := c.AddRule(r.AddWire())
		if err == nil || errors.Is(err, unix.EEXIST) {
			have[string(r.Wire)] = true
			rep.Loaded++
			if err != nil {
				rep.Present++
			}
			return nil
		}
		return err
	}
	v := st.ctl.value
	switch st.ctl.kind {
	case ctlDelete:
		n, err := c.DeleteAllRules()
		rep.Deleted += n
		if err == nil {
			clear(have)
		} else if now, lerr := loadedRules(c); lerr == nil {
			clear(have)
			maps.Copy(have, now)
		}
		return err
	case ctlBacklog:
		return c.SetBacklogLimit(v)
	case ctlFailure:
		return c.SetFailure(v, allowPanic)
	case ctlEnabled:
		return c.SetEnabled(v)
	case ctlRateLimit:
		return c.SetRateLimit(v)
	case ctlBacklogWaitTime:
		return c.SetBacklogWaitTime(v)
	case ctlResetLost:
		return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusLost})
	case ctlResetBacklogWaitTimeActual:
		return c.Set(libaudit.AuditStatus{Mask: auditStatusBacklogWaitTimeActual})
	}
	return nil // -c and -i change how Load goes on; --loginuid-immutable was refused by check
}

// Reload changes the kernel's rules from those of old (nil: none) to those
// of s and touches nothing else: it adds, in order, the rules of s that the
// kernel does not list, then deletes the rules of old that s does not have.
// Rules in both stay loaded throughout, so their events keep being audited.
// Control lines are not applied, except -c and -i, which decide as in Load
// whether adding goes on past a rule the kernel refuses; a refused rule is
// reported in Report.Refused, not as an error. The rules of old that s
// lacks are deleted even when adding stopped. Reload returns an error for
// what Load refuses before sending anything, for a request the kernel did
// not answer, and for rules it failed to delete.
func (s *Set) Reload(c *auditctl.Conn, old *Set) (Report, error) {
	var rep Report
	if s.err != nil {
		return rep, fmt.Errorf("%w (%s)", ErrInvalid, countErrors(s.err))
	}
	if c == nil {
		return rep, fmt.Errorf("rulesd: %w", auditctl.ErrNotDialed)
	}
	if st, err := c.Status(); err != nil {
		return rep, fmt.Errorf("rulesd: %w", err)
	} else if st.Enabled == 2 {
		return rep, ErrLocked
	}
	have, err := loadedRules(c)
	if err != nil {
		return rep, err
	}
	kept := maps.Clone(have) // the rules loaded before Reload
	want := make(map[string]bool, len(s.Rules))
	for _, r := range s.Rules {
		want[string(r.Wire)] = true
	}
	var rules []step // the rules, -c and -i
	for _, st := range s.steps {
		if st.ctl.kind == 0 || st.ctl.kind == ctlContinue || st.ctl.kind == ctlIgnore {
			rules = append(rules, st)
		}
	}
	if err := s.run(c, rules, have, false, &rep); err != nil {
		return rep, err
	}
	var errs []error
	if old != nil {
		for i := len(old.Rules) - 1; i >= 0; i-- {
			r := old.Rules[i]
			if want[string(r.Wire)] || !kept[string(r.Wire)] {
				continue
			}
			if err := c.DeleteRule(r.Wire); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("rulesd: deleting %s:%d %q: %w", r.File, r.Line, r.Text, err))
				continue
			}
			rep.Deleted++
		}
	}
	return rep, errors.Join(errs...)
}

// where names the file, line and text a control setting came from.
func (s *Set) where(k ctlKind) string {
	l, ok := s.origin[k]
	if !ok {
		return "(no line)"
	}
	return fmt.Sprintf("%s:%d %q", l.File, l.Line, strings.TrimSpace(l.Text))
}

// countErrors describes a joined error by the number of its parts.
func countErrors(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return fmt.Sprintf("%d errors", len(j.Unwrap()))
	}
	return "1 error"
}
