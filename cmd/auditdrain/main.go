// Command auditdrain drains the kernel's audit queue into compressed,
// durable log segments. It owns only the command line: each subcommand
// parses its flags (with internal/cli's conventions), reads the config
// file when it needs one (configFlag.load, the same for every command),
// and calls the package that does the work (internal/daemon for run and
// status, internal/segment for cat, with internal/enrich and
// internal/jsonevent for its --format, rulesd for rules, bench for bench).
// Errors are printed here, once, as "auditdrain: COMMAND: error".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditdrain/auditdrain/bench"
	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/cli"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/segment"
	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

const usage = `auditdrain drains the kernel audit queue into compressed, durable logs.

Usage:
  auditdrain run    [--config FILE] [--log-dir DIR] [--rules FILE] [--mode unicast|multicast]
                    [--control-socket PATH] [--set key=value ...] [--discard]
  auditdrain cat    [--since T] [--until T] [--serial A-B] [--format raw|enriched|json] [DIR | SEGMENT ...]
                                             print the log (default: the config's log_dir)
  auditdrain collect --from nats://HOST:PORT --dir DIR
                                             write the frames daemons forward into DIR/<host>/ segments
  auditdrain status [--json]                 the kernel's audit status and the daemon's counters
                                             (exit 3: no daemon runs; also for reload, rotate, resume)
  auditdrain top    [--once] [--json]         live view: events/s by rule key, syscall, exe, auid, uid, type;
                                             kernel backlog; loss per second by cause
  auditdrain doctor [--json]                 check the kernel, rules, log disk and daemon for causes of loss;
                                             print each finding with evidence and the fix (exit 1: an error)
  auditdrain reload | rotate | resume        signal the running daemon (SIGHUP, SIGUSR1, SIGUSR2)
  auditdrain upgrade                         exec the binary on disk in place of the daemon, keeping its audit socket
  auditdrain rules check [DIR]               print the merged rules.d as augenrules would, and every error
  auditdrain rules load  [DIR]               load them into the kernel (default: the config's rules_dir)
  auditdrain config                          list the config keys and their defaults
  auditdrain bench  [flags]                  measure drain rate, loss and stall
  auditdrain install   [--replace-auditd] [--binary PATH]   install the systemd unit and a default config
  auditdrain uninstall [--restore-auditd]                   remove the unit (the config and logs stay)
  auditdrain version                         print the version

cat, status, reload, rotate, resume and rules read the config file run reads:
--config FILE (default ` + config.DefaultPath + `, which may be missing).
Flags may come before or after arguments; "--" ends them.
Run 'auditdrain COMMAND --help' for the flags of a command.
`

// Exit statuses besides 0 and 1 (any other failure).
const (
	exitUsage      = 2 // a command-line mistake
	exitNotRunning = 3 // status: no daemon runs (as systemctl status and LSB say)
	exitUnknown    = 4 // status: the daemon's state could not be found out
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// env is what a command runs with.
type env struct {
	name           string // the command as typed after "auditdrain", e.g. "rules check"
	stdout, stderr io.Writer
}

// defaultConfigPath is the config file read when --config is not given; it
// may be missing. Tests point it elsewhere.
var defaultConfigPath = config.DefaultPath

// interruptible returns a context that the first SIGTERM or SIGINT
// cancels; a second one kills at once (a shutdown that hangs must not need
// SIGKILL). Only run and bench stop gracefully; every other command keeps
// the default, so a Ctrl-C ends it at once.
func interruptible() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	go func() { <-ctx.Done(); stop() }()
	return ctx
}

