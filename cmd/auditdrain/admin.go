package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/rulesd"
	"github.com/auditdrain/auditdrain/internal/service"
)

// cmdSignal sends reload (SIGHUP), rotate (SIGUSR1) or resume (SIGUSR2) to
// the running daemon, found through its control socket.
func cmdSignal(name string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	ctlSock := fs.String("control-socket", config.Default().ControlSocket, "the daemon's control socket")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sig := map[string]syscall.Signal{"reload": syscall.SIGHUP, "rotate": syscall.SIGUSR1, "resume": syscall.SIGUSR2}[name]
	st, err := daemon.FetchStatus(*ctlSock)
	if err != nil {
		return err
	}
	if err := syscall.Kill(st.PID, sig); err != nil {
		return fmt.Errorf("sending %v to pid %d: %w", sig, st.PID, err)
	}
	fmt.Fprintf(out, "sent %v to auditdrain (pid %d)\n", sig, st.PID)
	return nil
}

// cmdRules checks or loads an augenrules-style rules directory.
func cmdRules(args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "load") {
		return errors.New("usage: auditdrain rules check|load [--rules-dir DIR] [--allow-panic]")
	}
	fs := flag.NewFlagSet("rules "+args[0], flag.ContinueOnError)
	dir := fs.String("rules-dir", config.Default().RulesDir, "directory of *.rules files")
	allowPanic := fs.Bool("allow-panic", false, "allow -f 2 (kernel panic on any lost record)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	set, err := rulesd.Merge(*dir)
	if set == nil {
		return err
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	if err := set.Err(); err != nil {
		return err
	}
	if args[0] == "check" {
		return set.WriteAuditRules(out)
	}
	c, err := auditctl.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := set.Load(c, *allowPanic)
	for _, re := range rep.Refused {
		fmt.Fprintf(os.Stderr, "%v\n", re)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "loaded %d rules from %s\n", rep.Loaded, *dir)
	if rep.Err() != nil {
		return fmt.Errorf("%s: %d lines refused by the kernel (listed above); stopped loading: %v", *dir, len(rep.Refused), rep.Stopped)
	}
	return nil
}

func cmdInstall(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	replace := fs.Bool("replace-auditd", false, "disable and stop auditd, then enable and start auditdrain")
	start := fs.Bool("start", false, "enable and start auditdrain (auditd untouched)")
	offline := fs.Bool("offline", false, "write the files only; run no systemctl command")
	bin := fs.String("binary", "", "binary path for ExecStart (default: this executable)")
	if err := parseFlags(fs, args); err != nil {
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
	fmt.Fprint(out, rep.String())
	return err
}

func cmdUninstall(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	restore := fs.Bool("restore-auditd", false, "enable and start auditd again")
	offline := fs.Bool("offline", false, "remove the unit file only; run no systemctl command")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rep, err := service.Uninstall(service.UninstallOptions{RestoreAuditd: *restore, Offline: *offline})
	fmt.Fprint(out, rep.String())
	return err
}
