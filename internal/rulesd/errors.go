package rulesd

import "errors"

var (
	// ErrInvalid is returned by Load for a Set that Merge returned with
	// errors: it is never loaded, not even in part.
	ErrInvalid = errors.New("rulesd: rule set has errors; not loading it")

	// ErrUnsupported is wrapped in the errors for auditctl commands that a
	// rules directory may not use with auditdrain (-d, -W, -D -k, -l, ...)
	// and by Load for --loginuid-immutable, which auditctl.Conn cannot send.
	ErrUnsupported = errors.New("rulesd: not supported")

	// ErrLocked is returned by Load, before anything is changed, when the
	// kernel's audit configuration is locked (enabled 2) until reboot.
	ErrLocked = errors.New("rulesd: kernel audit configuration is locked (enabled 2) until reboot")

	// ErrPartialLoad is wrapped by the error Load returns when a set with -c
	// or -i (continue on errors) was loaded but some rules failed: the
	// others are in the kernel.
	ErrPartialLoad = errors.New("rulesd: some rules failed to load (continuing as -c/-i ask)")
)
