package rulesd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// Line is one line of a merged rule set.
type Line struct {
	File string // path of the file it was read from
	Line int    // 1-based line number in File
	Text string // the line as written (white space kept), without its newline
}

// Set is a rules directory merged the way augenrules merges it, or a rules
// file read the same way.
//
// Concurrency: a Set is not changed after Merge or ReadFile returns it; its
// methods may be called from several goroutines.
type Set struct {
	Dir   string   // the directory given to Merge, or the file given to ReadFile
	Files []string // the files read, in augenrules' (ls -v) order
	Lines []Line   // the kept lines, in the order augenrules writes them (without the header and the empty placeholder lines)

	// Control lines, from the lines kept. nil: not set by the rules.
	Delete          bool    // -D: delete every rule before adding these
	Backlog         *uint32 // -b: backlog_limit
	Failure         *uint32 // -f: failure mode (0, 1, 2)
	Enabled         *uint32 // -e: enabled (0, 1, 2 = locked), applied last
	BacklogWaitTime *uint32 // --backlog_wait_time (the last one)
	RateLimit       *uint32 // -r: rate_limit (the last one)

	LoginuidImmutable          bool // --loginuid-immutable
	ResetLost                  bool // --reset-lost
	ResetBacklogWaitTimeActual bool // --reset_backlog_wait_time_actual
	ContinueOnError            bool // -c: keep loading past a line the kernel refuses, and report failure
	IgnoreErrors               bool // -i: keep loading past a line the kernel refuses

	// Rules are the rules, in order, with their file and line. Wire is the
	// rule as the kernel lists it (and as DeleteRule wants it); Load adds
	// a -A rule with the AUDIT_FILTER_PREPEND flag, which go-libaudit's
	// encoding leaves out.
	Rules []auditctl.Rule

	// Warnings explains what Merge skipped or did differently from
	// augenrules (see the package documentation), one sentence each, with
	// file and line.
	Warnings []string

	// The lines in augenrules' fixed slots (nil: an empty line is written)
	// and the rest, for WriteAuditRules.
	delLine, backlogLine, failureLine, enableLine *Line
	rest                                          []Line

	origin map[ctlKind]Line // the line each control setting comes from, for Load's errors
	steps  []step           // the lines to apply, in the order Load applies them
	err    error            // the errors Merge returned; Load refuses the set when non-nil
}

// Err returns the errors Merge found (nil if none), as Merge returned them.
func (s *Set) Err() error { return s.err }

// slot is where augenrules' awk filter puts a line.
type slot int

const (
	slotRest    slot = iota
	slotDelete       // a line that is only -D: the last one goes first
	slotBacklog      // a line starting with -b: the last one goes second
	slotFailure      // a line starting with -f: the last one goes third
	slotEnable       // a line starting with -e: the last one goes last
	numSlots
)

var slotName = [numSlots]string{"", "-D", "-b", "-f", "-e"}

// readLine is a line Merge read that augenrules does not drop as empty or a
// comment.
type readLine struct {
	line     Line
	slot     slot
	indented bool
}

// Merge reads the *.rules files of dir in augenrules' order and merges them.
// It returns a nil Set only when dir cannot be listed. Otherwise the Set is
// complete, so that a checker can print it next to the errors, and the
// error joins one error per bad line (a *auditctl.RuleError, or an error
// naming the file and line), in file order; a Set with errors cannot be
// loaded (Load returns ErrInvalid).
func Merge(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rulesd: reading rules directory: %w", err)
	}
	s := &Set{Dir: dir}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".rules") {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, verCompare)
	var paths []string
	for _, name := range names {
		path := filepath.Join(dir, name)
		if strings.ContainsAny(name, " \t\n") {
			s.warnf("%s: skipped: the name contains white space, which augenrules splits into names that do not exist", path)
			continue
		}
		paths = append(paths, path)
	}
	return s, s.read(paths)
}

