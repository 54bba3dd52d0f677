package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/doctor"
	"github.com/elastic/go-libaudit/v2/rule"
	"golang.org/x/sys/unix"
)

func cmdDoctor(e *env, args []string) error {
	fs := e.flags("[flags]", "Check the kernel command line, the kernel's audit settings and rules, the log disk and, when a daemon\n"+
		"runs, its loss by cause, the busiest rules and the writer; print each finding with its evidence and the exact\n"+
		"fix as rules.d or config lines. Exit status 1 when a finding is an error. Without a running daemon only the\n"+
		"kernel and file checks run; as non-root, fewer still (it says so).")
	cf := addConfigFlag(fs)
	ctlSock := controlSocketFlag(fs)
	asJSON := fs.Bool("json", false, "print the findings as a JSON array")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	// A config that cannot be read is a finding, not the end: the checks
	// run against the defaults.
	cfg, cerr := cf.load(e.stderr)
	if cerr != nil {
		cfg = config.Default()
	}
	in := doctor.Input{Root: os.Geteuid() == 0, Config: cfg, ConfigPath: *cf.path, ConfigErr: cerr}
	b, err := os.ReadFile("/proc/cmdline")
	in.Cmdline, in.CmdlineErr = string(b), err
	in.IsDir = func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	}
	if in.Root {
		gatherKernel(&in)
		sock := *ctlSock
		if sock == "" {
			sock = cfg.ControlSocket
		}
		if sock != "" {
			if st, err := daemon.FetchStatus(sock); err == nil {
				in.Daemon = &st
				if t, err := daemon.FetchTop(sock); err == nil {
					in.Top = &t
				} else {
					in.DaemonErr = err
				}
			} else {
				in.DaemonErr = err
			}
		}
	}
	logDir := cfg.LogDir
	if in.Daemon != nil && in.Daemon.LogDir != "" {
		logDir = in.Daemon.LogDir
	}
	in.Disk, in.DiskErr = diskOf(logDir)
	findings := doctor.Check(in)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(findings); err != nil {
			return err
		}
	} else {
		doctor.Write(e.stdout, findings)
	}
	if doctor.Worst(findings) == doctor.Error {
		n := 0
		for _, f := range findings {
			if f.Severity == doctor.Error {
				n++
			}
		}
		return fmt.Errorf("%d findings are errors", n)
	}
	return nil
}

// gatherKernel reads the kernel's audit status and rules into in.
func gatherKernel(in *doctor.Input) {
	ctl, err := auditctl.Dial()
	if err != nil {
		in.KernelErr, in.RulesErr = err, err
		return
	}
	defer ctl.Close()
	st, err := ctl.Status()
	if err != nil {
		in.KernelErr = err
	} else {
		in.Kernel = &st
	}
	ws, err := ctl.Rules()
	if err != nil {
		in.RulesErr = err
		return
	}
	for _, w := range ws {
		text, err := rule.ToCommandLine(w, false)
		if err != nil {
			in.RulesErr = errors.Join(in.RulesErr, err)
			continue
		}
		in.Rules = append(in.Rules, text)
	}
}

// diskOf looks at the log directory's file system and the bytes of the
// log in it.
func diskOf(dir string) (*doctor.Disk, error) {
	if dir == "" {
		return nil, errors.New("no log_dir")
	}
	var sfs unix.Statfs_t
	probe := dir
	for {
		if err := unix.Statfs(probe, &sfs); err == nil {
			break
		} else if parent := filepath.Dir(probe); parent != probe && errors.Is(err, unix.ENOENT) {
			probe = parent // the log directory does not exist yet: its file system
		} else {
			return nil, fmt.Errorf("statfs %s: %w", dir, err)
		}
	}
	d := &doctor.Disk{Dir: dir, FreeBytes: int64(sfs.Bavail) * int64(sfs.Bsize), SizeBytes: int64(sfs.Blocks) * int64(sfs.Bsize)}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if info, err := en.Info(); err == nil && info.Mode().IsRegular() {
			d.LogBytes += info.Size()
		}
	}
	return d, nil
}
