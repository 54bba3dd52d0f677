package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/record"
)

// The floor reader is the least a reader can do with the registered audit
// socket: one OS thread blocking in recvmmsg(64 messages, MSG_WAITFORONE)
// and throwing the records away. Its CPU per record is the physical floor
// of this machine, the figure auditdrain's own cost is held against.
//
// It runs as `auditdrain bench floor-reader --count-file F`: it registers
// as the audit daemon, and publishes the records it read as a uint64 in F,
// which it maps shared, so the bench reads the count without a system call
// on the floor's side. SIGTERM makes it unregister and exit.

const (
	floorCommand = "floor-reader"
	floorBatch   = 64
	floorBufSize = 16 << 10
	// floorRcvBuf is auditdrain's default socket receive buffer, so the
	// floor and the daemon lose records under the same conditions.
	floorRcvBuf = 32 << 20
)

// floorMain runs the floor reader until SIGTERM.
func floorMain(ctx context.Context, args []string) error {
	if len(args) != 2 || args[0] != "--count-file" {
		return fmt.Errorf("%w: usage: bench %s --count-file FILE", ErrOptions, floorCommand)
	}
	count, err := mapCounter(args[1])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return fmt.Errorf("bench: floor: audit socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, floorRcvBuf); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, floorRcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bench: floor: bind: %w", err)
	}
	if err := floorSetPID(fd, uint32(os.Getpid())); err != nil {
		return fmt.Errorf("bench: floor: registering as the audit daemon: %w", err)
	}

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread blocks in recvmmsg and never comes back to Go's scheduler idle
		done <- floorLoop(fd, count)
	}()
	select {
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	// Unregister from a second socket: the kernel takes AUDIT_SET pid=0
	// from any socket of a process with CAP_AUDIT_CONTROL.
	ctl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err == nil {
		err = floorSetPID(ctl, 0)
		unix.Close(ctl)
	}
	return err
}

// floorLoop reads and discards records until the socket fails.
func floorLoop(fd int, count *atomic.Uint64) error {
	bufs := make([][]byte, floorBatch)
	iov := make([]unix.Iovec, floorBatch)
	msgs := make([]mmsghdr, floorBatch)
	for i := range bufs {
		bufs[i] = make([]byte, floorBufSize)
		iov[i].Base = &bufs[i][0]
		iov[i].SetLen(floorBufSize)
		msgs[i].hdr.Iov = &iov[i]
		msgs[i].hdr.SetIovlen(1)
	}
	var n uint64
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), floorBatch, unix.MSG_WAITFORONE, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR, unix.ENOBUFS:
			continue // ENOBUFS: the socket overran; the kernel counts it, keep reading
		default:
			return fmt.Errorf("bench: floor: recvmmsg: %w", errno)
		}
		for i := range int(r) {
			if msgs[i].len >= unix.NLMSG_HDRLEN {
				if t := binary.NativeEndian.Uint16(bufs[i][4:6]); t >= unix.NLMSG_MIN_TYPE && t != record.TypeReplace {
					n++ // a record (not an ack, an error or AUDIT_REPLACE)
				}
			}
		}
		count.Store(n)
	}
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// floorSetPID sends AUDIT_SET pid and waits for the kernel's ack.
func floorSetPID(fd int, pid uint32) error {
	st, err := binary.Append(nil, binary.NativeEndian, libaudit.AuditStatus{Mask: libaudit.AuditStatusPID, PID: pid})
	if err != nil {
		return err
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+len(st))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], record.TypeSet)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	copy(msg[unix.NLMSG_HDRLEN:], st)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		if n >= unix.NLMSG_HDRLEN+4 && binary.NativeEndian.Uint16(buf[4:6]) == unix.NLMSG_ERROR {
			if e := int32(binary.NativeEndian.Uint32(buf[unix.NLMSG_HDRLEN:])); e != 0 {
				return unix.Errno(-e)
			}
			return nil
		}
		// A record that arrived before the ack: not counted, the load has
		// not started yet.
	}
}

// mapCounter creates path as an 8-byte file and maps it shared.
func mapCounter(path string) (*atomic.Uint64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bench: floor: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(8); err != nil {
		return nil, fmt.Errorf("bench: floor: %w", err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("bench: floor: mmap %s: %w", path, err)
	}
	return (*atomic.Uint64)(unsafe.Pointer(&b[0])), nil
}

// readCounter reads the floor reader's count file.
func readCounter(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errors.New("bench: floor count file " + strconv.Quote(path) + " is not 8 bytes")
	}
	return int64(binary.NativeEndian.Uint64(b)), nil
}

// floorCountFile is where a floor reader started in dir publishes its count.
func floorCountFile(dir string) string { return filepath.Join(dir, "floor.count") }
