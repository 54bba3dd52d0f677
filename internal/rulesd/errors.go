package rulesd

import "errors"

var (
	// ErrInvalid is returned by Load and Reload for a Set that Merge or
	// ReadFile returned with errors: it is never loaded, not even in part.
	ErrInvalid = errors.New("rulesd: rule set has errors; not loading it")

	// ErrUnsupported is wrapped in the errors for auditctl commands that a
	// rules file or directory may not use with auditdrain (-d, -W, -D -k,
	// -l, ...) and by Load for --loginuid-immutable, which auditctl.Conn
	// cannot send. Its text carries no package prefix because it only ever
	// appears inside an error that has one.
	ErrUnsupported = errors.New("not supported by auditdrain")

	// ErrLocked is returned by Load and Reload, before anything is changed, when the
	// kernel's audit configuration is locked (enabled 2) until reboot.
	ErrLocked = errors.New("rulesd: kernel audit configuration is locked (enabled 2) until reboot")
)
