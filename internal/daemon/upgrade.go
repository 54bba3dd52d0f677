package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/service"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
	"golang.org/x/sys/unix"
)

// handover is the Daemon's state for keeping the audit socket across an
// exec (Upgrade) or a restart (systemd's fd store).
type handover struct {
	// socketSource says where the data socket came from (socketOpened...).
	socketSource string
	// fdStored: systemd's fd store holds a duplicate of the data socket,
	// so it outlives this process: a stop leaves the registration to it.
	fdStored atomic.Bool
	// pause, when set, asks the read loop to park (Upgrade).
	pause atomic.Pointer[pauseReq]
	// lifecycle is held by Upgrade throughout and by shutdown: one of them
	// at a time.
	lifecycle sync.Mutex
	reading   *loop
	draining  *loop
	runCtx    context.Context // Run's: cancelled by SIGTERM
	// Under d.owner, during an upgrade: what quiesce stopped.
	writerClosed, pluginsStopped bool
	// rate of records read, for Status.RestartBudgetSeconds.
	rate rateMeter
	// state is the page of kernel counters kept in systemd's fd store.
	state *stateFile
	// inflight is the number of records an adopted ring held that the
	// previous process had read and not written (inflight.go).
	inflight int
}

// pauseReq parks the read loop: it closes parked once it stopped reading,
// and reads again once resume is closed.
type pauseReq struct {
	parked, resume chan struct{}
}

// parkIfAsked runs on the read loop after ReadBatch returned err: if an
// upgrade asked it to stop reading, it waits there until the upgrade
// resumes it (it failed) and reports true. The records that arrive
// meanwhile wait in the socket.
func (d *Daemon) parkIfAsked() bool {
	p := d.pause.Load()
	if p == nil {
		return false
	}
	close(p.parked)
	<-p.resume
	return true
}

// execFunc is syscall.Exec and upgradeCheck is checkBinary; tests replace
// them to make the exec fail after the daemon stopped for it.
var (
	execFunc     = syscall.Exec
	upgradeCheck = checkBinary
)

// upgradeCheckTimeout bounds the trial run of the new binary.
const upgradeCheckTimeout = 10 * time.Second

// Upgrade replaces this program with the binary on disk (the path of
// /proc/self/exe, resolved again: a package upgrade puts a new file there),
// keeping the registered audit socket: same pid, same registration, and
// the records that arrive meanwhile wait in the socket. Steps:
//
//  1. The binary must pass config.CheckTrusted (root's, not writable by
//     group or others) and run `BINARY version` successfully; otherwise
//     nothing is touched and the error is returned.
//  2. The read loop stops reading; the ring is drained into the writer;
//     the kernel's counters are read a last time and accounted; a
//     DAEMON_END record op=upgrade is written; the plugins are stopped
//     (their queues written to them); the writer is closed (flushed,
//     fsynced, the segment indexed).
//  3. The socket is made inheritable and the program execs the binary
//     with the same arguments, EnvAuditFD naming the socket and
//     EnvKernelCounters the counters. The new program adopts the socket
//     (reader.Adopt) instead of registering.
//
// If the exec fails, the socket is made close-on-exec again, a new segment
// is opened, the plugins start again, a DAEMON_ERR record op=upgrade
// res=failed is written, reading resumes, and the error is returned. On
// success Upgrade does not return.
func (d *Daemon) Upgrade() error {
	if !d.lifecycle.TryLock() {
		return errors.New("daemon: upgrade: the daemon is stopping or another upgrade is under way")
	}
	defer d.lifecycle.Unlock()
	if d.reading == nil {
		return errors.New("daemon: upgrade: the daemon is still starting")
	}
	if d.stopping.Load() || closed(d.reading.done) || closed(d.draining.done) || d.runCtx.Err() != nil {
		return errors.New("daemon: upgrade: the daemon is stopping")
	}
	exe, err := upgradeBinary()
	if err != nil {
		return err
	}
	if err := upgradeCheck(exe); err != nil {
		return err
	}
	d.logf("upgrade: replacing pid %d with %s, keeping the audit socket", os.Getpid(), exe)
	if n := service.NewNotifier(); n.Enabled() {
		// RELOADING=1 now; READY=1 comes from the new program, or from
		// this one when it resumes (Upgrade returns only on failure).
		n.Reloading()
		defer func() { n.Ready(d.statusLine()) }()
	}
	t0 := time.Now()
	if err := d.quiesce(); err != nil {
		d.logf("upgrade: %v: resuming", err)
		d.resume(err)
		return err
	}
	stateFD, ringFD := -1, d.ring.Fd()
	if d.state != nil {
		stateFD = d.state.fd
	}
	fail := func(err error) error {
		d.rd.Inheritable(false)
		if stateFD >= 0 {
			unix.CloseOnExec(stateFD)
		}
		if ringFD >= 0 {
			unix.CloseOnExec(ringFD)
		}
		d.logf("%v: resuming with the running program", err)
		d.resume(err)
		return err
	}
	if stateFD >= 0 {
		if _, err := unix.FcntlInt(uintptr(stateFD), unix.F_SETFD, 0); err != nil { // inherited too
			return fail(fmt.Errorf("daemon: upgrade: %w", os.NewSyscallError("fcntl F_SETFD", err)))
		}
	}
	if ringFD >= 0 {
		if _, err := unix.FcntlInt(uintptr(ringFD), unix.F_SETFD, 0); err != nil { // the ring too (empty: all written)
			return fail(fmt.Errorf("daemon: upgrade: %w", os.NewSyscallError("fcntl F_SETFD", err)))
		}
	}
	if err := d.rd.Inheritable(true); err != nil {
		return fail(err)
	}
	lost, wait := d.kernelCounters()
	env := upgradeEnv(os.Environ(), d.rd.Fd(), stateFD, lost, wait)
	if ringFD >= 0 {
		env = append(env, EnvRingFD+"="+strconv.Itoa(ringFD))
	}
	d.logf("upgrade: stopped and flushed in %v; exec %s", time.Since(t0).Round(time.Millisecond), exe)
	if d.runCtx.Err() != nil {
		// SIGTERM came during the upgrade: stop instead, as asked.
		return fail(errors.New("daemon: upgrade: SIGTERM came meanwhile: stopping instead"))
	}
	err = execFunc(exe, os.Args, env)
	// Only a failed exec returns.
	return fail(fmt.Errorf("daemon: upgrade: exec %s: %w", exe, err))
}

