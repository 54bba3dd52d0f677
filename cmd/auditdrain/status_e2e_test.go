package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// A daemon started with --config FILE is the one that status, rotate and
// cat given the same --config find: same control socket, same log
// directory. Once it has stopped, status exits 3.
func TestCommandsFollowRunsConfig(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	sock := filepath.Join(dir, "ctl.sock")
	conf := writeConfig(t, logDir, sock, "")
	d := startDaemon(t, "--config", conf)
	d.waitReady(t)
	pid := d.cmd.Process.Pid

	out, err := exec.Command(binPath, "status", "--config", conf).Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"daemon\n", "kernel\n", "losses by cause\n", "writer\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^daemon\n  pid +%d\n`, pid)).Match(out) {
		t.Errorf("status does not begin with the daemon's pid %d:\n%s", pid, out)
	}
	// The kernel section ends with auditctl -s's loginuid_immutable line
	// (this kernel knows the feature; auditctl's own test checks that).
	if !strings.Contains(string(out), "\n  loginuid_immutable ") {
		t.Errorf("status lacks the loginuid_immutable line:\n%s", out)
	}

	out, err = exec.Command(binPath, "rotate", "--config", conf).CombinedOutput()
	if want := fmt.Sprintf("sent SIGUSR1 to auditdrain (pid %d)\n", pid); err != nil || string(out) != want {
		t.Errorf("rotate: %v, %q; want %q", err, out, want)
	}

	// The daemon logs its own DAEMON_START record; cat finds it through
	// the config's log_dir.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = exec.Command(binPath, "cat", "--config", conf).Output()
		if err == nil && strings.Contains(string(out), "type=DAEMON_START") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cat --config: %v; no DAEMON_START record after 10s:\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	d.stop(t)
	cmd := exec.Command(binPath, "status", "--config", conf)
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitNotRunning || strings.Count(string(out), "\n") != 1 {
		t.Errorf("status after stop: %v, %q; want exit %d and one line", err, out, exitNotRunning)
	}
}
