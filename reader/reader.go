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
	// Shared, if not nil, is memory (SharedSize bytes, from a shared
	// mapping) the receive buffers live in, so that what a killed process
	// received and had not delivered can be found by the next one
	// (Undelivered). nil: buffers in this process's memory.
	Shared []byte
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
	cfg Config
	fd  int
	// fdMu is read-held around every system call on fd, so that Close,
	// which write-holds it to close fd, never closes a descriptor another
	// goroutine is about to use (and the number cannot be reused under it).
	fdMu sync.RWMutex

	// recvmmsg state, allocated once.
	slab []byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
	// next is the index of the datagram the callback is given next (in
	// Config.Shared when set: see Undelivered).
	next *uint64
	// results of the last recvmmsg.
	n     int
	errno syscall.Errno
	// pending holds copies of records that arrived before the ack to our
	// registration; delivered by the first ReadBatch. Startup only.
	pending []pendingRecord
	// timeo is the SO_RCVTIMEO now set on fd (0: none). Reading goroutine
	// only.
	timeo time.Duration
	// deadline is SetDeadline's time in Unix nanoseconds (0: none).
	deadline atomic.Int64
	// wakeMsg is the request Wake sends, built once.
	wakeMsg [headerLen]byte

	registered bool
	adopted    bool // Adopt: the socket was inherited, not opened

	// counters published once per batch.
	records, bytes, syscalls, truncated, overruns atomic.Uint64
	acks, errs, replaces, invalid, highBatch      atomic.Uint64

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
	fdGone    atomic.Bool // fd is closed: no system call may use it
}

type pendingRecord struct {
	typ     uint16
	payload []byte
}

// Sequence numbers of the requests the data socket sends.
const (
	seqRegister = 1
	// seqWake marks Wake's request: the kernel's error reply to it only
	// wakes the reader and is not counted.
	seqWake = 0xADD7A1E
	// typeWake is a message type the audit subsystem refuses with EINVAL
	// before doing anything: its only effect is the error reply.
	typeWake = typeNoop
)

// Open opens the data socket and, in unicast mode, registers this process as
// the audit daemon from that socket (the kernel unicasts to the socket that
// sent AUDIT_SET). Registration fails with an error wrapping
// ErrAlreadyRegistered when another live daemon holds the registration.
func Open(cfg Config) (*Reader, error) {
	cfg.setDefaults()
	// A blocking socket, outside the Go netpoller: ReadBatch blocks its
	// thread in recvmmsg, so the kernel wakes exactly that thread when
	// records arrive (no epoll, no hand-off between threads).
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err == nil {
		sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
		if cfg.Mode == ModeMulticast {
			sa.Groups = 1 // AUDIT_NLGRP_READLOG, as a bitmask
		}
		if err = unix.Bind(fd, sa); err != nil {
			unix.Close(fd)
			err = os.NewSyscallError("bind", err)
		}
	} else {
		err = os.NewSyscallError("socket", err)
	}
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
	r := &Reader{cfg: cfg, fd: fd}
	if err := r.init(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if cfg.Mode == ModeUnicast {
		if err := r.register(); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) init() error {
	if err := unix.SetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, r.cfg.RcvBuf); err != nil {
		return fmt.Errorf("reader: setting receive buffer to %d bytes: %w", r.cfg.RcvBuf, os.NewSyscallError("setsockopt SO_RCVBUFFORCE", err))
	}
	b, bs := r.cfg.Batch, r.cfg.BufSize
	r.next = new(uint64)
	if r.cfg.Shared != nil {
		if err := r.initShared(); err != nil {
			return err
		}
	} else {
		r.slab = make([]byte, b*bs)
		r.iovs = make([]unix.Iovec, b)
		r.hdrs = make([]unix.Mmsghdr, b)
		r.linkBuffers(bs)
	}
	binary.NativeEndian.PutUint32(r.wakeMsg[0:], headerLen)
	binary.NativeEndian.PutUint16(r.wakeMsg[4:], typeWake)
	binary.NativeEndian.PutUint16(r.wakeMsg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(r.wakeMsg[8:], seqWake)
	return nil
}

// linkBuffers points each header at its iovec and each iovec at its
// bs-byte buffer of the slab.
func (r *Reader) linkBuffers(bs int) {
	for i := range r.hdrs {
		r.iovs[i].Base = &r.slab[i*bs]
		r.iovs[i].SetLen(bs)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
}

// recv performs one recvmmsg: flags is unix.MSG_WAITFORONE to block until
// at least one datagram arrives (or SO_RCVTIMEO expires: EAGAIN), or
// unix.MSG_DONTWAIT. It returns false on EAGAIN. The caller holds fdMu.
func (r *Reader) recv(flags int) bool {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Len = 0
	}
	*r.next = 0 // after the lengths: see Undelivered
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdrs[0])),
		uintptr(len(r.hdrs)), uintptr(flags), 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	if e != 0 {
		r.n = 0
	}
	return true
}