// upgradeBinary is the path of the running program's binary as it is on
// disk now: /proc/self/exe's target, without the " (deleted)" the kernel
// appends once a package upgrade replaced the file.
func upgradeBinary() (string, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", fmt.Errorf("daemon: upgrade: finding the binary: %w", err)
	}
	return strings.TrimSuffix(exe, " (deleted)"), nil
}

// checkBinary refuses a binary that someone other than root could have
// written, or that does not run: `BINARY version` must exit 0 and print
// "auditdrain ".
func checkBinary(exe string) error {
	if err := config.CheckTrusted(exe); err != nil {
		return fmt.Errorf("daemon: upgrade: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), upgradeCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "version")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte("auditdrain ")) {
		if err == nil {
			err = errors.New("it does not say it is auditdrain")
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("daemon: upgrade: %s version: %w (output %q); keeping the running program", exe, err, first)
	}
	return nil
}

// upgradeEnv is env without any earlier hand-over or socket activation
// variables, plus EnvAuditFD and EnvKernelCounters.
func upgradeEnv(env []string, fd, stateFD int, lost, wait uint32) []string {
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvAuditFD, EnvKernelCounters, EnvStateFD, EnvRingFD, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES":
			continue
		}
		out = append(out, kv)
	}
	if stateFD >= 0 {
		out = append(out, EnvStateFD+"="+strconv.Itoa(stateFD))
	}
	return append(out, EnvAuditFD+"="+strconv.Itoa(fd),
		EnvKernelCounters+"="+strconv.FormatUint(uint64(lost), 10)+","+strconv.FormatUint(uint64(wait), 10))
}

// quiesce stops reading and writes out everything the daemon holds, for
// the exec: see Upgrade. On error the caller resumes.
func (d *Daemon) quiesce() error {
	p := &pauseReq{parked: make(chan struct{}), resume: make(chan struct{})}
	d.pause.Store(p)
	d.rd.SetDeadline(time.Now())
	select {
	case <-p.parked:
	case <-d.reading.done:
		return fmt.Errorf("daemon: upgrade: the reader stopped: %w", d.reading.err)
	case <-time.After(10 * time.Second):
		return errors.New("daemon: upgrade: the reader did not stop within 10 s")
	}
	// The kernel poller stops, so that its last reading is the one handed
	// over.
	d.stopPolling()
	<-d.kpoll.done
	d.owner.Lock()
	defer d.owner.Unlock()
	for d.ring.Len() > 0 {
		d.ring.Drain(4<<20, d.sink)
	}
	if ep := d.writeErr.Load(); ep != nil {
		return *ep
	}
	d.kpoll.poll()
	d.saveState()
	d.account(time.Now())
	d.writeSelf(record.TypeDaemonEnd, d.upgradeRecord())
	d.pluginsStopped = true
	if err := d.stopPlugins(); err != nil {
		d.logf("upgrade: %v", err)
	}
	if d.w != nil {
		d.writerClosed = true
		if err := d.w.Close(); err != nil {
			return fmt.Errorf("daemon: upgrade: closing the writer: %w", err)
		}
	}
	return nil
}

