package audittest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// auditdStopTimeout is how long StopAuditd waits for auditd to exit.
const auditdStopTimeout = 5 * time.Second

// StopAuditd stops auditd when it is the registered audit daemon, so that the
// test can register its own: if the kernel's registered pid is a process
// whose /proc/PID/comm is "auditd", it sends that process SIGTERM and waits up
// to 5 s for it to exit (repeating the signal every 250 ms, for an auditd
// still starting up), failing the test otherwise. It touches no other
// process: a registered daemon that is not auditd is left alone (and logged).
// The process is addressed through a pidfd, so a recycled pid cannot be hit.
// auditd is not restarted when the test ends; the test log says it was
// stopped.
func (k *K) StopAuditd() {
	k.t.Helper()
	st, err := k.conn.Status()
	if err != nil {
		k.t.Fatalf("audittest: StopAuditd: %v", err)
	}
	if st.PID == 0 {
		return
	}
	pid := int(st.PID)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // stale registration: the daemon is already gone
	}
	if err != nil {
		k.t.Fatalf("audittest: StopAuditd: %v", os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(pidfd)

	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		k.t.Fatalf("audittest: StopAuditd: %v", err)
	}
	if name := strings.TrimSpace(string(comm)); name != "auditd" {
		k.t.Logf("audittest: StopAuditd: registered audit daemon pid %d is %q, not auditd; leaving it alone", pid, name)
		return
	}

	if err := stopProcess(pidfd, auditdStopTimeout); err != nil {
		k.t.Fatalf("audittest: StopAuditd: auditd pid %d: %v", pid, err)
	}
	k.t.Logf("audittest: stopped auditd (pid %d) with SIGTERM; it will not be restarted", pid)
	k.mu.Lock()
	k.stopped = append(k.stopped, pid)
	k.mu.Unlock()

	// auditd unregisters itself on the way out; if it did not, clear the
	// stale registration (the kernel allows that once the process is gone).
	if st, err := k.conn.Status(); err == nil && int(st.PID) == pid {
		if err := k.conn.Unregister(); err != nil {
			k.t.Errorf("audittest: StopAuditd: clearing the registration of exited auditd pid %d: %v", pid, err)
		}
	}
}

// stopProcess sends SIGTERM to the process behind pidfd and waits for it to
// exit. The signal is repeated every resendEvery while waiting: a daemon
// caught early in its start-up may not have installed its handler yet and
// ignore the first one (auditd registers with the kernel before it does).
func stopProcess(pidfd int, timeout time.Duration) error {
	const resendEvery = 250 * time.Millisecond
	deadline := time.Now().Add(timeout)
	for {
		if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil // already gone
			}
			return os.NewSyscallError("pidfd_send_signal", err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("did not exit within %v of SIGTERM", timeout)
		}
		exited, err := waitExit(pidfd, min(left, resendEvery))
		if err != nil || exited {
			return err
		}
	}
}

// waitExit waits up to timeout for the process behind pidfd to exit (a pidfd
// becomes readable then, zombie or reaped) and reports whether it did.
func waitExit(pidfd int, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("poll", err)
		}
		if n > 0 {
			return true, nil
		}
	}
}