// runMain runs the command line args (without the program name) and
// returns the exit status. Output goes to stdout, errors to stderr: one
// line, "auditdrain: COMMAND: error", plus a hint to --help after a usage
// error.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	e := &env{name: args[0], stdout: stdout, stderr: stderr}
	args = args[1:]
	var err error
	switch e.name {
	case "run":
		err = cmdRun(e, args)
	case "cat":
		err = cmdCat(e, args)
	case "status":
		err = cmdStatus(e, args)
	case "collect":
		err = cmdCollect(e, args)
	case "bench":
		err = cmdBench(e, args)
	case "config":
		err = cmdConfig(e, args)
	case "reload", "rotate", "resume":
		err = cmdSignal(e, args)
	case "top":
		err = cmdTop(e, args)
	case "doctor":
		err = cmdDoctor(e, args)
	case "upgrade":
		err = cmdUpgrade(e, args)
	case "rules":
		err = cmdRules(e, args)
	case "install":
		err = cmdInstall(e, args)
	case "uninstall":
		err = cmdUninstall(e, args)
	case "version", "--version":
		e.name = "version"
		err = cmdVersion(e, args)
	case "help", "-h", "--help", "-help":
		if len(args) == 0 {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return runMain([]string{args[0], "--help"}, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "auditdrain: unknown command %q\n%s\n", e.name, cli.Hint("auditdrain"))
		return exitUsage
	}
	var usageErr *cli.UsageError
	var exitErr *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // the command printed its help
	case errors.As(err, &usageErr), errors.Is(err, bench.ErrOptions):
		printError(stderr, e.name, err)
		fmt.Fprintln(stderr, cli.Hint("auditdrain "+e.name))
		return exitUsage
	case errors.As(err, &exitErr):
		printError(stderr, e.name, exitErr.err)
		return exitErr.code
	default:
		printError(stderr, e.name, err)
		return 1
	}
}

// exitError ends a command with an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// packagePrefixes are the "pkg: " prefixes this module's packages put on
// their errors. Main already says who speaks ("auditdrain: COMMAND: "), so
// errorText drops them.
var packagePrefixes = []string{"writer", "segment", "daemon", "config", "rulesd", "auditctl", "bench", "service", "record", "ring", "reader", "ratelimit", "pipeline"}

// errorText is err's message without what main's "auditdrain: COMMAND: "
// already says: the command's name (or a word of it: "rules" in "rules
// check") and the packages' own prefixes, which a wrapped chain may repeat
// ("writer: cat "x": writer: corrupt segment" becomes ""x": corrupt
// segment"). A message of several lines (errors.Join) is tidied line by
// line.
func errorText(command string, err error) string {
	words := strings.Fields(command)
	lines := strings.Split(err.Error(), "\n")
	for i, line := range lines {
		parts := strings.Split(line, ": ")
		out := parts[:0]
		for _, p := range parts {
			if p == command || slices.Contains(words, p) || slices.Contains(packagePrefixes, p) {
				continue
			}
			if rest, ok := strings.CutPrefix(p, words[0]+" "); ok && rest != "" && len(out) == 0 {
				p = rest // `cat "x"` at the start: the command is already named
			}
			out = append(out, p)
		}
		if len(out) > 0 {
			lines[i] = strings.Join(out, ": ")
		}
	}
	return strings.Join(lines, "\n")
}

// printError writes err on w, each line as "auditdrain: COMMAND: text".
func printError(w io.Writer, command string, err error) {
	for line := range strings.Lines(errorText(command, err)) {
		fmt.Fprintf(w, "auditdrain: %s: %s\n", command, strings.TrimSuffix(line, "\n"))
	}
}

// flags returns the flag set of the command e runs. Its help, printed by
// parse on --help, is the synopsis (what follows the command's name) and
// the description, then the flags.
func (e *env) flags(synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(e.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // cli.Parse never lets the flag package print
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: auditdrain %s %s\n\n%s\n", e.name, synopsis, description)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(e.stdout, "\nFlags:\n")
			cli.PrintFlags(e.stdout, fs)
		}
	}
	return fs
}

// parse parses the command's arguments (cli.Parse). On --help it prints the
// command's help on stdout and returns flag.ErrHelp.
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := cli.Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	return pos, err
}

// parseNoArgs is parse for a command that takes flags only: a positional
// argument is a usage error.
func (e *env) parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = cli.Usagef("unexpected arguments %q", pos)
	}
	return err
}

// configFlag is the --config flag of every command that reads the config.
type configFlag struct {
	fs   *flag.FlagSet
	path *string
}

// addConfigFlag adds --config to fs.
func addConfigFlag(fs *flag.FlagSet) configFlag {
	return configFlag{fs, fs.String("config", defaultConfigPath,
		"read the config from `FILE` (auditdrain.conf, or auditd's auditd.conf, recognised by its name); the default file may be missing")}
}