// resume undoes quiesce after a failed exec: a new writer and segment, the
// plugins, the kernel poller, and reading again.
func (d *Daemon) resume(cause error) {
	d.owner.Lock()
	if d.writerClosed {
		d.writerClosed = false
		if err := d.reopenWriter(); err != nil {
			d.logf("upgrade: reopening the writer: %v", err)
			e := error(err)
			d.writeErr.CompareAndSwap(nil, &e)
		}
	}
	if d.pluginsStopped {
		d.pluginsStopped = false
		if err := d.newPlugins(); err != nil {
			d.logf("upgrade: plugins: %v", err)
		} else {
			d.startPlugins()
		}
	}
	d.writeSelf(record.TypeDaemonErr, d.upgradeFailedRecord(cause))
	d.owner.Unlock()
	if closed(d.kpoll.done) { // quiesce stopped the poller
		d.kpoll.done = make(chan struct{})
		ctx, stop := context.WithCancel(context.Background())
		d.stopPolling = stop
		go d.kpoll.run(ctx, time.Second)
	}
	d.rd.SetDeadline(time.Time{})
	if p := d.pause.Swap(nil); p != nil {
		close(p.resume)
	}
}

// reopenWriter opens a new writer (a new segment) in place of the closed
// one. The caller holds d.owner.
func (d *Daemon) reopenWriter() error {
	wc, err := d.writerConfig()
	if err != nil {
		return err
	}
	w, err := writer.Open(wc)
	if err != nil {
		return err
	}
	w.At(d.ring.Written(), d.ring.Written())
	if old := d.w; old != nil {
		st := old.Stats()
		d.wbaseRecords.Add(st.Records)
		d.wbaseLost.Add(st.RecordsLost)
	}
	d.w = w
	d.wcur.Store(w)
	return nil
}

func (d *Daemon) upgradeRecord() string {
	rs := d.rd.Stats()
	return fmt.Sprintf("op=upgrade records_read=%d lost_total=%d auid=%d pid=%d res=success",
		rs.Records, d.currentLosses().Total(), loginUID(), os.Getpid())
}

func (d *Daemon) upgradeFailedRecord(cause error) string {
	return fmt.Sprintf("op=upgrade reason=%s auid=%d pid=%d res=failed",
		strconv.Quote(cause.Error()), loginUID(), os.Getpid())
}

// storeSocket hands the data socket to systemd's fd store, when systemd
// listens (NOTIFY_SOCKET): after a crash or restart the next process adopts
// it and finds the records that arrived meanwhile waiting in it.
func (d *Daemon) storeSocket() {
	if d.rd.Mode() != reader.ModeUnicast {
		return
	}
	ok, err := service.NewNotifier().StoreFD(d.rd.Fd(), service.FDNameAudit)
	switch {
	case err != nil:
		d.logf("handing the audit socket to systemd's fd store: %v (a restart will open a new one)", err)
	case ok:
		d.fdStored.Store(true)
		d.logf("audit socket handed to systemd's fd store (FDNAME=%s): a restart adopts it", service.FDNameAudit)
		if d.state != nil {
			if _, err := service.NewNotifier().StoreFD(d.state.fd, service.FDNameState); err != nil {
				d.logf("handing the state page to systemd's fd store: %v", err)
			}
		}
	}
}

// keepRegistration reports whether shutdown leaves the kernel's
// registration with the socket instead of unregistering: when systemd's fd
// store holds the socket (a restart adopts it with the records that arrive
// meanwhile; a stop makes systemd close it, which releases the
// registration), or when the registration is another, dead, process's
// (adopted after a restart): the kernel lets only that process undo it, and
// releases it when the socket's last descriptor closes.
func (d *Daemon) keepRegistration() bool {
	if d.fdStored.Load() {
		d.logf("leaving the audit socket registered in systemd's fd store: a restart adopts it, a stop closes it (the kernel then releases the registration)")
		return true
	}
	if d.rd.Adopted() {
		if st, err := d.ctl.Status(); err == nil && st.PID != uint32(os.Getpid()) {
			d.logf("the registration is pid %d's: it is released when the audit socket closes", st.PID)
			return true
		}
	}
	return false
}