// ReadFile reads one rules file (auditctl -R's format, control lines
// included) as Merge reads a rules directory that holds only that file: the
// same checks, the same placement of -D, -b, -f and -e, the same Set. Dir is
// the file's path. It returns a nil Set only when path does not exist or is
// not a regular file.
func ReadFile(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rulesd: reading rules file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("rulesd: reading rules file %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	s := &Set{Dir: path}
	return s, s.read([]string{path})
}

// read reads the files at paths, in order, into s, as augenrules
// concatenates and filters them, and returns (and keeps in s.err) the
// errors of the lines kept.
func (s *Set) read(paths []string) error {
	var (
		read         []readLine
		errs         []error
		unterminated string // the last file read, if its last line had no newline
	)
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			s.warnf("%s: skipped: %v", path, err)
			continue
		}
		if !fi.Mode().IsRegular() {
			s.warnf("%s: skipped: not a regular file (%s)", path, fi.Mode().Type())
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("rulesd: %w", err))
			continue
		}
		s.Files = append(s.Files, path)
		text := string(data)
		if text == "" {
			continue
		}
		if unterminated != "" {
			s.warnf("%s: the last line has no newline; augenrules would join it to the first line of %s", unterminated, path)
			unterminated = ""
		}
		if !strings.HasSuffix(text, "\n") {
			unterminated = path
		}
		for i, t := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			sl, keep, indented := classify(t)
			if keep {
				read = append(read, readLine{line: Line{File: path, Line: i + 1, Text: t}, slot: sl, indented: indented})
			}
		}
	}

	// Only the last line of each slot survives, as in augenrules.
	var last [numSlots]int
	for i, l := range read {
		last[l.slot] = i + 1
	}
	var (
		slotLines [numSlots]*Line
		slotSteps [numSlots]*step
		rest      []step
	)
	for i := range read {
		r := &read[i]
		l := &r.line
		if r.slot != slotRest && last[r.slot] != i+1 {
			w := read[last[r.slot]-1].line
			s.warnf("%s:%d: %q dropped: overridden by %s:%d %q, as augenrules does", l.File, l.Line, l.Text, w.File, w.Line, w.Text)
			continue
		}
		if r.indented && r.slot != slotRest {
			s.warnf("%s:%d: indented %s line placed as augenrules intends; augenrules run by mawk (Debian's default awk) would leave it in place", l.File, l.Line, slotName[r.slot])
		}
		st, err := s.add(*l)
		if err != nil {
			errs = append(errs, err)
		}
		if r.slot == slotRest {
			s.rest = append(s.rest, *l)
			if err == nil && st.does() {
				rest = append(rest, st)
			}
		} else {
			slotLines[r.slot] = l
			if err == nil && st.does() {
				slotSteps[r.slot] = &st
			}
		}
	}
	s.delLine, s.backlogLine, s.failureLine, s.enableLine = slotLines[slotDelete], slotLines[slotBacklog], slotLines[slotFailure], slotLines[slotEnable]
	for _, l := range []*Line{s.delLine, s.backlogLine, s.failureLine} {
		if l != nil {
			s.Lines = append(s.Lines, *l)
		}
	}
	s.Lines = append(s.Lines, s.rest...)
	if s.enableLine != nil {
		s.Lines = append(s.Lines, *s.enableLine)
	}
	// Load applies the lines in the order augenrules writes them, which
	// is the order auditctl -R reads them in.
	for _, sl := range []slot{slotDelete, slotBacklog, slotFailure} {
		if st := slotSteps[sl]; st != nil {
			s.steps = append(s.steps, *st)
		}
	}
	s.steps = append(s.steps, rest...)
	if st := slotSteps[slotEnable]; st != nil {
		s.steps = append(s.steps, *st)
	}
	s.err = errors.Join(errs...)
	return s.err
}

func (s *Set) warnf(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

// isAwkSpace reports whether c matches gawk's \s.
func isAwkSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// classify applies augenrules' awk filter to one line: whether it is kept,
// in which slot, and whether it had leading white space.
func classify(t string) (sl slot, keep, indented bool) {
	if t == "" {
		return slotRest, false, false
	}
	body := strings.TrimLeftFunc(t, func(r rune) bool { return r < 0x80 && isAwkSpace(byte(r)) })
	indented = len(body) != len(t)
	switch {
	case strings.HasPrefix(body, "#"):
		return slotRest, false, indented
	case strings.HasPrefix(body, "-e"):
		return slotEnable, true, indented
	case strings.HasPrefix(body, "-D") && strings.TrimLeftFunc(body[2:], func(r rune) bool { return r < 0x80 && isAwkSpace(byte(r)) }) == "":
		return slotDelete, true, indented
	case strings.HasPrefix(body, "-f"):
		return slotFailure, true, indented
	case strings.HasPrefix(body, "-b"):
		return slotBacklog, true, indented
	}
	return slotRest, true, indented
}

// step is one line of the set as Load applies it: a control line (ctl.kind
// set) or a rule (s.Rules[rule]).
type step struct {
	line Line
	ctl  control
	rule int // index in Set.Rules when ctl.kind is 0; -1: nothing to do
}

// does reports whether the step asks for anything (a line of white space
// does not).
func (st step) does() bool { return st.ctl.kind != 0 || st.rule >= 0 }

// add checks one kept line, records what it asks for and returns it as a
// step.
func (s *Set) add(l Line) (step, error) {
	st := step{line: l, rule: -1}
	args := strings.Fields(l.Text)
	if len(args) == 0 {
		return st, nil // white space only: augenrules keeps it, auditctl skips it
	}
	c, isControl, err := parseControl(args)
	if err != nil {
		return st, fmt.Errorf("rulesd: %s:%d: %q: %w", l.File, l.Line, strings.TrimSpace(l.Text), err)
	}
	if isControl {
		s.apply(c, l)
		st.ctl = c
		return st, nil
	}
	rs, err := auditctl.ParseRules(l.File, strings.NewReader(l.Text))
	if err != nil {
		var re *auditctl.RuleError
		if errors.As(err, &re) {
			e := *re
			e.Line = l.Line
			if errors.Is(e.Err, auditctl.ErrControlLine) {
				e.Err = errors.New("an auditctl command mixed with a rule: put each on its own line")
			}
			return st, &e
		}
		return st, fmt.Errorf("rulesd: %s:%d: %w", l.File, l.Line, err)
	}
	for _, r := range rs {
		r.Line = l.Line
		st.rule = len(s.Rules)
		s.Rules = append(s.Rules, r)
	}
	return st, nil
}