// load reads the config file, as every command does (through loadConfig),
// so that run and the commands that read its log or talk to it agree on
// the log directory and the control socket. The file may be missing when
// --config was not given.
func (c configFlag) load(warn io.Writer) (config.Config, error) {
	explicit := false
	c.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	return loadConfig(*c.path, !explicit, warn)
}

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func cmdRun(e *env, args []string) error {
	fs := e.flags("[flags]", "Drain the kernel audit queue into the log until SIGTERM or SIGINT.\n"+
		"SIGHUP reloads the config and the rules, SIGUSR1 rotates the log, SIGUSR2 resumes writing.")
	cf := addConfigFlag(fs)
	logDir := fs.String("log-dir", "", "write the log segments in `DIR` (config: log_dir)")
	rules := fs.String("rules", "", "`FILE` of auditctl rules to load (config: rules)")
	mode := fs.String("mode", "", "`MODE`: unicast (replace auditd) or multicast (beside it) (config: mode)")
	ctlSock := fs.String("control-socket", "", "control socket `PATH` (config: control_socket)")
	discard := fs.Bool("discard", false, "count records instead of writing them (benchmark floor)")
	var sets setFlags
	fs.Var(&sets, "set", "override one config key: --set `key=value` (repeatable)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	load := func() (config.Config, error) {
		cfg, err := cf.load(e.stderr)
		if err != nil {
			return cfg, err
		}
		for _, kv := range sets {
			if err := cfg.SetPair(kv); err != nil {
				return cfg, err
			}
		}
		for k, v := range map[string]string{"log_dir": *logDir, "rules": *rules, "mode": *mode, "control_socket": *ctlSock} {
			if v != "" {
				if err := cfg.Set(k, v); err != nil {
					return cfg, fmt.Errorf("config: --%s: %w", strings.ReplaceAll(k, "_", "-"), err)
				}
			}
		}
		// Every config error now, before anything touches the kernel or
		// the disk (and on SIGHUP, before the rules are reloaded).
		return cfg, cfg.Validate()
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.MaxProcs > 0 {
		runtime.GOMAXPROCS(cfg.MaxProcs)
	}
	// SIGHUP reloads the rules, SIGUSR1 rotates, SIGUSR2 resumes writing
	// after a disk action, as with auditd. Signals that arrive before the
	// daemon is ready wait in the channel.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR)
	defer func() { signal.Stop(sigs); close(sigs) }()
	ready := func(d *daemon.Daemon) {
		go func() {
			for sig := range sigs {
				var err error
				switch sig {
				case syscall.SIGHUP:
					var next config.Config
					if next, err = load(); err == nil {
						err = d.Reload(next)
					}
				case syscall.SIGUSR1:
					err = d.Rotate()
				case syscall.SIGUSR2:
					err = d.Resume()
				case syscall.SIGPWR: // upgradeSignalName
					err = d.Upgrade()
				}
				if err != nil {
					fmt.Fprintf(e.stderr, "auditdrain: %v: %s\n", sig, errorText(e.name, err))
				}
			}
		}()
	}
	return daemon.Run(interruptible(), cfg, daemon.Options{Discard: *discard, Log: e.stderr}, ready)
}

// loadConfig reads a config file: auditdrain's own, or auditd's auditd.conf
// (recognised by its name), whose keys auditdrain does not implement are
// listed in one warning.
func loadConfig(path string, optional bool, warn io.Writer) (config.Config, error) {
	if filepath.Base(path) == "auditd.conf" {
		cfg, ignored, err := config.ImportAuditdConf(path)
		if err != nil {
			return cfg, err
		}
		if len(ignored) > 0 {
			fmt.Fprintf(warn, "auditdrain: %s: ignoring keys auditdrain does not implement: %s\n", path, strings.Join(ignored, ", "))
		}
		return cfg, nil
	}
	return config.Load(path, optional)
}

// catContext is the context `cat --follow` runs in: interrupted by SIGINT
// or SIGTERM, so that it ends with the exit status of what it read. Tests
// replace it.
var catContext = interruptible

func cmdCat(e *env, args []string) error {
	fs := e.flags("[flags] [DIR | SEGMENT ...]", "Print the log, or the given segments or directories, in order, as auditd writes its log.\n"+
		"Without an argument, print the log in the config's log_dir. A damaged frame is skipped with a warning\n"+
		"naming the segment and byte offset, the rest is printed, and the exit status is 1.\n"+
		"T is a keyword as in ausearch (now, recent, this-hour, boot, today, yesterday, this-week,\n"+
		"week-ago, this-month, this-year), YYYY-MM-DD [HH:MM:SS], MM/DD/YY [HH:MM:SS], HH:MM:SS,\n"+
		"RFC 3339, or epoch seconds; --until T includes the whole second T names, as ausearch -te.")
	cf := addConfigFlag(fs)
	since := fs.String("since", "", "only records at or after `T`")
	until := fs.String("until", "", "only records at or before `T`")
	serials := fs.String("serial", "", "only records with serials in `A-B` (or the one serial A)")
	format := fs.String("format", "", "print the lines as `F`: raw, enriched (auditd's ENRICHED with this host's names, as ausearch -i names them) or json (one object per event); default: as written")
	var follow bool
	fs.BoolVar(&follow, "follow", false, "keep printing records as the daemon writes them, across rotations, until interrupted (one directory)")
	fs.BoolVar(&follow, "f", false, "short for --follow")
	paths, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	switch *format {
	case "", formatRaw, formatEnriched, formatJSON:
	default:
		return cli.Usagef("--format %q: want raw, enriched or json", *format)
	}
	var f segment.Filter
	now := time.Now()
	if f.Since, err = parseTimeSpec(*since, false, now, nil); err != nil {
		return cli.Usagef("--since %w", err)
	}
	if f.Until, err = parseTimeSpec(*until, true, now, nil); err != nil {
		return cli.Usagef("--until %w", err)
	}
	if *serials != "" {
		a, b, isRange := strings.Cut(*serials, "-")
		if f.SerialMin, err = strconv.ParseUint(a, 10, 64); err != nil {
			return cli.Usagef("--serial %q: want A-B or A", *serials)
		}
		f.SerialMax = f.SerialMin
		if isRange {
			if f.SerialMax, err = strconv.ParseUint(b, 10, 64); err != nil || f.SerialMax < f.SerialMin {
				return cli.Usagef("--serial %q: want A-B with A <= B", *serials)
			}
		}
	}
	if len(paths) == 0 {
		cfg, err := cf.load(io.Discard)
		if err != nil {
			return err
		}
		paths = []string{cfg.LogDir}
	}
	if follow {
		if fi, err := os.Stat(paths[0]); len(paths) != 1 || err != nil || !fi.IsDir() {
			return cli.Usagef("--follow takes one log directory, got %q", paths)
		}
	}
	var out io.Writer = e.stdout
	var conv *converter
	if *format != "" {
		conv = newConverter(*format, e.stdout, e.stderr)
		out = conv
	}
	r := segment.Reader{Filter: f, Warn: func(s segment.Skip) {
		fmt.Fprintf(e.stderr, "auditdrain: %s: warning: %s\n", e.name, s)
	}}
	if follow {
		err = r.Follow(catContext(), out, paths[0], segment.DefaultFollowInterval)
	} else {
		var files []string
		if files, err = segment.Select(paths...); err != nil {
			return err
		}
		// Segments whose index shows no record in range are skipped unread.
		err = r.Cat(out, files...)
	}
	if conv != nil {
		if cerr := conv.Close(); err == nil {
			err = cerr
		}
	}
	var skipped *segment.SkipError
	if errors.As(err, &skipped) {
		// Each region was named in a warning above.
		return fmt.Errorf("%d damaged region(s) skipped (%d bytes in %d segment(s)); everything else was printed",
			skipped.Regions, skipped.Bytes, skipped.Segments)
	}
	return err
}

// controlSocketFlag adds --control-socket to fs: the daemon's control
// socket, by default the one in the config.
func controlSocketFlag(fs *flag.FlagSet) *string {
	return fs.String("control-socket", "", "the daemon's control socket `PATH` (default: the config's control_socket)")
}

// controlSocket is the control socket a command talks to: the
// --control-socket flag's, or the config's.
// fetchDaemon asks the running daemon for its status through the control
// socket the flag or the config names. Its error carries the exit status:
// 3 when no daemon runs, 4 when its state could not be found out.
func fetchDaemon(cf configFlag, flagValue string) (daemon.Status, error) {
	sock, err := controlSocket(cf, flagValue)
	if err != nil {
		return daemon.Status{}, err
	}
	st, err := daemon.FetchStatus(sock)
	if err != nil {
		code := exitUnknown
		if errors.Is(err, daemon.ErrNotRunning) {
			code = exitNotRunning
		}
		return st, &exitError{code, err}
	}
	return st, nil
}

func controlSocket(cf configFlag, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	cfg, err := cf.load(io.Discard)
	if err != nil {
		return "", err
	}
	if cfg.ControlSocket == "" {
		return "", fmt.Errorf("%s sets no control_socket: no daemon can be asked", *cf.path)
	}
	return cfg.ControlSocket, nil
}

func cmdStatus(e *env, args []string) error {
	fs := e.flags("[flags]", "Print the kernel's audit status (as auditctl -s does) and the running daemon's counters.\n"+
		"Exit status 3 means no daemon runs, 4 that its state could not be found out.")
	cf := addConfigFlag(fs)
	asJSON := fs.Bool("json", false, "print one JSON object")
	ctlSock := controlSocketFlag(fs)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	ds, derr := fetchDaemon(cf, *ctlSock)
	if derr != nil && !*asJSON {
		return derr
	}
	ks, feat, kerr := kernelStatus()
	if *asJSON {
		v := map[string]any{}
		if kerr == nil {
			k := map[string]any{
				"enabled": ks.Enabled, "failure": ks.Failure, "pid": ks.PID, "rate_limit": ks.RateLimit,
				"backlog_limit": ks.BacklogLimit, "lost": ks.Lost, "backlog": ks.Backlog,
				"backlog_wait_time": ks.BacklogWaitTime, "backlog_wait_time_actual": ks.BacklogWaitTimeActual,
			}
			if feat != nil {
				bit := uint32(1) << unix.AUDIT_FEATURE_LOGINUID_IMMUTABLE
				if feat.Mask&bit != 0 {
					k["loginuid_immutable"] = feat.Features&bit != 0
					k["loginuid_immutable_locked"] = feat.Lock&bit != 0
				}
			}
			v["kernel"] = k
		} else {
			v["kernel_error"] = kerr.Error()
		}
		if derr == nil {
			v["daemon"] = ds
		} else {
			v["daemon_error"] = derr.Error()
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		return derr
	}
	var kernel strings.Builder
	if kerr != nil {
		fmt.Fprintf(&kernel, "error %s\n", errorText(e.name, kerr))
	} else {
		auditctl.FormatStatus(&kernel, ks)
		if feat != nil {
			auditctl.FormatFeatures(&kernel, *feat)
		}
	}
	return ds.WriteText(e.stdout, kernel.String())
}

// kernelStatus reads the kernel's audit status and, when the kernel
// answers AUDIT_GET_FEATURE, its features (else nil).
func kernelStatus() (libaudit.AuditStatus, *auditctl.Features, error) {
	ctl, err := auditctl.Dial()
	if err != nil {
		return libaudit.AuditStatus{}, nil, err
	}
	defer ctl.Close()
	ks, err := ctl.Status()
	if err != nil {
		return ks, nil, err
	}
	feat, err := ctl.Features()
	if err != nil {
		return ks, nil, nil
	}
	return ks, &feat, nil
}

func cmdConfig(e *env, args []string) error {
	fs := e.flags("", "List the config keys, their defaults and what they mean.")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "# auditdrain config keys (file: %s, or --config FILE; --set key=value overrides)\n", config.DefaultPath)
	d := config.Default()
	for _, k := range config.Keys() {
		fmt.Fprintf(out, "%-24s = %-22s # %s\n", k, d.Value(k), config.Doc(k))
	}
	return nil
}

func cmdVersion(e *env, args []string) error {
	fs := e.flags("", "Print auditdrain's version, the Go version it was built with and, when known, the source revision.")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	writeVersion(e.stdout)
	return nil
}

// writeVersion writes "auditdrain VERSION", the Go version and platform,
// and the VCS revision the binary was built from when the build recorded it.
func writeVersion(w io.Writer) {
	fmt.Fprintf(w, "auditdrain %s\n", daemon.Version)
	fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return
	}
	if modified {
		rev += " (modified)"
	}
	if when != "" {
		rev += " " + when
	}
	fmt.Fprintf(w, "revision %s\n", rev)
}

func cmdBench(e *env, args []string) error {
	return bench.Command(interruptible(), args, e.stdout, e.stderr)
}
