package auditctl

import (
	"errors"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var (
	// ErrPanicRefused is returned, without anything being sent to the
	// kernel, by Set and SetFailure for a request that would set failure
	// mode 2 (kernel panic on a lost record) without allowPanic.
	ErrPanicRefused = errors.New("auditctl: refusing to set failure mode 2 (kernel panic on every lost record)")

	// ErrNotDialed is returned by the methods of a Conn that was not
	// returned by Dial (its zero value).
	ErrNotDialed = errors.New("auditctl: Conn not opened by Dial")

	// ErrControlLine is wrapped in the *RuleError ParseRules returns for a
	// line that is an auditctl command (-D, -b, -f, -e, -r,
	// --backlog_wait_time, ...) rather than a rule: ParseRules reads rules
	// only (rulesd reads files with control lines). Its text carries no
	// package prefix because it only ever appears inside a *RuleError, which
	// has one.
	ErrControlLine = errors.New("an auditctl command (control line), not a rule")
)

// KernelErrno returns the errno with which the kernel refused a request,
// when err carries the kernel's answer (an NLMSG_ERROR), and false for any
// other error: no reply in time, a closed or failed socket, a request
// refused before it was sent (ErrPanicRefused, ErrNotDialed).
func KernelErrno(err error) (unix.Errno, bool) {
	var oe *netlink.OpError
	if !errors.As(err, &oe) {
		return 0, false
	}
	errno, ok := oe.Err.(unix.Errno)
	return errno, ok && errno > 0
}
