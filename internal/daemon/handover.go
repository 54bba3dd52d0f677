package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/service"
	"github.com/auditdrain/auditdrain/reader"
	"golang.org/x/sys/unix"
)

// Environment variables an upgrade (Upgrade: exec of the binary on disk)
// passes to the program that replaces the daemon.
const (
	// EnvAuditFD names the inherited audit socket's descriptor.
	EnvAuditFD = "AUDITDRAIN_AUDIT_FD"
	// EnvKernelCounters carries the kernel's lost and
	// backlog_wait_time_actual counters as the old program last read them
	// ("LOST,WAIT"), so that what changed during the exec is counted by
	// the new one.
	EnvKernelCounters = "AUDITDRAIN_KERNEL_COUNTERS"
	// EnvStateFD names the inherited state page (stateFile).
	EnvStateFD = "AUDITDRAIN_STATE_FD"
)

// Where the data socket came from (Status.AuditSocket).
const (
	socketOpened  = "opened"
	socketExec    = "inherited across exec (upgrade)"
	socketFDStore = "adopted from systemd's fd store (restart)"
)

// inherited is an audit socket handed to this process at start.
type inherited struct {
	fd     int
	source string
	// counters: the kernel's lost and wait counters the previous program
	// last read (exec only).
	lost, wait uint32
	counters   bool
	// stateFD is the inherited state page (-1: none).
	stateFD int
	// ringFD is the inherited ring (-1: none; see inflight.go).
	ringFD int
}

// inheritedSocket finds an audit socket handed to this process: by the
// program it replaced (EnvAuditFD), or by systemd from its file descriptor
// store (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, the one named
// service.FDNameAudit). It removes those variables from the environment, so
// that no program started later (a plugin) takes them for its own. ok is
// false when there is none.
func inheritedSocket() (in inherited, ok bool, err error) {
	in.stateFD, in.ringFD = -1, -1
	v, isSet := os.LookupEnv(EnvAuditFD)
	counters := os.Getenv(EnvKernelCounters)
	stateFD, stateSet := os.LookupEnv(EnvStateFD)
	ringFD, ringSet := os.LookupEnv(EnvRingFD)
	os.Unsetenv(EnvAuditFD)
	os.Unsetenv(EnvKernelCounters)
	os.Unsetenv(EnvStateFD)
	os.Unsetenv(EnvRingFD)
	if isSet {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 0 {
			return in, false, fmt.Errorf("daemon: %s=%q is not a file descriptor", EnvAuditFD, v)
		}
		in = inherited{fd: fd, source: socketExec, stateFD: -1, ringFD: -1}
		if n, err := strconv.Atoi(stateFD); stateSet && err == nil && n >= 0 {
			in.stateFD = n
		}
		if n, err := strconv.Atoi(ringFD); ringSet && err == nil && n >= 0 {
			in.ringFD = n
		}
		if l, w, found := strings.Cut(counters, ","); found {
			lost, err1 := strconv.ParseUint(l, 10, 32)
			wait, err2 := strconv.ParseUint(w, 10, 32)
			if err1 == nil && err2 == nil {
				in.lost, in.wait, in.counters = uint32(lost), uint32(wait), true
			}
		}
		return in, true, nil
	}
	fds := service.ListenFDs(true)
	fd := -1
	for _, f := range fds {
		if f.Name == service.FDNameAudit && fd < 0 {
			fd = f.FD
			continue
		}
		if f.Name == service.FDNameState && in.stateFD < 0 {
			in.stateFD = f.FD
			continue
		}
		if f.Name == service.FDNameRing && in.ringFD < 0 {
			in.ringFD = f.FD
			continue
		}
		// Not ours to keep: a descriptor this version does not know.
		unix.Close(f.FD)
	}
	if fd < 0 {
		return in, false, nil
	}
	in.fd, in.source = fd, socketFDStore
	return in, true, nil
}

// openState maps the inherited state page, or makes a new one. With the
// page of a daemon that stopped or crashed (from systemd's fd store), the
// kernel's counters it last polled become in's, unless an upgrade handed
// them over already. The daemon runs without a page if none can be made.
func (d *Daemon) openState(in *inherited) {
	var err error
	if in.stateFD >= 0 {
		if d.state, err = mapState(in.stateFD); err != nil {
			d.logf("%v: making a new one", err)
			unix.Close(in.stateFD)
		}
	}
	if d.state == nil {
		if d.state, err = newStateFile(); err != nil {
			d.logf("no state page: %v (a restart will not count what the kernel lost meanwhile)", err)
			return
		}
	}
	if lost, wait, ok := d.state.counters(); ok && !in.counters {
		in.lost, in.wait, in.counters = lost, wait, true
		d.logf("kernel counters from the previous daemon's state: lost %d, backlog_wait_time_actual %d", lost, wait)
	}
}

// openReader opens the data socket, or adopts the one handed to this
// process (see inheritedSocket). An adopted unicast socket keeps the
// registration it has; when the kernel shows none (it was released
// meanwhile), the daemon registers from it.
func (d *Daemon) openReader(mode reader.Mode, in *inherited) (*reader.Reader, error) {
	rc := d.readerConfig(mode)
	if in == nil {
		d.socketSource = socketOpened
		return reader.Open(rc)
	}
	rd, err := reader.Adopt(in.fd, rc)
	if err != nil {
		unix.Close(in.fd) // a descriptor we cannot use must not hold a registration
		if in.source != socketFDStore {
			return nil, fmt.Errorf("daemon: the audit socket %s: %w", in.source, err)
		}
		// A socket of another mode (the config changed): systemd must let
		// it go too, or it keeps the registration while no one reads it.
		d.logf("not using the audit socket from systemd's fd store: %v; removing it from the store", err)
		if _, err := service.NewNotifier().RemoveFD(service.FDNameAudit); err != nil {
			d.logf("%v", err)
		}
		d.socketSource = socketOpened
		return openReleased(rc)
	}
	d.socketSource = in.source
	if mode == reader.ModeUnicast && !d.deferStatus {
		// The status read at start, not a new request: every request on
		// the audit control socket waits while the kernel's queue is over
		// backlog_limit (audit_receive "penalizes the sender"), which it
		// is after a restart under load, until the socket is read again.
		// (With deferStatus, adoptedKernel checks once reading resumed.)
		st := d.status0
		if st.PID == 0 {
			d.logf("the inherited audit socket is no longer registered: registering pid %d from it", os.Getpid())
			if err := rd.Register(); err != nil {
				rd.Close()
				return nil, err
			}
		} else {
			d.logf("adopted the audit socket (fd %d) %s, registered by pid %d", in.fd, in.source, st.PID)
		}
	}
	return rd, nil
}

// openReleased is reader.Open right after the socket holding the
// registration was given up: the kernel notices it is gone only when it
// next probes it, and systemd closes its copy in its own time, so a
// registration refused with EEXIST is tried again for a few seconds.
func openReleased(rc reader.Config) (*reader.Reader, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		rd, err := reader.Open(rc)
		if err == nil || !errors.Is(err, reader.ErrAlreadyRegistered) || time.Now().After(deadline) {
			return rd, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
