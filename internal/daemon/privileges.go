package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/auditdrain/auditdrain/reader"
)

// Capability numbers (linux/capability.h).
const (
	capAuditControl = 30
	capAuditRead    = 37
)

// checkPrivileges fails at once, before anything is opened, when the
// process lacks the capability its mode needs.
func checkPrivileges(mode reader.Mode) error {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("daemon: reading capabilities: %w", err)
	}
	need, name := uint(capAuditControl), "CAP_AUDIT_CONTROL"
	if mode == reader.ModeMulticast {
		need, name = capAuditRead, "CAP_AUDIT_READ"
	}
	if eff&(1<<need) == 0 {
		return fmt.Errorf("daemon: %s mode needs %s (run as root, or grant it to the service); effective capabilities are %#x", mode, name, eff)
	}
	if eff&(1<<capAuditControl) == 0 {
		return fmt.Errorf("daemon: setting kernel audit status and rules needs CAP_AUDIT_CONTROL (run as root); effective capabilities are %#x", eff)
	}
	return nil
}

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// registeredError names the process that holds the audit daemon
// registration and says how to stop it; auditdrain never steals it.
func registeredError(pid int) error {
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	name := strings.TrimSpace(string(comm))
	if name == "" {
		name = "unknown"
	}
	hint := fmt.Sprintf("stop it first (kill %d)", pid)
	if name == "auditd" {
		hint = fmt.Sprintf("stop it first: `systemctl stop auditd` (or `kill %d` where systemd does not run it), or switch for good with `auditdrain install --replace-auditd`; to run beside it, use --mode multicast", pid)
	}
	return fmt.Errorf("daemon: %w: pid %d (%s) holds the registration; %s", reader.ErrAlreadyRegistered, pid, name, hint)
}
