// Package doctor runs the diagnosis steps of "audit: backlog limit
// exceeded" on live data: it reads the kernel command line, the kernel's
// audit status and rules, the config, the log disk and, when a daemon
// runs, its status and its top counts (internal/tally), and turns them into
// findings, each with its evidence and the exact fix as rules.d or config
// lines.
//
// [Check] is a pure function of an [Input]: gathering the input (which
// needs root for the kernel and the control socket) is the command's job,
// so every check is tested without root. A missing part of the input (no
// daemon, not root) skips the checks that need it, and says so.
package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/tally"
	libaudit "github.com/elastic/go-libaudit/v2"
)

// Severity is how bad a finding is.
type Severity int

const (
	OK    Severity = iota // checked, nothing to do
	Info                  // worth knowing, nothing wrong
	Warn                  // a risk of loss, or a check that could not run
	Error                 // records are being lost, or will be: doctor exits non-zero
)

var severityNames = [...]string{"ok", "info", "warn", "error"}

func (s Severity) String() string { return severityNames[s] }

// MarshalText makes a severity its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding is one result of a check.
type Finding struct {
	Check    string   `json:"check"` // cmdline, backlog, rate_limit, failure, loss, rules, disk, plugins, daemon
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Evidence []string `json:"evidence,omitempty"`
	// Fix: the lines to write, each prefixed with where it goes
	// ("rules.d: -b 8192", "auditdrain.conf: backlog_limit = 8192").
	Fix []string `json:"fix,omitempty"`
}

// Input is what the checks look at. Nil or empty parts were not available;
// their Err fields say why.
type Input struct {
	Root bool

	Cmdline    string // /proc/cmdline
	CmdlineErr error

	Kernel    *libaudit.AuditStatus
	KernelErr error

	// Rules are the kernel's rules as auditctl -l prints them.
	Rules    []string
	RulesErr error
	// IsDir reports whether a watched path is a directory (nil: unknown).
	IsDir func(path string) bool

	Config     config.Config
	ConfigPath string
	ConfigErr  error // the config could not be read: Config is the defaults

	Daemon    *daemon.Status
	Top       *tally.Top
	DaemonErr error

	// Disk is the log directory's file system, when it could be read.
	Disk    *Disk
	DiskErr error
}

// Disk is the log file system's state.
type Disk struct {
	Dir       string
	FreeBytes int64 // available to the daemon
	SizeBytes int64 // file system size
	LogBytes  int64 // bytes of segments in the log directory now
}

// Check runs every check on in and returns the findings, in the order of
// the troubleshooting steps.
func Check(in Input) []Finding {
	var fs []Finding
	add := func(f ...Finding) { fs = append(fs, f...) }
	add(checkAccess(in)...)
	add(checkCmdline(in)...)
	add(checkKernel(in)...)
	add(checkBacklog(in)...)
	add(checkLoss(in)...)
	add(checkRules(in)...)
	add(checkDisk(in)...)
	add(checkPlugins(in)...)
	add(checkForward(in)...)
	return fs
}

// Worst returns the highest severity among fs (OK for none).
func Worst(fs []Finding) Severity {
	w := OK
	for _, f := range fs {
		w = max(w, f.Severity)
	}
	return w
}

// Write prints the findings as text: one block per finding, its severity,
// check and title, then evidence and fix lines indented.
func Write(w io.Writer, fs []Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%-5s  %s: %s\n", strings.ToUpper(f.Severity.String()), f.Check, f.Title)
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "       evidence: %s\n", e)
		}
		for _, x := range f.Fix {
			fmt.Fprintf(w, "       fix: %s\n", x)
		}
	}
	n := map[Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	fmt.Fprintf(w, "\n%d errors, %d warnings, %d notes, %d ok\n", n[Error], n[Warn], n[Info], n[OK])
}
