package auditctl

import "errors"

var (
	// ErrPanicRefused is returned, without anything being sent to the
	// kernel, by Set and SetFailure for a request that would set failure
	// mode 2 (kernel panic on a lost record) without allowPanic.
	ErrPanicRefused = errors.New("auditctl: refusing to set failure mode 2 (kernel panic on every lost record)")

	// ErrNotDialed is returned by the methods of a Conn that was not
	// returned by Dial (its zero value).
	ErrNotDialed = errors.New("auditctl: Conn not opened by Dial")

	// ErrControlLine is wrapped in the *RuleError for a rules-file line that
	// is an auditctl control command (-D, -b, -f, -e, -r,
	// --backlog_wait_time, ...) rather than a rule. Its text carries no
	// package prefix because it only ever appears inside a *RuleError, which
	// has one.
	ErrControlLine = errors.New("control line not supported in a rules file yet")
)
