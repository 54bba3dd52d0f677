package rulesd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ctlKind is an auditctl command that a rules file may contain.
type ctlKind int

const (
	ctlDelete ctlKind = iota + 1
	ctlBacklog
	ctlFailure
	ctlEnabled
	ctlRateLimit
	ctlBacklogWaitTime
	ctlLoginuidImmutable
	ctlResetLost
	ctlResetBacklogWaitTimeActual
	ctlContinue // -c
	ctlIgnore   // -i
)

// control is one parsed control line.
type control struct {
	kind  ctlKind
	value uint32
}

// unsupportedShort explains the auditctl options that are commands a rules
// file or directory may not use with auditdrain.
var unsupportedShort = map[byte]string{
	'd': "-d (delete a rule)",
	'W': "-W (delete a watch)",
	'l': "-l (list rules)",
	's': "-s (print status)",
	'R': "-R (read a rules file)",
	't': "-t (trim subtrees)",
	'q': "-q (make a mount point equivalent)",
	'v': "-v (print the version)",
	'h': "-h (help)",
}

// parseControl recognises a line (split into args) that is an auditctl
// command rather than a rule. isControl false means: parse it as a rule.
// One command per line, as augenrules' placement assumes.
func parseControl(args []string) (c control, isControl bool, err error) {
	a := args[0]
	rest := args[1:]
	// value returns the option's argument: attached ("-b8192",
	// "--backlog_wait_time=5") or the next word.
	value := func(attached string, hasAttached bool) (string, error) {
		if hasAttached {
			return attached, noMore(rest)
		}
		if len(rest) == 0 {
			return "", fmt.Errorf("%s needs a value", a)
		}
		v := rest[0]
		rest = rest[1:]
		return v, noMore(rest)
	}
	switch {
	case a == "--" || len(a) < 2 || a[0] != '-':
		return c, false, nil
	case strings.HasPrefix(a, "--"):
		name, v, hasV := strings.Cut(a[2:], "=")
		switch name {
		case "backlog_wait_time":
			s, err := value(v, hasV)
			if err != nil {
				return c, true, err
			}
			n, err := parseCount(s)
			return control{ctlBacklogWaitTime, n}, true, err
		case "loginuid-immutable", "reset-lost", "reset_backlog_wait_time_actual":
			if hasV {
				return c, true, fmt.Errorf("--%s takes no value", name)
			}
			kind := map[string]ctlKind{"loginuid-immutable": ctlLoginuidImmutable, "reset-lost": ctlResetLost, "reset_backlog_wait_time_actual": ctlResetBacklogWaitTimeActual}[name]
			return control{kind: kind}, true, noMore(rest)
		case "signal", "help":
			return c, true, fmt.Errorf("--%s: %w in rules", name, ErrUnsupported)
		}
		return c, false, nil
	}
	opt, attached := a[1], a[2:]
	switch opt {
	case 'b', 'r':
		s, err := value(attached, attached != "")
		if err != nil {
			return c, true, err
		}
		n, err := parseCount(s)
		kind := ctlBacklog
		if opt == 'r' {
			kind = ctlRateLimit
		}
		return control{kind, n}, true, err
	case 'f', 'e':
		s, err := value(attached, attached != "")
		if err != nil {
			return c, true, err
		}
		kind, what := ctlFailure, "failure mode (-f)"
		if opt == 'e' {
			kind, what = ctlEnabled, "enabled (-e)"
		}
		switch s {
		case "0", "1", "2":
			return control{kind, uint32(s[0] - '0')}, true, nil
		}
		return c, true, fmt.Errorf("%s must be 0, 1 or 2, not %q", what, s)
	case 'D':
		if attached != "" || len(rest) > 0 {
			return c, true, fmt.Errorf("-D with arguments (deleting rules by key): %w", ErrUnsupported)
		}
		return control{kind: ctlDelete}, true, nil
	case 'c', 'i':
		if attached != "" {
			return c, true, fmt.Errorf("%s takes no value", a[:2])
		}
		kind := ctlContinue
		if opt == 'i' {
			kind = ctlIgnore
		}
		return control{kind: kind}, true, noMore(rest)
	}
	if what, ok := unsupportedShort[opt]; ok {
		return c, true, fmt.Errorf("%s: %w in rules", what, ErrUnsupported)
	}
	return c, false, nil
}

// noMore rejects words after a complete command, as auditctl does
// ("parameter passed without an option given"), or a second command.
func noMore(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected %q after the command: one command per line", strings.Join(rest, " "))
	}
	return nil
}

// parseCount parses a number as auditctl does with strtoul(s, NULL, 0):
// decimal, 0x hexadecimal or 0 octal. It must start with a digit.
func parseCount(s string) (uint32, error) {
	if s == "" || !isDigit(s[0]) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	digits, base := s, 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		digits, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		digits, base = s[1:], 8
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is out of range (at most %d)", s, uint32(1<<32-1))
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return uint32(n), nil
}

// apply records the control line l in the set.
func (s *Set) apply(c control, l Line) {
	if s.origin == nil {
		s.origin = make(map[ctlKind]Line)
	}
	s.origin[c.kind] = l
	v := c.value
	switch c.kind {
	case ctlDelete:
		s.Delete = true
	case ctlBacklog:
		s.Backlog = &v
	case ctlFailure:
		s.Failure = &v
	case ctlEnabled:
		s.Enabled = &v
	case ctlRateLimit:
		s.RateLimit = &v
	case ctlBacklogWaitTime:
		s.BacklogWaitTime = &v
	case ctlLoginuidImmutable:
		s.LoginuidImmutable = true
	case ctlResetLost:
		s.ResetLost = true
	case ctlResetBacklogWaitTimeActual:
		s.ResetBacklogWaitTimeActual = true
	case ctlContinue:
		s.ContinueOnError = true
	case ctlIgnore:
		s.IgnoreErrors = true
	}
}
