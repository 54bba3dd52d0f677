package reader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Mode selects how the kernel delivers records to the reader.
type Mode int

const (
	// ModeUnicast registers the process as the audit daemon (AUDIT_SET pid):
	// the kernel's kauditd thread delivers every record to this socket and
	// waits (briefly) when it is full. Only one process may hold it.
	ModeUnicast Mode = iota
	// ModeMulticast joins AUDIT_NLGRP_READLOG beside a registered daemon.
	// Delivery is best effort: on a full socket the kernel drops the record
	// and reports ENOBUFS (counted in Stats.Overruns), never in its lost
	// counter.
	ModeMulticast
)

func (m Mode) String() string {
	switch m {
	case ModeUnicast:
		return "unicast"
	case ModeMulticast:
		return "multicast"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors returned by Open and ReadBatch.
var (
	// ErrAlreadyRegistered: another live process is the registered audit
	// daemon (the kernel answered EEXIST). The caller should name it (its
	// pid is in the kernel's status) rather than retry.
	ErrAlreadyRegistered = errors.New("reader: another process is registered as the audit daemon")
)

// Config configures Open. The zero value is usable: unicast, 64 datagrams
// of up to 32 KiB per system call, an 8 MiB socket receive buffer.
type Config struct {
	// Mode is unicast (register as the audit daemon) or multicast.
	Mode Mode
	// Batch is the number of datagrams read per recvmmsg call (default 64).
	Batch int
	// BufSize is the size of each datagram buffer (default and minimum
	// 16 KiB; default 32 KiB). A longer record is delivered cut short and
	// counted in Stats.Truncated.
	BufSize int
	// RcvBuf is the socket receive buffer in bytes, set with SO_RCVBUFFORCE
	// (default 8 MiB). It is the burst the socket absorbs while the rest of
	// the pipeline is busy.
	RcvBuf int
	// RegisterTimeout bounds the wait for the kernel's answer to AUDIT_SET
	// (default 5 s: the kernel makes the sender sleep while its backlog is
	// over the limit).
	RegisterTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.BufSize <= 0 {
		c.BufSize = 32 << 10
	}
	if c.BufSize < 16<<10 {
		c.BufSize = 16 << 10
	}
	if c.RcvBuf <= 0 {
		c.RcvBuf = 8 << 20
	}
	if c.RegisterTimeout <= 0 {
		c.RegisterTimeout = 5 * time.Second
	}
}

// Stats are the reader's counters, cumulative since Open.
type Stats struct {
	Records   uint64 // records delivered to the callback
	Bytes     uint64 // payload bytes delivered
	Syscalls  uint64 // recvmmsg calls that returned data
	Truncated uint64 // datagrams longer than the buffer (delivered cut short)
	Overruns  uint64 // ENOBUFS: the socket overflowed and the kernel dropped records
	Acks      uint64 // netlink acks skipped
	Errors    uint64 // netlink error replies skipped (after registration)
	Replaces  uint64 // AUDIT_REPLACE messages: someone tried to take over
	Invalid   uint64 // datagrams too short to parse
	HighBatch uint64 // most datagrams returned by one recvmmsg
}

// Reader reads audit records from the kernel. See the package doc for the
// concurrency contract.
type Reader struct {
	cfg  Config
	conn *netlink.Conn
	rc   syscall.RawConn

	// recvmmsg state, allocated once.
	slab []byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
	// results of the last recvmmsg, written by recvFn.
	n     int
	errno syscall.Errno
	// recvFn is r.recv stored once so passing it to RawConn.Read does not
	// allocate a method value per call.
	recvFn func(fd uintptr) bool
	// pending holds copies of records that arrived before the ack to our
	// registration; delivered by the first ReadBatch. Startup only.
	pending []pendingRecord

	registered bool

	// counters published once per batch.
	records, bytes, syscalls, truncated, overruns atomic.Uint64
	acks, errs, replaces, invalid, highBatch      atomic.Uint64

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

type pendingRecord struct {
	typ     uint16
	payload []byte
}

// Open opens the data socket and, in unicast mode, registers this process as
// the audit daemon from that socket (the kernel unicasts to the socket that
// sent AUDIT_SET). Registration fails with an error wrapping
// ErrAlreadyRegistered when another live daemon holds the registration.
func Open(cfg Config) (*Reader, error) {
	cfg.setDefaults()
	nc := &netlink.Config{}
	if cfg.Mode == ModeMulticast {
		nc.Groups = 1 // AUDIT_NLGRP_READLOG, as a bitmask
	}
	conn, err := netlink.Dial(unix.NETLINK_AUDIT, nc)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			need := "CAP_AUDIT_CONTROL"
			if cfg.Mode == ModeMulticast {
				need = "CAP_AUDIT_READ"
			}
			return nil, fmt.Errorf("reader: opening %s audit socket: requires root or %s: %w", cfg.Mode, need, err)
		}
		return nil, fmt.Errorf("reader: opening %s audit socket: %w", cfg.Mode, err)
	}
	r := &Reader{cfg: cfg, conn: conn}
	if err := r.init(); err != nil {
		conn.Close()
		return nil, err
	}
	if cfg.Mode == ModeUnicast {
		if err := r.register(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) init() error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	r.rc = rc
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, r.cfg.RcvBuf)
	}); err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("reader: setting receive buffer to %d bytes: %w", r.cfg.RcvBuf, os.NewSyscallError("setsockopt SO_RCVBUFFORCE", serr))
	}
	b, bs := r.cfg.Batch, r.cfg.BufSize
	r.slab = make([]byte, b*bs)
	r.iovs = make([]unix.Iovec, b)
	r.hdrs = make([]unix.Mmsghdr, b)
	for i := range b {
		r.iovs[i].Base = &r.slab[i*bs]
		r.iovs[i].SetLen(bs)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	r.recvFn = r.recv
	return nil
}

