package auditctl

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// StatusSocket reads the kernel's audit status (AUDIT_GET) on its own
// blocking NETLINK_AUDIT socket, outside the Go netpoller and without read
// deadlines: a poll costs two system calls on the calling thread and arms
// no runtime timer, so a daemon that polls once a second wakes nothing but
// the polling thread. Conn's Status, built on mdlayher/netlink, parks on the
// netpoller and re-arms a deadline timer per request, which wakes the
// runtime's other threads several times per poll.
//
// The kernel answers AUDIT_GET while handling the request, and then makes
// the sender sleep while its backlog is over the limit (see the package
// documentation): poll from a thread of its own, never the data path.
//
// Concurrency: one goroutine at a time. Close is idempotent.
type StatusSocket struct {
	fd     int
	seq    uint32
	req    [unix.NLMSG_HDRLEN]byte
	buf    [512]byte // a status reply is 16 + 44 bytes; an error reply 36
	closed bool
}

// OpenStatusSocket opens and binds the socket. A reply that does not
// arrive within ReplyTimeout makes Status fail rather than hang.
func OpenStatusSocket() (*StatusSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, dialError(os.NewSyscallError("socket", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, dialError(os.NewSyscallError("bind", err))
	}
	// Replies come from the kernel (nl_pid 0): connect so that plain
	// send and recv need no address.
	if err := unix.Connect(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, dialError(os.NewSyscallError("connect", err))
	}
	tv := unix.NsecToTimeval(ReplyTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, dialError(os.NewSyscallError("setsockopt SO_RCVTIMEO", err))
	}
	s := &StatusSocket{fd: fd}
	binary.NativeEndian.PutUint32(s.req[0:], unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint16(s.req[4:], unix.AUDIT_GET)
	binary.NativeEndian.PutUint16(s.req[6:], unix.NLM_F_REQUEST)
	return s, nil
}

// Status returns the kernel's audit status. It allocates nothing.
func (s *StatusSocket) Status() (libaudit.AuditStatus, error) {
	if s.closed {
		return libaudit.AuditStatus{}, fmt.Errorf("auditctl: getting audit status: %w", os.ErrClosed)
	}
	s.seq++
	binary.NativeEndian.PutUint32(s.req[8:], s.seq)
	if err := s.sys(unix.SYS_SENDTO, unsafe.Pointer(&s.req[0]), len(s.req), "send"); err != nil {
		return libaudit.AuditStatus{}, err
	}
	for {
		n, err := s.recv()
		if err != nil {
			return libaudit.AuditStatus{}, err
		}
		// One datagram may carry several messages; only the reply to
		// this request counts (a reply to an earlier, timed-out request
		// may still be queued).
		for b := s.buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			body := b[unix.NLMSG_HDRLEN:l]
			b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
			if seq != s.seq {
				continue
			}
			switch typ {
			case unix.AUDIT_GET:
				st, err := unmarshalStatus(body)
				if err != nil {
					return st, fmt.Errorf("auditctl: getting audit status: %w", err)
				}
				return st, nil
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(body)); e < 0 {
						return libaudit.AuditStatus{}, fmt.Errorf("auditctl: getting audit status: %w", os.NewSyscallError("AUDIT_GET", syscall.Errno(-e)))
					}
				}
			}
		}
	}
}

// recv reads one datagram into s.buf, retrying on EINTR.
func (s *StatusSocket) recv() (int, error) {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)), 0, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, fmt.Errorf("auditctl: getting audit status: no reply within %v: %w", ReplyTimeout, os.ErrDeadlineExceeded)
		}
		return 0, fmt.Errorf("auditctl: getting audit status: %w", os.NewSyscallError("recv", e))
	}
}

// sys runs a send-like system call on the socket, retrying on EINTR.
func (s *StatusSocket) sys(trap uintptr, p unsafe.Pointer, n int, op string) error {
	for {
		_, _, e := unix.Syscall6(trap, uintptr(s.fd), uintptr(p), uintptr(n), 0, 0, 0)
		if e == 0 {
			return nil
		}
		if e != unix.EINTR {
			return fmt.Errorf("auditctl: getting audit status: %w", os.NewSyscallError(op, e))
		}
	}
}

// Close closes the socket.
func (s *StatusSocket) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("auditctl: closing status socket: %w", os.NewSyscallError("close", err))
	}
	return nil
}
