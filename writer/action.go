package writer

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ActionKind is what the writer does when a condition arises, as in
// auditd.conf's *_action keys. The zero value means "the field's default"
// (see Config).
type ActionKind uint8

const (
	ActionDefault  ActionKind = iota // the field's default (see Config)
	ActionIgnore                     // do nothing (an Event is still delivered to Notify)
	ActionSyslog                     // deliver an Event with this action: the caller logs it to syslog
	ActionRotate                     // rotate; for disk space: delete the oldest segments above MinLogs until there is room
	ActionKeepLogs                   // max_log_file_action only: rotate and never delete a segment
	ActionSuspend                    // stop writing, keep consuming: every record not written is counted
	ActionExec                       // run Action.Path (no arguments) and carry on
	ActionSingle                     // run "<init> 1" (single user mode) and suspend; needs AllowSystemActions
	ActionHalt                       // run "<init> 0" (halt) and suspend; needs AllowSystemActions
)

var actionNames = [...]string{
	ActionDefault: "", ActionIgnore: "ignore", ActionSyslog: "syslog", ActionRotate: "rotate",
	ActionKeepLogs: "keep_logs", ActionSuspend: "suspend", ActionExec: "exec",
	ActionSingle: "single", ActionHalt: "halt",
}

// String returns the auditd.conf word for k ("" for ActionDefault).
func (k ActionKind) String() string {
	if int(k) < len(actionNames) {
		return actionNames[k]
	}
	return "ActionKind(" + strconv.Itoa(int(k)) + ")"
}

// Action is one configured action: a kind and, for ActionExec, the absolute
// path of the program to run. The program gets no arguments (as with
// auditd) and AUDITDRAIN_CONDITION=<cause> in its environment.
type Action struct {
	Kind ActionKind
	Path string // ActionExec only
}

// String returns the action as auditd.conf spells it: "suspend", "exec /path".
func (a Action) String() string {
	if a.Kind == ActionExec {
		return "exec " + a.Path
	}
	return a.Kind.String()
}

// ParseAction parses an auditd.conf action value, case-insensitively:
// ignore, syslog, rotate, keep_logs, suspend, single, halt, or
// "exec /absolute/path". auditd's email is not supported. Which kinds a
// given Config field accepts is checked by Open.
func ParseAction(s string) (Action, error) {
	s = strings.TrimSpace(s)
	word, rest, _ := strings.Cut(s, " ")
	word = strings.ToLower(word)
	rest = strings.TrimSpace(rest)
	if word == "exec" {
		if !filepath.IsAbs(rest) {
			return Action{}, fmt.Errorf("%w: action %q: exec needs an absolute program path", ErrConfig, s)
		}
		return Action{Kind: ActionExec, Path: rest}, nil
	}
	for k, name := range actionNames {
		if name != "" && name == word && rest == "" {
			return Action{Kind: ActionKind(k)}, nil
		}
	}
	return Action{}, fmt.Errorf("%w: action %q (want ignore, syslog, rotate, keep_logs, suspend, exec /path, single or halt)", ErrConfig, s)
}

// Threshold is an amount of free disk space: Bytes, or, when Percent > 0,
// that percentage of the file system's size. The zero value disables the
// check.
type Threshold struct {
	Bytes   int64
	Percent float64
}

// ParseThreshold parses an auditd.conf space value: a number of MiB
// ("75", as auditd's megabytes) or a percentage of the file system
// ("10%", "2.5%"). "0" disables the check.
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	if num, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return Threshold{}, fmt.Errorf("%w: space %q: want a percentage between 0 and 100", ErrConfig, s)
		}
		return Threshold{Percent: p}, nil
	}
	mib, err := strconv.ParseInt(s, 10, 64)
	if err != nil || mib < 0 || mib > 1<<40 {
		return Threshold{}, fmt.Errorf("%w: space %q: want MiB (e.g. 75) or a percentage (e.g. 10%%)", ErrConfig, s)
	}
	return Threshold{Bytes: mib << 20}, nil
}

// String returns the threshold as ParseThreshold reads it (MiB rounded up).
func (t Threshold) String() string {
	if t.Percent > 0 {
		return strconv.FormatFloat(t.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatInt((t.Bytes+(1<<20)-1)>>20, 10)
}

// bytes returns the threshold in bytes for a file system of total bytes.
func (t Threshold) bytes(total int64) int64 {
	if t.Percent > 0 {
		return int64(float64(total) * t.Percent / 100)
	}
	return t.Bytes
}

func (t Threshold) set() bool { return t.Bytes > 0 || t.Percent > 0 }

// Cause says why records were not written or why an action was taken.
type Cause uint8

const (
	CauseDiskFull       Cause = iota // a write failed with ENOSPC
	CauseDiskError                   // any other write, fsync or file creation failure (EIO, EROFS, EPERM, EDQUOT...), or the segment was removed
	CauseSpaceLeft                   // free space fell below SpaceLeft
	CauseAdminSpaceLeft              // free space fell below AdminSpaceLeft
	CauseMaxLogFile                  // the segment reached MaxSegmentBytes (max_log_file_action)
	NumCauses           = 5
)

var causeNames = [NumCauses]string{"disk_full", "disk_error", "space_left", "admin_space_left", "max_log_file"}

// String returns the auditd.conf name of the condition: disk_full,
// disk_error, space_left, admin_space_left, max_log_file.
func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "Cause(" + strconv.Itoa(int(c)) + ")"
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventCondition: Cause arose and Action was applied (once per
	// occurrence: a condition that persists is not reported again until
	// it has cleared).
	EventCondition EventKind = iota
	// EventCleared: the condition Cause no longer holds (space is above
	// the threshold again, or a write succeeded after errors).
	EventCleared
	// EventSuspended: writing stopped because of Cause.
	EventSuspended
	// EventResumed: writing resumed; Records records were not written
	// since the last such notice, serials FirstSerial..LastSerial. The
	// same is written into the log as a DAEMON_RESUME record.
	EventResumed
	// EventDeleted: segment Path was deleted (retention, MaxTotalBytes, or
	// a rotate action freeing space for Cause).
	EventDeleted
	// EventExec: the program of an exec, single or halt action was run
	// (Err says if it could not be started).
	EventExec
)

var eventNames = [...]string{"condition", "cleared", "suspended", "resumed", "deleted", "exec"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports a disk condition, an action taken or a change of state to
// Config.Notify. Fields that do not apply are zero.
type Event struct {
	Time      time.Time
	Kind      EventKind
	Cause     Cause
	Action    Action // the action applied (EventCondition, EventExec)
	Path      string // the file or program involved
	Err       error  // the error that raised the condition
	FreeBytes int64  // free space seen by the check; -1 when not measured
	// EventResumed: records not written, and the smallest and largest
	// serial among them (0 when none carried an audit(...) header).
	Records                 uint64
	FirstSerial, LastSerial uint64
}

// String formats the event for a log line.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Cause, e.Kind)
	if e.Action.Kind != ActionDefault {
		fmt.Fprintf(&b, " action=%s", e.Action)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " path=%q", e.Path)
	}
	if e.FreeBytes >= 0 && (e.Kind == EventCondition || e.Kind == EventCleared) && e.Err == nil {
		fmt.Fprintf(&b, " free_bytes=%d", e.FreeBytes)
	}
	if e.Kind == EventResumed {
		fmt.Fprintf(&b, " records_not_written=%d first_serial=%d last_serial=%d", e.Records, e.FirstSerial, e.LastSerial)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}
