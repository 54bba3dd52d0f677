package auditctl

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
)

// Rule is one rule read from a rules file.
type Rule struct {
	File string // name of the file (or stream) it was read from
	Line int    // 1-based line number
	Text string // the line, trimmed of surrounding white space
	Wire []byte // the rule encoded as struct audit_rule_data, byte for byte as the kernel lists it (for DeleteRule and comparisons)
	// Prepend: an -A rule, added at the head of its list. go-libaudit's
	// rule.Build does not set AUDIT_FILTER_PREPEND, and the kernel clears
	// the flag once the rule is in, so it is kept apart and applied by
	// AddWire.
	Prepend bool
}

// auditFilterPrepend is AUDIT_FILTER_PREPEND, in struct audit_rule_data's
// flags: add the rule at the head of its list (-A).
const auditFilterPrepend = 0x10

// AddWire is the wire format to send with AUDIT_ADD_RULE: Wire, with
// AUDIT_FILTER_PREPEND for a -A rule.
func (r Rule) AddWire() []byte {
	if !r.Prepend || len(r.Wire) < 4 {
		return r.Wire
	}
	w := slices.Clone(r.Wire)
	binary.NativeEndian.PutUint32(w, binary.NativeEndian.Uint32(w)|auditFilterPrepend)
	return w
}

// RuleError reports a rules-file line that is not a valid rule. Error reads
// `rules: FILE:LINE: "TEXT": REASON`.
type RuleError struct {
	File string
	Line int
	Text string
	Err  error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rules: %s:%d: %q: %v", e.File, e.Line, e.Text, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// maxRuleLine is the longest line ParseRules accepts.
const maxRuleLine = 1 << 20

// ParseRules parses a rules file in auditctl -R format, read from r; name is
// used in errors and in Rule.File. Blank lines and lines starting with '#'
// are skipped. It checks every line and, if any is invalid, returns no rules
// and all the *RuleErrors joined. It reads rules only: control lines (-D, -b,
// -e, -f, -r, --backlog_wait_time, ...) are errors wrapping ErrControlLine.
// rulesd.ReadFile reads a rules file that may contain them.
//
// A watch rule (-w) is encoded as a path or a directory watch depending on
// what the path is when ParseRules runs, as auditctl does.
func ParseRules(name string, r io.Reader) ([]Rule, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxRuleLine)
	var (
		rules []Rule
		errs  []error
		line  int
	)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		wire, prepend, err := parseRule(text)
		if err != nil {
			errs = append(errs, &RuleError{File: name, Line: line, Text: text, Err: err})
			continue
		}
		rules = append(rules, Rule{File: name, Line: line, Text: text, Wire: wire, Prepend: prepend})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("rules: reading %s after line %d: %w", name, line, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// parseRule turns one rule line into wire format.
func parseRule(text string) (wire []byte, prepend bool, err error) {
	args, err := splitArgs(text)
	if err != nil {
		return nil, false, err
	}
	if err := checkArgs(args); err != nil {
		return nil, false, err
	}
	r, err := flags.Parse(text)
	if err != nil {
		return nil, false, err
	}
	if r.TypeOf() == rule.DeleteAllRuleType {
		return nil, false, ErrControlLine // checkArgs catches -D; kept in case of a spelling it misses
	}
	wire, err = rule.Build(r)
	if err != nil {
		return nil, false, err
	}
	return kernelLength(wire), r.TypeOf() == rule.PrependSyscallRuleType, nil
}

// kernelLength cuts a wire-format rule to the length the kernel lists it
// with: struct audit_rule_data and buflen bytes of strings. go-libaudit pads
// the buffer to a multiple of 4 bytes, which the kernel neither needs nor
// keeps, so without this a rule read from a file never compares equal to
// the same rule listed by the kernel.
func kernelLength(wire []byte) []byte {
	if len(wire) < ruleBufOff {
		return wire
	}
	if n := ruleBufOff + int(binary.NativeEndian.Uint32(wire[ruleBufLenOff:])); n < len(wire) {
		return wire[:n]
	}
	return wire
}

// isValueFlag reports whether the rule option name takes a value, as
// go-libaudit parses rule options.
func isValueFlag(name string) bool {
	switch name {
	case "a", "A", "F", "C", "S", "w", "p", "k":
		return true
	}
	return false
}

// controlShort lists auditctl's one-letter options that are commands rather
// than parts of a rule: -b -f -e -r (settings), -D (delete all), -c -i -l -s
// -R -q -t -v -h (tool behaviour, queries), -d -W (rule deletion).
const controlShort = "bferDcilsRqtvhdW"

// isControlLong reports whether the long option name is an auditctl command
// rather than part of a rule.
func isControlLong(name string) bool {
	switch name {
	case "backlog_wait_time", "reset_backlog_wait_time_actual", "reset-lost",
		"loginuid-immutable", "signal", "help":
		return true
	}
	return false
}

// checkArgs rejects control lines and stray arguments, which go-libaudit's
// flag parsing would silently ignore ("-a always,exit -S open extra").
// Unknown flags are left for flags.Parse to report.
func checkArgs(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return fmt.Errorf("unexpected argument %q", args[i+1])
			}
			return nil
		case strings.HasPrefix(a, "--"):
			name, _, _ := strings.Cut(a[2:], "=")
			if isControlLong(name) {
				return ErrControlLine
			}
			if isValueFlag(name) && !strings.Contains(a, "=") {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if strings.IndexByte(controlShort, a[1]) >= 0 {
				return ErrControlLine
			}
			name, _, _ := strings.Cut(a[1:], "=")
			if isValueFlag(name) && !strings.Contains(a, "=") {
				i++
			}
		default:
			return fmt.Errorf("unexpected argument %q", a)
		}
	}
	return nil
}

// splitArgs splits a line into arguments the way a POSIX shell would (white
// space separates; single quotes, double quotes and backslashes quote), close
// enough to go-libaudit's shell splitting for checkArgs.
func splitArgs(s string) ([]string, error) {
	var (
		args []string
		cur  strings.Builder
		in   bool
	)
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case ' ', '\t', '\r', '\n':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		case '\\':
			if i+1 == len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			in = true
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errors.New("unterminated double quote")
			}
			in = true
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}