// recv performs one non-blocking recvmmsg. It returns false on EAGAIN so
// RawConn.Read parks the goroutine on the netpoller until readable.
func (r *Reader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Len = 0
	}
	var (
		n uintptr
		e syscall.Errno
	)
	for {
		n, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e != unix.EINTR {
			break
		}
	}
	if e == unix.EAGAIN {
		return false
	}
	r.n, r.errno = int(n), e
	if e != 0 {
		r.n = 0
	}
	return true
}

// register sends AUDIT_SET pid=getpid() from the data socket and waits for
// the kernel's answer, keeping any record that arrives before it.
func (r *Reader) register() error {
	st, err := binary.Append(nil, binary.NativeEndian, libaudit.AuditStatus{Mask: libaudit.AuditStatusPID, PID: uint32(os.Getpid())})
	if err != nil {
		return fmt.Errorf("reader: encoding AUDIT_SET: %w", err)
	}
	msg, err := r.conn.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(record.TypeSet), Flags: netlink.Request | netlink.Acknowledge},
		Data:   st,
	})
	if err != nil {
		return fmt.Errorf("reader: sending AUDIT_SET pid=%d: %w", os.Getpid(), err)
	}
	deadline := time.Now().Add(r.cfg.RegisterTimeout)
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	defer r.conn.SetReadDeadline(time.Time{})
	for {
		if err := r.rc.Read(r.recvFn); err != nil {
			return fmt.Errorf("reader: waiting for the kernel's answer to AUDIT_SET pid=%d: %w", os.Getpid(), err)
		}
		if r.errno != 0 {
			return fmt.Errorf("reader: waiting for the kernel's answer to AUDIT_SET: %w", os.NewSyscallError("recvmmsg", r.errno))
		}
		for i := 0; i < r.n; i++ {
			k, d := parse(r.datagram(i))
			switch {
			case k == kindRecord:
				r.pending = append(r.pending, pendingRecord{d.Type, append([]byte(nil), d.Payload...)})
			case (k == kindAck || k == kindError) && d.Seq == msg.Header.Sequence:
				if k == kindError {
					if syscall.Errno(d.Errno) == unix.EEXIST {
						return fmt.Errorf("%w (kernel: %v)", ErrAlreadyRegistered, syscall.Errno(d.Errno))
					}
					return fmt.Errorf("reader: registering pid %d as the audit daemon: %w", os.Getpid(), os.NewSyscallError("AUDIT_SET", syscall.Errno(d.Errno)))
				}
				r.registered = true
				return nil
			}
		}
	}
}

// datagram returns the bytes of the i-th datagram of the last read.
func (r *Reader) datagram(i int) []byte {
	n := int(r.hdrs[i].Len)
	bs := r.cfg.BufSize
	if n > bs {
		n = bs
	}
	return r.slab[i*bs : i*bs+n]
}

// ReadBatch waits until the socket is readable, reads up to Config.Batch
// datagrams with one recvmmsg and calls fn for each audit record, in
// arrival order. payload aliases the reader's buffer: it is valid only until
// fn returns. If fn returns an error, ReadBatch stops and returns it; the
// records after it in the same batch are not delivered (Stats counts only
// the delivered ones), so fn should only fail when the pipeline is shutting
// down for good.
//
// It returns the number of records delivered. An overrun (ENOBUFS) is
// counted and reported as (0, nil): the socket stays usable. A deadline
// (SetDeadline) or Close ends the wait with an error.
func (r *Reader) ReadBatch(fn func(typ uint16, payload []byte) error) (int, error) {
	if len(r.pending) > 0 {
		return r.deliverPending(fn)
	}
	if err := r.rc.Read(r.recvFn); err != nil {
		if r.closed.Load() {
			return 0, fmt.Errorf("reader: %w", os.ErrClosed)
		}
		return 0, fmt.Errorf("reader: %w", err)
	}
	return r.deliver(fn)
}

