package rulesd

import (
	"errors"
	"fmt"
	"strings"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// auditStatusBacklogWaitTimeActual is AUDIT_STATUS_BACKLOG_WAIT_TIME_ACTUAL:
// an AUDIT_SET with exactly this mask resets backlog_wait_time_actual.
const auditStatusBacklogWaitTimeActual libaudit.AuditStatusMask = 0x80

// Load applies the set to the kernel through c, in this order:
//
//  1. checks that change nothing: a set with errors is refused
//     (ErrInvalid), failure mode 2 without allowPanic
//     (auditctl.ErrPanicRefused), --loginuid-immutable (ErrUnsupported), a
//     locked kernel (ErrLocked);
//  2. the settings: -b, -f, -r, --backlog_wait_time, --reset-lost,
//     --reset_backlog_wait_time_actual; the first failure stops Load;
//  3. -D and the rules, as one transaction: -D deletes every rule, then the
//     rules are added in order; if one fails, the rules added are deleted
//     and, after a -D, the rules deleted are added back, and Load returns
//     the failure (naming the rule's file and line) without applying -e.
//     With -c or -i in the set, a failing rule is skipped instead, the
//     others are loaded, -e is applied, and the error wraps
//     ErrPartialLoad;
//  4. -e, last, so that -e 2 locks the configuration only once everything
//     else is in.
//
// Load must not run concurrently with anything else changing the kernel's
// rules: the transaction in step 3 is Load's own, not the kernel's.
func (s *Set) Load(c *auditctl.Conn, allowPanic bool) error {
	if s.err != nil {
		return fmt.Errorf("%w (%s)", ErrInvalid, countErrors(s.err))
	}
	if s.Failure != nil && *s.Failure == unix.AUDIT_FAIL_PANIC && !allowPanic {
		return fmt.Errorf("rulesd: %s: %w", s.where(ctlFailure), auditctl.ErrPanicRefused)
	}
	if s.LoginuidImmutable {
		return fmt.Errorf("rulesd: %s: --loginuid-immutable: %w: auditctl.Conn cannot set kernel audit features yet; run `auditctl --loginuid-immutable` instead", s.where(ctlLoginuidImmutable), ErrUnsupported)
	}
	if c == nil {
		return fmt.Errorf("rulesd: Load: %w", auditctl.ErrNotDialed)
	}
	st, err := c.Status()
	if err != nil {
		return fmt.Errorf("rulesd: %w", err)
	}
	if st.Enabled == 2 {
		return ErrLocked
	}

	if err := s.loadSettings(c, allowPanic); err != nil {
		return err
	}

	var failed []error
	if s.ContinueOnError {
		failed = s.addEach(c)
	} else if err := s.addAll(c); err != nil {
		return err
	}

	if s.Enabled != nil {
		if err := c.SetEnabled(*s.Enabled); err != nil {
			failed = append(failed, fmt.Errorf("rulesd: %s: %w", s.where(ctlEnabled), err))
			if !s.ContinueOnError {
				return failed[len(failed)-1]
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %w", ErrPartialLoad, errors.Join(failed...))
	}
	return nil
}

// loadSettings applies the status settings of the set.
func (s *Set) loadSettings(c *auditctl.Conn, allowPanic bool) error {
	type step struct {
		kind ctlKind
		set  func() error
	}
	var steps []step
	if v := s.Backlog; v != nil {
		steps = append(steps, step{ctlBacklog, func() error { return c.SetBacklogLimit(*v) }})
	}
	if v := s.Failure; v != nil {
		steps = append(steps, step{ctlFailure, func() error { return c.SetFailure(*v, allowPanic) }})
	}
	if v := s.RateLimit; v != nil {
		steps = append(steps, step{ctlRateLimit, func() error { return c.SetRateLimit(*v) }})
	}
	if v := s.BacklogWaitTime; v != nil {
		steps = append(steps, step{ctlBacklogWaitTime, func() error { return c.SetBacklogWaitTime(*v) }})
	}
	if s.ResetLost {
		steps = append(steps, step{ctlResetLost, func() error { return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusLost}) }})
	}
	if s.ResetBacklogWaitTimeActual {
		steps = append(steps, step{ctlResetBacklogWaitTimeActual, func() error { return c.Set(libaudit.AuditStatus{Mask: auditStatusBacklogWaitTimeActual}) }})
	}
	for _, st := range steps {
		if err := st.set(); err != nil {
			return fmt.Errorf("rulesd: %s: %w", s.where(st.kind), err)
		}
	}
	return nil
}

// addAll runs -D and adds the rules, all or nothing.
func (s *Set) addAll(c *auditctl.Conn) error {
	var old [][]byte
	if s.Delete {
		var err error
		if old, err = c.Rules(); err != nil {
			return fmt.Errorf("rulesd: %s: %w", s.where(ctlDelete), err)
		}
		if _, err := c.DeleteAllRules(); err != nil {
			return errors.Join(fmt.Errorf("rulesd: %s: %w", s.where(ctlDelete), err), restore(c, old))
		}
	}
	for k, r := range s.Rules {
		err := c.AddRule(r.AddWire())
		if err == nil {
			continue
		}
		errs := []error{fmt.Errorf("rulesd: loading %s:%d %q: %w", r.File, r.Line, r.Text, err)}
		for i := k - 1; i >= 0; i-- {
			if err := c.DeleteRule(s.Rules[i].Wire); err != nil {
				errs = append(errs, fmt.Errorf("rulesd: rolling back %s:%d: %w", s.Rules[i].File, s.Rules[i].Line, err))
			}
		}
		return errors.Join(append(errs, restore(c, old))...)
	}
	return nil
}

// addEach runs -D and adds every rule it can, for -c and -i.
func (s *Set) addEach(c *auditctl.Conn) []error {
	var failed []error
	if s.Delete {
		if _, err := c.DeleteAllRules(); err != nil {
			failed = append(failed, fmt.Errorf("rulesd: %s: %w", s.where(ctlDelete), err))
		}
	}
	for _, r := range s.Rules {
		if err := c.AddRule(r.AddWire()); err != nil {
			failed = append(failed, fmt.Errorf("rulesd: %s:%d: %w", r.File, r.Line, err))
		}
	}
	return failed
}

// restore adds back the rules a -D deleted (those not in the kernel).
func restore(c *auditctl.Conn, old [][]byte) error {
	var errs []error
	for _, w := range old {
		if err := c.AddRule(w); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("rulesd: restoring a rule deleted by -D: %w", err))
		}
	}
	return errors.Join(errs...)
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

// Unload deletes the set's rules from the kernel, in reverse order; rules
// that are not there are skipped. It changes no setting. For a reload of a
// set without -D: old.Unload, then new.Load (and old.Load again if that
// fails), since loading a rule that is present fails with EEXIST.
func (s *Set) Unload(c *auditctl.Conn) error {
	if c == nil {
		return fmt.Errorf("rulesd: Unload: %w", auditctl.ErrNotDialed)
	}
	var errs []error
	for i := len(s.Rules) - 1; i >= 0; i-- {
		r := s.Rules[i]
		if err := c.DeleteRule(r.Wire); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("rulesd: unloading %s:%d: %w", r.File, r.Line, err))
		}
	}
	return errors.Join(errs...)
}
