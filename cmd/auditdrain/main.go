// Command auditdrain drains the kernel's audit queue into compressed,
// durable log segments. It owns only the command line: each subcommand
// parses its flags and calls the package that does the work
// (internal/daemon for run and status, writer for cat, bench for bench).
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditdrain/auditdrain/bench"
	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/segment"
)

const usage = `auditdrain drains the kernel audit queue into compressed, durable logs.

Usage:
  auditdrain run    [--config FILE] [--log-dir DIR] [--rules FILE] [--mode unicast|multicast]
                    [--control-socket PATH] [--set key=value ...] [--discard]
  auditdrain cat    [--since T] [--until T] [--serial A-B] [DIR | SEGMENT ...]
                                             print the log (default dir: /var/log/auditdrain)
  auditdrain status [--json] [--control-socket PATH]
  auditdrain bench  [flags]                  measure drain rate, loss and stall (see auditdrain bench -h)
  auditdrain config                          list the config keys and their defaults
  auditdrain reload | rotate | resume        signal the running daemon (SIGHUP, SIGUSR1, SIGUSR2)
  auditdrain rules check [--rules-dir DIR]   print the merged rules.d as augenrules would, and every error
  auditdrain rules load  [--rules-dir DIR]   load them into the kernel
  auditdrain install   [--replace-auditd] [--binary PATH]   install the systemd unit and a default config
  auditdrain uninstall [--restore-auditd]                   remove the unit (the config and logs stay)

Run "auditdrain COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// Only run and bench stop gracefully on SIGTERM/SIGINT; every other
	// command keeps the default (a Ctrl-C ends it at once).
	interruptible := func() context.Context {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		// After the first signal, a second one kills at once (a shutdown
		// that hangs must not need SIGKILL).
		go func() { <-ctx.Done(); stop() }()
		return ctx
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(interruptible(), args)
	case "cat":
		err = cmdCat(args, os.Stdout)
	case "status":
		err = cmdStatus(args, os.Stdout)
	case "bench":
		err = bench.Command(interruptible(), args, os.Stdout, os.Stderr)
	case "config":
		err = cmdConfig(os.Stdout)
	case "reload", "rotate", "resume":
		err = cmdSignal(os.Args[1], args, os.Stdout)
	case "rules":
		err = cmdRules(args, os.Stdout)
	case "install":
		err = cmdInstall(args, os.Stdout)
	case "uninstall":
		err = cmdUninstall(args, os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "auditdrain: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	var usageErr usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0) // the flag package printed the usage
	case errors.As(err, &usageErr):
		os.Exit(2) // the flag package printed the error and the usage
	default:
		fmt.Fprintf(os.Stderr, "auditdrain %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// usageError is a command-line error the flag package has already printed.
type usageError struct{ error }

// parseFlags parses args, marking errors the flag package has printed.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", config.DefaultPath, "config file (auditd.conf syntax); optional at the default path")
	logDir := fs.String("log-dir", "", "directory for the log segments (config: log_dir)")
	rules := fs.String("rules", "", "file of auditctl rules to load (config: rules)")
	mode := fs.String("mode", "", "unicast (replace auditd) or multicast (beside it) (config: mode)")
	ctlSock := fs.String("control-socket", "", "control socket path (config: control_socket)")
	discard := fs.Bool("discard", false, "count records instead of writing them (benchmark floor)")
	var sets setFlags
	fs.Var(&sets, "set", "override one config key: --set key=value (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	load := func() (config.Config, error) {
		cfg, err := loadConfig(*cfgPath, !explicit, os.Stderr)
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
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
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
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "auditdrain: %v: %v\n", sig, err)
				}
			}
		}()
	}
	return daemon.Run(ctx, cfg, daemon.Options{Discard: *discard, Log: os.Stderr}, ready)
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

func cmdCat(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	since := fs.String("since", "", "only records at or after this time (RFC 3339, or YYYY-MM-DD HH:MM:SS local)")
	until := fs.String("until", "", "only records at or before this time")
	serials := fs.String("serial", "", "only records with serials in A-B (or one serial A)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var f segment.Filter
	var err error
	if f.Since, err = parseTime(*since); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if f.Until, err = parseTime(*until); err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if *serials != "" {
		a, b, isRange := strings.Cut(*serials, "-")
		if f.SerialMin, err = strconv.ParseUint(a, 10, 64); err != nil {
			return fmt.Errorf("--serial %q: want A-B or A", *serials)
		}
		f.SerialMax = f.SerialMin
		if isRange {
			if f.SerialMax, err = strconv.ParseUint(b, 10, 64); err != nil || f.SerialMax < f.SerialMin {
				return fmt.Errorf("--serial %q: want A-B with A <= B", *serials)
			}
		}
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{config.Default().LogDir}
	}
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		segs, err := segment.List(p)
		if err != nil {
			return err
		}
		files = append(files, segs...)
	}
	// Segments whose index shows no record in range are skipped unread.
	return segment.CatFiltered(out, f, files...)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil { // seconds since the epoch, as in audit(SEC.MS:...)
		return time.UnixMilli(int64(n * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("%q: not a time (RFC 3339, YYYY-MM-DD HH:MM:SS, or epoch seconds)", s)
}

func cmdStatus(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	ctlSock := fs.String("control-socket", config.Default().ControlSocket, "the daemon's control socket")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctl, err := auditctl.Dial()
	if err != nil {
		return err
	}
	defer ctl.Close()
	ks, err := ctl.Status()
	if err != nil {
		return err
	}
	ds, derr := daemon.FetchStatus(*ctlSock)
	if *asJSON {
		v := map[string]any{"kernel": map[string]any{
			"enabled": ks.Enabled, "failure": ks.Failure, "pid": ks.PID, "rate_limit": ks.RateLimit,
			"backlog_limit": ks.BacklogLimit, "lost": ks.Lost, "backlog": ks.Backlog,
			"backlog_wait_time": ks.BacklogWaitTime, "backlog_wait_time_actual": ks.BacklogWaitTimeActual,
		}}
		if derr == nil {
			v["daemon"] = ds
		} else {
			v["daemon_error"] = derr.Error()
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	auditctl.FormatStatus(out, ks)
	if derr != nil {
		fmt.Fprintf(out, "%v\n", derr)
		return nil
	}
	b, _ := json.MarshalIndent(ds, "", "  ")
	fmt.Fprintf(out, "daemon:\n")
	printFields(out, b)
	return nil
}

// printFields prints a JSON object as `key value` lines, in the struct's order.
func printFields(out io.Writer, obj []byte) {
	dec := json.NewDecoder(strings.NewReader(string(obj)))
	dec.UseNumber()
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		var v any
		dec.Decode(&v)
		fmt.Fprintf(out, "  %s %v\n", k, v)
	}
}

func cmdConfig(out io.Writer) error {
	fmt.Fprintf(out, "# auditdrain config keys (file: %s, or --config FILE; --set key=value overrides)\n", config.DefaultPath)
	d := config.Default()
	for _, k := range config.Keys() {
		fmt.Fprintf(out, "%-24s = %-22s # %s\n", k, d.Value(k), config.Doc(k))
	}
	return nil
}
