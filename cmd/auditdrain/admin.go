package main

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/cli"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/rulesd"
	"github.com/auditdrain/auditdrain/internal/service"
	"golang.org/x/sys/unix"
)

// cmdSignal sends reload (SIGHUP), rotate (SIGUSR1) or resume (SIGUSR2) to
// the running daemon, found through its control socket.
func cmdSignal(e *env, args []string) error {
	sig := map[string]syscall.Signal{"reload": syscall.SIGHUP, "rotate": syscall.SIGUSR1, "resume": syscall.SIGUSR2}[e.name]
	what := map[string]string{
		"reload": "SIGHUP to the running daemon, found through its control socket: reload the config and the rules",
		"rotate": "SIGUSR1 to the running daemon, found through its control socket: start a new log segment",
		"resume": "SIGUSR2 to the running daemon, found through its control socket: resume writing after a disk action suspended it",
	}[e.name]
	fs := e.flags("[flags]", "Send "+what+".")
	cf := addConfigFlag(fs)
	ctlSock := controlSocketFlag(fs)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	st, err := fetchDaemon(cf, *ctlSock)
	if err != nil {
		return err
	}
	if err := syscall.Kill(st.PID, sig); err != nil {
		return fmt.Errorf("sending %s to pid %d: %w", unix.SignalName(sig), st.PID, err)
	}
	fmt.Fprintf(e.stdout, "sent %s to auditdrain (pid %d)\n", unix.SignalName(sig), st.PID)
	return nil
}

// cmdRules checks or loads an augenrules-style rules directory.
func cmdRules(e *env, args []string) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "load") {
		fs := e.flags("check|load [flags] [DIR]", "check: print the *.rules files of DIR merged as augenrules writes audit.rules, and every error.\n"+
			"load:  load them into the kernel.\n"+
			"DIR defaults to the config's rules_dir ("+config.Default().RulesDir+").\n"+
			"Run 'auditdrain rules check --help' for the flags.")
		if _, err := e.parse(fs, args); err != nil {
			return err
		}
		if len(args) == 0 {
			return cli.Usagef("want check or load")
		}
		return cli.Usagef("unknown rules command %q: want check or load", args[0])
	}
	e.name = "rules " + args[0]
	about := "Print the *.rules files of DIR merged as augenrules writes audit.rules; report every error."
	if args[0] == "load" {
		about = "Merge the *.rules files of DIR as augenrules does and load them into the kernel."
	}
	fs := e.flags("[flags] [DIR]", about+"\nDIR defaults to the config's rules_dir.")
	cf := addConfigFlag(fs)
	dirFlag := fs.String("rules-dir", "", "the rules directory `DIR` (the same as the argument)")
	allowPanic := new(bool)
	if args[0] == "load" {
		allowPanic = fs.Bool("allow-panic", false, "allow -f 2 (kernel panic on any lost record)")
	}
	pos, err := e.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if *dirFlag != "" {
		pos = append(pos, *dirFlag)
	}
	var dir string
	switch len(pos) {
	case 0:
		cfg, err := cf.load(io.Discard)
		if err != nil {
			return err
		}
		if cfg.RulesDir == "" {
			return cli.Usagef("%s sets no rules_dir: give the rules directory", *cf.path)
		}
		dir = cfg.RulesDir
	case 1:
		dir = pos[0]
	default:
		return cli.Usagef("want one rules directory, got %q", pos)
	}
	set, err := rulesd.Merge(dir)
	if set == nil {
		return err
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(e.stderr, "auditdrain: %s: warning: %s\n", e.name, w)
	}
	if err := set.Err(); err != nil {
		return err
	}
	if args[0] == "check" {
		return set.WriteAuditRules(e.stdout)
	}
	c, err := auditctl.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := set.Load(c, *allowPanic)
	for _, re := range rep.Refused {
		printError(e.stderr, e.name, re)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "loaded %d rules from %s\n", rep.Loaded, dir)
	if rep.Err() != nil {
		return fmt.Errorf("%s: %d lines refused by the kernel (listed above); stopped loading: %v", dir, len(rep.Refused), rep.Stopped)
	}
	return nil
}

func cmdInstall(e *env, args []string) error {
	fs := e.flags("[flags]", "Install the systemd unit and, when missing, a default config at "+config.DefaultPath+".")
	replace := fs.Bool("replace-auditd", false, "disable and stop auditd, then enable and start auditdrain")
	start := fs.Bool("start", false, "enable and start auditdrain (auditd untouched)")
	offline := fs.Bool("offline", false, "write the files only; run no systemctl command")
	bin := fs.String("binary", "", "binary `PATH` for ExecStart (default: this executable)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		*bin = exe
	}
	rep, err := service.Install(service.InstallOptions{Binary: *bin, ReplaceAuditd: *replace, Start: *start, Offline: *offline})
	fmt.Fprint(e.stdout, rep.String())
	return err
}

func cmdUninstall(e *env, args []string) error {
	fs := e.flags("[flags]", "Remove the systemd unit. The config and the logs stay.")
	restore := fs.Bool("restore-auditd", false, "enable and start auditd again")
	offline := fs.Bool("offline", false, "remove the unit file only; run no systemctl command")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	rep, err := service.Uninstall(service.UninstallOptions{RestoreAuditd: *restore, Offline: *offline})
	fmt.Fprint(e.stdout, rep.String())
	return err
}
