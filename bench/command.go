package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/cli"
)

// Defaults of the bench command's flags.
const (
	DefaultRates      = "20000,40000,60000,80000,100000,120000,150000"
	DefaultAuditd     = "/usr/sbin/auditd"
	DefaultAuditdConf = "/etc/audit/auditd.conf"
)

// stringList collects a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Command runs `auditdrain bench` with the arguments after "bench": it
// parses its flags, runs the sweep with a progress line on stderr, and
// writes the table (or JSON) to stdout and the plot to its file. On -h it
// prints the flags on stdout and returns flag.ErrHelp; a bad flag is a
// *cli.UsageError, printed by the caller.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == loadWorkerCommand {
		return loadWorker(ctx, args[1:], os.Stdin, stdout)
	}
	if len(args) > 0 && args[0] == floorCommand {
		return floorMain(ctx, args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: auditdrain bench [flags]\n\n"+
			"Measures, against the real kernel, how much audit load each reader takes\n"+
			"before records are lost or audited programs stall. Needs root; holds the\n"+
			"machine-wide audit lock and restores the kernel's settings and rules after.\n\n")
		cli.PrintFlags(stdout, fs)
	}
	readers := fs.String("readers", strings.Join(DefaultReaders(), ","), "readers to compare, comma-separated (also: auditd-data, auditd with log_format RAW and flush DATA)")
	load := fs.String("load", LoadSyscall, "load: syscall, exec, file or user")
	rates := fs.String("rates", DefaultRates, "offered rates in events/s, low to high (k and M suffixes; 0 or max = flat out)")
	duration := fs.Duration("duration", 5*time.Second, "load duration per step")
	threads := fs.Int("threads", runtime.NumCPU(), "load threads")
	backlogLimit := fs.Uint("backlog-limit", 8192, "kernel backlog_limit for every step")
	waitTime := fs.Uint("backlog-wait-time", 0, "kernel backlog_wait_time in jiffies (0 = drop, never stall)")
	rateLimit := fs.Uint("rate-limit", 0, "kernel rate_limit in records/s (0 = none)")
	stall := fs.Bool("stall", false, fmt.Sprintf("stall mode: backlog_wait_time %d (the kernel default) unless --backlog-wait-time is given; the figure of merit is the stall time", KernelDefaultBacklogWaitTime))
	idle := fs.Duration("idle", 0, "before the sweep, measure each reader's CPU and wake-ups for this long with the rules loaded and no load (0 = skip; 20s is the figure the README quotes)")
	asJSON := fs.Bool("json", false, "write the result as JSON instead of a table")
	plotPath := fs.String("plot", "", "write an SVG chart of delivered rate and loss against offered rate to this file")
	var sets, ruleFiles stringList
	fs.Var(&sets, "set", "config key=value passed to auditdrain run (repeatable)")
	fs.Var(&ruleFiles, "rules", "also load the audit rules of this file (auditctl syntax, rules only: no -D, -b, -e or -f lines) for every load step (not the idle steps), e.g. /usr/share/doc/auditd/examples/rules/30-stig.rules; bytes and CPU per record then count every record of the machine (repeatable)")
	bin := fs.String("bin", "", "auditdrain binary to benchmark (default: this executable, which always runs the load and the floor reader, so an older build can be measured in this harness)")
	workDir := fs.String("work-dir", os.TempDir(), "directory for the readers' temporary logs")
	auditd := fs.String("auditd", DefaultAuditd, "auditd binary")
	auditdConf := fs.String("auditd-conf", DefaultAuditdConf, "auditd's shipped configuration, the base of the auditd readers' configurations")
	pos, err := cli.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrOptions, pos)
	}
	waitGiven := false
	fs.Visit(func(f *flag.Flag) { waitGiven = waitGiven || f.Name == "backlog-wait-time" })

	o := Options{
		Readers:    splitList(*readers),
		Load:       *load,
		Duration:   *duration,
		Threads:    *threads,
		Stall:      *stall,
		Idle:       *idle,
		Sets:       sets,
		Bin:        *bin,
		Auditd:     *auditd,
		AuditdConf: *auditdConf,
		WorkDir:    *workDir,
	}
	if o.Rates, err = parseRates(*rates); err != nil {
		return err
	}
	for _, f := range ruleFiles {
		lines, err := readRuleLines(f)
		if err != nil {
			return err
		}
		o.Rules = append(o.Rules, lines...)
	}
	for _, v := range []struct {
		name string
		v    uint
	}{{"backlog-limit", *backlogLimit}, {"backlog-wait-time", *waitTime}, {"rate-limit", *rateLimit}} {
		if v.v > 1<<31-1 {
			return fmt.Errorf("%w: --%s %d too large", ErrOptions, v.name, v.v)
		}
	}
	o.Settings = Settings{BacklogLimit: uint32(*backlogLimit), BacklogWaitTime: uint32(*waitTime), RateLimit: uint32(*rateLimit)}
	if *stall && !waitGiven {
		o.Settings.BacklogWaitTime = KernelDefaultBacklogWaitTime
	}
	if o.Self, err = os.Executable(); err != nil {
		return fmt.Errorf("bench: cannot find this executable: %w", err)
	}
	if o.Bin == "" {
		o.Bin = o.Self
	}
	o.Progress = newProgressLine(stderr).update
	o.Log = stderr

	res, runErr := Run(ctx, o)
	if res == nil {
		return runErr
	}
	var errs []error
	if *asJSON {
		errs = append(errs, WriteJSON(stdout, res))
	} else {
		errs = append(errs, WriteTable(stdout, res))
	}
	if *plotPath != "" {
		errs = append(errs, writePlotFile(*plotPath, res))
	}
	return errors.Join(append(errs, runErr)...)
}

// writePlotFile writes the SVG plot to path.
func writePlotFile(path string, res *Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: cannot create plot %q: %w", path, err)
	}
	err = WritePlot(f, res)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: cannot write plot %q: %w", path, err)
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseRates parses a comma-separated list of rates in events/s: plain
// numbers, with a k or M suffix, or 0 / max for flat out.
func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		if strings.EqualFold(f, "max") {
			out = append(out, 0)
			continue
		}
		mult := 1.0
		switch {
		case strings.HasSuffix(f, "k"), strings.HasSuffix(f, "K"):
			mult, f = 1e3, f[:len(f)-1]
		case strings.HasSuffix(f, "M"):
			mult, f = 1e6, f[:len(f)-1]
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%w: rate %q is not a non-negative number of events/s", ErrOptions, f)
		}
		out = append(out, v*mult)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no rates in %q", ErrOptions, s)
	}
	return out, nil
}

// readRuleLines returns the rule lines of an audit rules file, without
// comments and blank lines; control lines (-D, -b, -e, -f, ...) are
// refused, since the bench owns the kernel's settings and rules.
func readRuleLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: --rules: %w", err)
	}
	var lines []string
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		if !strings.HasPrefix(l, "-a ") && !strings.HasPrefix(l, "-A ") && !strings.HasPrefix(l, "-w ") {
			return nil, fmt.Errorf("%w: --rules %s:%d: %q is not a rule (-a, -A or -w)", ErrOptions, path, i+1, l)
		}
		lines = append(lines, l)
	}
	return lines, nil
}