// drainBatches bounds Drain: in multicast mode the kernel never stops
// sending, so "until the socket is empty" may never come.
const drainBatches = 1024

// Drain reads, without waiting, everything already queued on the socket
// (at most drainBatches system calls' worth) and delivers it to fn. Call it
// after unregistering, before Close: records left in the socket when it
// closes vanish without being counted anywhere.
func (r *Reader) Drain(fn func(typ uint16, payload []byte) error) (int, error) {
	total := 0
	if len(r.pending) > 0 {
		n, err := r.deliverPending(fn)
		total += n
		if err != nil {
			return total, err
		}
	}
	var ctlErr error
	for range drainBatches {
		more := false
		if ctlErr = r.rc.Control(func(fd uintptr) { more = r.recv(fd) }); ctlErr != nil {
			break
		}
		if !more {
			return total, nil
		}
		n, err := r.deliver(fn)
		total += n
		if err != nil {
			return total, err
		}
	}
	if ctlErr != nil {
		return total, fmt.Errorf("reader: draining: %w", ctlErr)
	}
	return total, nil
}

func (r *Reader) deliverPending(fn func(uint16, []byte) error) (int, error) {
	n := 0
	for len(r.pending) > 0 {
		p := r.pending[0]
		if err := fn(p.typ, p.payload); err != nil {
			return n, err
		}
		r.pending = r.pending[1:]
		n++
		r.records.Add(1)
		r.bytes.Add(uint64(len(p.payload)))
	}
	r.pending = nil
	return n, nil
}

// deliver hands the datagrams of the last recvmmsg to fn and publishes the
// counters once for the whole batch.
func (r *Reader) deliver(fn func(uint16, []byte) error) (int, error) {
	if r.errno != 0 {
		e := r.errno
		r.errno = 0
		if e == unix.ENOBUFS {
			r.overruns.Add(1)
			return 0, nil
		}
		return 0, fmt.Errorf("reader: %w", os.NewSyscallError("recvmmsg", e))
	}
	var (
		recs, bytes, trunc, acks, errs, repl, inv uint64
		err                                       error
	)
	n := r.n
	for i := 0; i < n; i++ {
		if r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 || int(r.hdrs[i].Len) > r.cfg.BufSize {
			trunc++
		}
		k, d := parse(r.datagram(i))
		switch k {
		case kindRecord:
			if err = fn(d.Type, d.Payload); err != nil {
				i = n
				continue
			}
			recs++
			bytes += uint64(len(d.Payload))
		case kindAck:
			acks++
		case kindError:
			errs++
		case kindReplace:
			repl++
		case kindInvalid:
			inv++
		}
	}
	r.records.Add(recs)
	r.bytes.Add(bytes)
	r.syscalls.Add(1)
	if trunc != 0 {
		r.truncated.Add(trunc)
	}
	if acks|errs|repl|inv != 0 {
		r.acks.Add(acks)
		r.errs.Add(errs)
		r.replaces.Add(repl)
		r.invalid.Add(inv)
	}
	if uint64(n) > r.highBatch.Load() {
		r.highBatch.Store(uint64(n))
	}
	return int(recs), err
}

// SetDeadline sets a deadline for ReadBatch's wait; the zero time clears it.
// Safe from any goroutine: it wakes a blocked ReadBatch.
func (r *Reader) SetDeadline(t time.Time) error {
	return r.conn.SetReadDeadline(t)
}

// Stats returns the counters. Safe from any goroutine.
func (r *Reader) Stats() Stats {
	return Stats{
		Records:   r.records.Load(),
		Bytes:     r.bytes.Load(),
		Syscalls:  r.syscalls.Load(),
		Truncated: r.truncated.Load(),
		Overruns:  r.overruns.Load(),
		Acks:      r.acks.Load(),
		Errors:    r.errs.Load(),
		Replaces:  r.replaces.Load(),
		Invalid:   r.invalid.Load(),
		HighBatch: r.highBatch.Load(),
	}
}

// Mode reports the reader's mode.
func (r *Reader) Mode() Mode { return r.cfg.Mode }

// Close closes the socket, waking a blocked ReadBatch. It does not
// unregister: the caller unregisters on the control socket first (AUDIT_SET
// pid 0), then calls Drain, then Close, so that no record is left in the
// socket. If the process exits instead, the kernel notices the dead socket
// and resets the registration itself. Close is idempotent.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.closeErr = r.conn.Close()
	})
	return r.closeErr
}
