package daemon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/segment"
	"golang.org/x/sys/unix"
)

// An exec that fails after the daemon stopped for it (the binary replaced
// in between, say) leaves the daemon running: the socket is not
// inheritable any more, a new segment is open, and every record before,
// during and after the attempt is on disk.
func TestUpgradeExecFailsResumes(t *testing.T) {
	k := kernelFor(t, 8192)
	key := k.Key("upgrade")
	rule(k, "getppid", key)
	var sawFD, sawEnv bool
	savedExec, savedCheck := execFunc, upgradeCheck
	t.Cleanup(func() { execFunc, upgradeCheck = savedExec, savedCheck })
	upgradeCheck = func(string) error { return nil }
	r := start(t, k, config.Default(), Options{})
	execFunc = func(path string, argv, env []string) error {
		fd := r.d.rd.Fd()
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		sawFD = err == nil && fl&unix.FD_CLOEXEC == 0
		sawEnv = slices.Contains(env, EnvAuditFD+"="+strconv.Itoa(fd))
		return syscall.ENOEXEC
	}
	const events = 1500
	load(t, fmt.Sprintf("getppid:%d:20000", events))
	before := r.d.Status() // once the first load's records are written
	for end := time.Now().Add(5 * time.Second); before.RecordsWritten < events && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		before = r.d.Status()
	}
	err := r.d.Upgrade()
	if err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Fatalf("Upgrade with a failing exec: %v", err)
	}
	if !sawFD || !sawEnv {
		t.Errorf("at exec: socket inheritable %v, %s in the environment %v", sawFD, EnvAuditFD, sawEnv)
	}
	if fl, _ := unix.FcntlInt(uintptr(r.d.rd.Fd()), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("after the failed exec the socket is still inheritable")
	}
	if _, err := FetchStatus(r.cfg.ControlSocket); err != nil {
		t.Errorf("control socket after the failed upgrade: %v", err)
	}
	load(t, fmt.Sprintf("getppid:%d:20000", events))
	// Status from this goroutine while the drain runs (the race detector
	// watches the writer's swap); records_written goes on across the new
	// writer: it never falls below what the old one had written.
	var after Status
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if after = r.d.Status(); after.RecordsWritten >= before.RecordsWritten+events {
			break
		}
	}
	if after.RecordsWritten < before.RecordsWritten+events {
		t.Errorf("records_written %d after %d more events, was %d before the upgrade: the count must go on across the new writer", after.RecordsWritten, events, before.RecordsWritten)
	}
	st := r.stop(t)
	log := r.logText(t)
	if got := count(log, "type=SYSCALL ", `key="`+key+`"`); got != 2*events {
		t.Errorf("%d SYSCALL records on disk, want %d; status %+v", got, 2*events, st)
	}
	if count(log, "type=DAEMON_END ", "op=upgrade") != 1 || count(log, "type=DAEMON_ERR ", "op=upgrade") != 1 {
		t.Errorf("want one op=upgrade DAEMON_END and one failed op=upgrade DAEMON_ERR:\n%s", grepLines(log, "op=upgrade"))
	}
	segs, _ := segment.List(r.cfg.LogDir)
	if len(segs) != 2 {
		t.Errorf("segments %v, want the one closed for the exec and a new one", segs)
	}
	for _, s := range segs {
		if _, err := segment.ReadIndex(s); err != nil {
			t.Errorf("segment not closed cleanly: %v", err)
		}
	}
	if st.LostTotal != 0 {
		t.Errorf("lost %v", st.Lost)
	}
}

func grepLines(log, s string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			b.WriteString(line)
		}
	}
	return b.String()
}
