package service

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FDNameAudit is the name (FDNAME=) under which the daemon keeps its audit
// socket in systemd's file descriptor store, and by which it finds it in
// LISTEN_FDNAMES after a restart.
const FDNameAudit = "audit"

// FDNameState is the name of the daemon's state page (a memfd holding the
// kernel's counters as last polled) in systemd's file descriptor store.
const FDNameState = "state"

// FDNameRing is the name of the daemon's ring (a memfd holding the records
// read and not yet written) in systemd's file descriptor store.
const FDNameRing = "ring"

// listenFDsStart is SD_LISTEN_FDS_START: passed descriptors begin at 3.
const listenFDsStart = 3

// ListenFD is a descriptor the service manager passed to this process.
type ListenFD struct {
	FD   int
	Name string // its LISTEN_FDNAMES entry ("" when none is given)
}

// ListenFDs returns the descriptors systemd passed to this process
// (sd_listen_fds_with_names(3)): LISTEN_FDS of them starting at fd 3, named
// by LISTEN_FDNAMES, when LISTEN_PID is this process. They are made
// close-on-exec. With unset, the three variables are removed from the
// environment, so that a program started later does not take the
// descriptors for its own. Malformed variables count as none.
func ListenFDs(unset bool) []ListenFD {
	pid, n, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	if unset {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil
	}
	count, err := strconv.Atoi(n)
	if err != nil || count <= 0 {
		return nil
	}
	var nameList []string
	if names != "" {
		nameList = strings.Split(names, ":")
	}
	fds := make([]ListenFD, count)
	for i := range fds {
		fds[i].FD = listenFDsStart + i
		if i < len(nameList) {
			fds[i].Name = nameList[i]
		}
		unix.CloseOnExec(fds[i].FD)
	}
	return fds
}

// StoreFD hands fd to the service manager's file descriptor store under
// name ("FDSTORE=1", "FDNAME=name", the descriptor as SCM_RIGHTS): after a
// crash or a restart, systemd passes it back to the next process of the
// service in LISTEN_FDS. The unit must allow it (FileDescriptorStoreMax=).
// It returns false, nil without NOTIFY_SOCKET. systemd keeps its own
// duplicate: fd stays this process's.
//
// It also sends FDPOLL=0 (systemd 246 and later; older ones ignore it). By
// default systemd polls what it stores and closes a descriptor on EPOLLERR
// or EPOLLHUP. A netlink socket whose receive buffer overflows reports
// EPOLLERR (ENOBUFS) until it is read, and that is just what happens to the
// audit socket while no process reads it, during a restart under load:
// seen on systemd 252, the store dropped the socket and the next restart
// had to register anew, losing what the socket held (28,630 events at
// 20,000 events/s). The daemon removes what it stored by name
// (RemoveFD) when it must.
func (n *Notifier) StoreFD(fd int, name string) (bool, error) {
	return n.sendFD("FDSTORE=1\nFDNAME="+name+"\nFDPOLL=0", fd)
}

// RemoveFD asks the service manager to close the descriptors stored under
// name ("FDSTOREREMOVE=1", "FDNAME=name"). It returns false, nil without
// NOTIFY_SOCKET.
func (n *Notifier) RemoveFD(name string) (bool, error) {
	return n.sendFD("FDSTOREREMOVE=1\nFDNAME="+name, -1)
}

// sendFD sends state to NOTIFY_SOCKET with fd attached (fd < 0: none).
func (n *Notifier) sendFD(state string, fd int) (bool, error) {
	sock, ok := lookupNotifySocket()
	if !ok {
		return false, nil
	}
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("service: sd_notify %q to %s: %w", strings.ReplaceAll(state, "\n", `\n`), sock, err)
	}
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(os.NewSyscallError("socket", err))
	}
	defer unix.Close(c)
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	// An abstract socket's name starts with '@', which unix.SockaddrUnix
	// understands.
	if err := unix.Sendmsg(c, []byte(state), oob, &unix.SockaddrUnix{Name: sock}, 0); err != nil {
		return fail(os.NewSyscallError("sendmsg", err))
	}
	return true, nil
}
