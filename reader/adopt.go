package reader

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNotAuditSocket is wrapped by Adopt's error when the descriptor it was
// given is not a NETLINK_AUDIT socket.
var ErrNotAuditSocket = errors.New("reader: not an audit netlink socket")

// Adopt makes a Reader of an audit data socket this process inherited: from
// the process it replaced with exec(2) (an upgrade in place), or from
// systemd's file descriptor store (a restart). A registered audit socket
// outlives the daemon that registered it as long as some process holds it,
// and while it lives no other socket can register (the kernel answers
// EEXIST): the new process must take it over, not replace it. The records
// that arrived while no one read are waiting in it.
//
// fd must be an AF_NETLINK socket of protocol NETLINK_AUDIT; anything else
// is refused with an error naming fd and wrapping ErrNotAuditSocket. Its
// mode is read from the socket (bound to the multicast group or not) and
// must be cfg.Mode. Adopt does not register: a unicast socket is assumed to
// be the registered one (see Register for one whose registration was
// released). The socket is made blocking and close-on-exec, and its receive
// buffer is set to cfg.RcvBuf. From then on the Reader owns fd; on error fd
// is left open, for the caller to close.
func Adopt(fd int, cfg Config) (*Reader, error) {
	cfg.setDefaults()
	if fd < 0 {
		return nil, fmt.Errorf("reader: adopting fd %d: %w", fd, ErrNotAuditSocket)
	}
	get := func(opt int, name string) (int, error) {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		if err != nil {
			if errors.Is(err, unix.ENOTSOCK) || errors.Is(err, unix.EBADF) {
				return 0, fmt.Errorf("reader: adopting fd %d: %w: %w", fd, ErrNotAuditSocket, os.NewSyscallError("getsockopt "+name, err))
			}
			return 0, fmt.Errorf("reader: adopting fd %d: %w", fd, os.NewSyscallError("getsockopt "+name, err))
		}
		return v, nil
	}
	dom, err := get(unix.SO_DOMAIN, "SO_DOMAIN")
	if err != nil {
		return nil, err
	}
	proto, err := get(unix.SO_PROTOCOL, "SO_PROTOCOL")
	if err != nil {
		return nil, err
	}
	if dom != unix.AF_NETLINK || proto != unix.NETLINK_AUDIT {
		return nil, fmt.Errorf("reader: adopting fd %d: domain %d protocol %d, want AF_NETLINK (%d) NETLINK_AUDIT (%d): %w",
			fd, dom, proto, unix.AF_NETLINK, unix.NETLINK_AUDIT, ErrNotAuditSocket)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("reader: adopting fd %d: %w", fd, os.NewSyscallError("getsockname", err))
	}
	mode := ModeUnicast
	if nl, ok := sa.(*unix.SockaddrNetlink); ok && nl.Groups&1 != 0 {
		mode = ModeMulticast
	}
	if mode != cfg.Mode {
		return nil, fmt.Errorf("reader: adopting fd %d: the socket is a %s audit socket, the config asks for %s", fd, mode, cfg.Mode)
	}
	// Blocking and close-on-exec, as Open makes its own socket.
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil && fl&unix.O_NONBLOCK != 0 {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		return nil, fmt.Errorf("reader: adopting fd %d: %w", fd, os.NewSyscallError("fcntl", err))
	}
	unix.CloseOnExec(fd)
	r := &Reader{cfg: cfg, fd: fd, adopted: true, registered: mode == ModeUnicast}
	if err := r.init(); err != nil {
		return nil, err
	}
	return r, nil
}

// Register registers this process as the audit daemon from the reader's
// socket (AUDIT_SET pid=getpid()), as Open does in unicast mode: for an
// adopted socket whose registration was released meanwhile (the kernel's
// status shows pid 0). It fails with an error wrapping ErrAlreadyRegistered
// when another socket holds the registration. Call it before ReadBatch,
// from the goroutine that will read.
func (r *Reader) Register() error {
	if r.cfg.Mode != ModeUnicast {
		return fmt.Errorf("reader: registering a %s socket", r.cfg.Mode)
	}
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.fdGone.Load() {
		return fmt.Errorf("reader: registering: %w", os.ErrClosed)
	}
	return r.register()
}

// Adopted reports whether the reader took over an inherited socket (Adopt)
// rather than opening its own (Open).
func (r *Reader) Adopted() bool { return r.adopted }

// Fd returns the socket's file descriptor, to hand it to another process:
// systemd's file descriptor store (SCM_RIGHTS), or the program exec(2)
// replaces this one with (see Inheritable). It stays valid until Close.
func (r *Reader) Fd() int { return r.fd }

// Inheritable(true) clears the socket's close-on-exec flag, so that the
// socket survives exec(2); Inheritable(false) sets it again. Set it only just
// before exec, and clear it again if exec fails, so that no other program
// this process starts (plugins, exec actions) inherits the socket: a
// process holding it keeps the registration alive.
func (r *Reader) Inheritable(on bool) error {
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.fdGone.Load() {
		return fmt.Errorf("reader: %w", os.ErrClosed)
	}
	flag := unix.FD_CLOEXEC
	if on {
		flag = 0
	}
	if _, err := unix.FcntlInt(uintptr(r.fd), unix.F_SETFD, flag); err != nil {
		return fmt.Errorf("reader: %w", os.NewSyscallError("fcntl F_SETFD", err))
	}
	return nil
}

// Memory is the socket's receive memory: what is queued in it now and the
// most it may hold, in bytes, as the kernel accounts them (each record
// costs its buffer's true size, about 1 KiB for a short record, not its
// payload). The kernel doubles the receive buffer that was set.
type Memory struct {
	Queued int // bytes of records waiting in the socket (sk_rmem_alloc)
	Limit  int // the receive buffer (sk_rcvbuf)
}

// Memory returns the socket's receive memory (SO_MEMINFO). Safe from any
// goroutine.
func (r *Reader) Memory() (Memory, error) {
	var mi [unix.SK_MEMINFO_VARS]uint32
	l := uint32(unsafe.Sizeof(mi))
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.fdGone.Load() {
		return Memory{}, fmt.Errorf("reader: %w", os.ErrClosed)
	}
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(r.fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return Memory{}, fmt.Errorf("reader: %w", os.NewSyscallError("getsockopt SO_MEMINFO", e))
	}
	return Memory{Queued: int(mi[unix.SK_MEMINFO_RMEM_ALLOC]), Limit: int(mi[unix.SK_MEMINFO_RCVBUF])}, nil
}