// setTimeout sets SO_RCVTIMEO (0: none) if it differs from the one set.
func (r *Reader) setTimeout(d time.Duration) error {
	if d == r.timeo {
		return nil
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(r.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("reader: %w", os.NewSyscallError("setsockopt SO_RCVTIMEO", err))
	}
	r.timeo = d
	return nil
}

// send sends one netlink request to the kernel on the data socket.
func (r *Reader) send(msg []byte) error {
	return unix.Sendto(r.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// register sends AUDIT_SET pid=getpid() from the data socket and waits for
// the kernel's answer, keeping any record that arrives before it.
func (r *Reader) register() error {
	st, err := binary.Append(nil, binary.NativeEndian, libaudit.AuditStatus{Mask: libaudit.AuditStatusPID, PID: uint32(os.Getpid())})
	if err != nil {
		return fmt.Errorf("reader: encoding AUDIT_SET: %w", err)
	}
	msg := make([]byte, headerLen+len(st))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], record.TypeSet)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seqRegister)
	copy(msg[headerLen:], st)
	if err := r.send(msg); err != nil {
		return fmt.Errorf("reader: sending AUDIT_SET pid=%d: %w", os.Getpid(), os.NewSyscallError("sendto", err))
	}
	deadline := time.Now().Add(r.cfg.RegisterTimeout)
	defer r.setTimeout(0)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("reader: no answer from the kernel to AUDIT_SET pid=%d within %v: %w", os.Getpid(), r.cfg.RegisterTimeout, os.ErrDeadlineExceeded)
		}
		if err := r.setTimeout(left); err != nil {
			return err
		}
		if !r.recv(unix.MSG_WAITFORONE) {
			continue
		}
		if r.errno != 0 {
			return fmt.Errorf("reader: waiting for the kernel's answer to AUDIT_SET: %w", os.NewSyscallError("recvmmsg", r.errno))
		}
		for i := 0; i < r.n; i++ {
			k, d := parse(r.datagram(i))
			switch {
			case k == kindRecord:
				r.pending = append(r.pending, pendingRecord{d.Type, append([]byte(nil), d.Payload...)})
			case (k == kindAck || k == kindError) && d.Seq == seqRegister:
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

// ReadBatch waits until records arrive, reads up to Config.Batch
// datagrams with one recvmmsg and calls fn for each audit record, in
// arrival order. payload aliases the reader's buffer: it is valid only until
// fn returns. If fn returns an error, ReadBatch stops and returns it; the
// records after it in the same batch are not delivered (Stats counts only
// the delivered ones), so fn should only fail when the pipeline is shutting
// down for good.
//
// It returns the number of records delivered, which may be 0 (a batch of
// acks, or an overrun: ENOBUFS is counted and the socket stays usable). The
// wait blocks the calling goroutine's thread in the kernel; Close, a passed
// deadline (SetDeadline) or Wake end it.
func (r *Reader) ReadBatch(fn func(typ uint16, payload []byte) error) (int, error) {
	return r.ReadBatchTimeout(0, fn)
}

// ReadBatchTimeout is ReadBatch with a bound on the wait: when nothing
// arrives within timeout it returns (0, nil). timeout <= 0 waits without
// limit. The caller that passes the same timeout again and again costs one
// system call per batch; a new value costs one more (setsockopt).
func (r *Reader) ReadBatchTimeout(timeout time.Duration, fn func(typ uint16, payload []byte) error) (int, error) {
	if len(r.pending) > 0 {
		return r.deliverPending(fn)
	}
	if timeout < 0 {
		timeout = 0
	}
	r.fdMu.RLock()
	if r.closed.Load() {
		r.fdMu.RUnlock()
		return 0, fmt.Errorf("reader: %w", os.ErrClosed)
	}
	if dl := r.deadline.Load(); dl != 0 {
		left := time.Duration(dl - time.Now().UnixNano())
		if left <= 0 {
			r.fdMu.RUnlock()
			return 0, fmt.Errorf("reader: %w", os.ErrDeadlineExceeded)
		}
		// Wake up at least every second to look at the deadline again,
		// so that a far deadline does not cost a setsockopt per batch.
		left = min(left, time.Second)
		if timeout == 0 || timeout > left {
			timeout = left
		}
	}
	if err := r.setTimeout(timeout); err != nil {
		r.fdMu.RUnlock()
		return 0, err
	}
	got := r.recv(unix.MSG_WAITFORONE)
	r.fdMu.RUnlock()
	if !got {
		return 0, nil // timeout or signal: the caller looks at the time
	}
	n, err := r.deliver(fn)
	if err == nil && n == 0 && r.closed.Load() {
		err = fmt.Errorf("reader: %w", os.ErrClosed)
	}
	return n, err
}

// Wake makes a ReadBatch blocked in another goroutine return soon (with
// whatever it read, possibly nothing), or the next one if none is blocked
// now. It sends the kernel a request that the kernel refuses: the refusal
// arrives on the data socket, is not counted, and wakes the reader. Safe
// from any goroutine; it costs two system calls and is meant for rare
// events (Close, SetDeadline, a change of plans), not for every batch.
func (r *Reader) Wake() error {
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.fdGone.Load() {
		return nil
	}
	if err := r.send(r.wakeMsg[:]); err != nil {
		return fmt.Errorf("reader: waking the reader: %w", os.NewSyscallError("sendto", err))
	}
	return nil
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
	for range drainBatches {
		r.fdMu.RLock()
		if r.fdGone.Load() {
			r.fdMu.RUnlock()
			return total, fmt.Errorf("reader: draining: %w", os.ErrClosed)
		}
		more := r.recv(unix.MSG_DONTWAIT)
		r.fdMu.RUnlock()
		if !more {
			return total, nil
		}
		n, err := r.deliver(fn)
		total += n
		if err != nil {
			return total, err
		}
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
			*r.next = uint64(i) // a kill from here on: Undelivered hands it out (maybe)
			if err = fn(d.Type, d.Payload); err != nil {
				i = n
				continue
			}
			*r.next = uint64(i + 1)
			recs++
			bytes += uint64(len(d.Payload))
		case kindAck:
			acks++
		case kindError:
			if d.Seq != seqWake {
				errs++
			}
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

// SetDeadline sets a deadline for ReadBatch's wait; the zero time clears
// it. Once it has passed, ReadBatch returns an error wrapping
// os.ErrDeadlineExceeded. Safe from any goroutine: it wakes a blocked
// ReadBatch (see Wake).
func (r *Reader) SetDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = max(t.UnixNano(), 1)
	}
	r.deadline.Store(ns)
	return r.Wake()
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

// MaxRecord returns the longest payload ReadBatch delivers: a longer
// record is cut to it (and counted in Stats.Truncated).
func (r *Reader) MaxRecord() int { return r.cfg.BufSize - headerLen }

// Mode reports the reader's mode.
func (r *Reader) Mode() Mode { return r.cfg.Mode }

// Close closes the socket, waking a blocked ReadBatch first. It does not
// unregister: the caller unregisters on the control socket first (AUDIT_SET
// pid 0), then calls Drain, then Close, so that no record is left in the
// socket. If the process exits instead, the kernel notices the dead socket
// and resets the registration itself. Close is idempotent.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		werr := r.Wake()
		// The wake-up is a datagram: it stays queued until read, so a
		// ReadBatch about to block returns as surely as one blocked now.
		// Should the kernel refuse it, do not wait for a reader that may
		// never wake: it still sees closed before its next system call.
		locked := false
		if werr == nil {
			r.fdMu.Lock()
			locked = true
		} else {
			for range 100 {
				if locked = r.fdMu.TryLock(); locked {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		r.fdGone.Store(true)
		r.closeErr = unix.Close(r.fd)
		if r.closeErr != nil {
			r.closeErr = fmt.Errorf("reader: %w", os.NewSyscallError("close", r.closeErr))
		}
		if locked {
			r.fdMu.Unlock()
		}
	})
	return r.closeErr
}
