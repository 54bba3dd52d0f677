package auditctl

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ReplyTimeout bounds each wait for the kernel's reply to one request. It does
// not bound the time sendmsg may sleep in the kernel while the audit backlog
// is over its limit (see the package documentation).
const ReplyTimeout = 5 * time.Second

// recvBufferBytes is the receive buffer a Conn asks for: large enough for the
// AUDIT_LIST_RULES replies of a few thousand rules, which the kernel sends
// without waiting for the reader for more than about 100 ms per rule.
const recvBufferBytes = 4 << 20

// Conn is a control connection to the kernel audit subsystem on its own
// NETLINK_AUDIT socket. It is not the registered audit daemon and joins no
// multicast group, so it receives nothing but replies to its requests.
//
// Concurrency: a Conn is safe for concurrent use. Requests are serialized:
// each method sends one request and waits for its reply before the next
// request is sent. Close may be called at any time, from any goroutine, and
// more than once; it interrupts a wait for a reply (the method then returns an
// error wrapping os.ErrClosed) but cannot interrupt the kernel's backlog
// penalty sleep inside sendmsg. The zero Conn is not usable: its methods
// return ErrNotDialed.
type Conn struct {
	mu     sync.Mutex                   // held for a whole request/reply exchange and for socket replacement
	nl     atomic.Pointer[netlink.Conn] // replaced only with mu held; loaded without it by Close
	closed atomic.Bool

	timeout time.Duration // wait for one reply; ReplyTimeout when zero (tests shorten it)
}

// Dial opens a control connection to the kernel audit subsystem and checks
// that it may be used by asking for the audit status once. Without
// CAP_AUDIT_CONTROL the error reads "auditctl: opening audit control socket:
// requires root or CAP_AUDIT_CONTROL: ..." and wraps unix.EPERM.
func Dial() (*Conn, error) {
	c, err := DialDeferred()
	if err != nil {
		return nil, err
	}
	if _, err := c.status(); err != nil {
		_ = c.Close()
		return nil, dialError(err)
	}
	return c, nil
}

// DialDeferred is Dial without its status request (the check that the
// kernel answers this process): the first request reports what Dial would
// have. For a daemon that adopts a registered socket after a restart under
// load: every request on this socket waits while the kernel's queue is
// over backlog_limit, until the adopted socket is read again.
func DialDeferred() (*Conn, error) {
	nl, err := openSocket()
	if err != nil {
		return nil, dialError(err)
	}
	c := &Conn{}
	c.nl.Store(nl)
	return c, nil
}

// dialError explains the errors a caller of Dial can do something about.
func dialError(err error) error {
	const op = "auditctl: opening audit control socket"
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: requires root or CAP_AUDIT_CONTROL: %w", op, err)
	case errors.Is(err, unix.ECONNREFUSED):
		return fmt.Errorf("%s: audit control is only possible from the initial user namespace: %w", op, err)
	case errors.Is(err, unix.EPROTONOSUPPORT):
		return fmt.Errorf("%s: kernel built without audit support (CONFIG_AUDIT): %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// openSocket opens and binds a NETLINK_AUDIT socket with a large receive
// buffer.
func openSocket() (*netlink.Conn, error) {
	nl, err := netlink.Dial(unix.NETLINK_AUDIT, nil)
	if err != nil {
		return nil, err
	}
	growReceiveBuffer(nl)
	return nl, nil
}

// growReceiveBuffer asks for recvBufferBytes of receive buffer, past
// net.core.rmem_max when privileged (SO_RCVBUFFORCE). It is best effort: a
// smaller buffer only matters for very large rule sets.
func growReceiveBuffer(nl *netlink.Conn) {
	if rc, err := nl.SyscallConn(); err == nil {
		var serr error
		cerr := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBufferBytes)
		})
		if cerr == nil && serr == nil {
			return
		}
	}
	_ = nl.SetReadBuffer(recvBufferBytes)
}

// Close closes the connection. It is idempotent; only the first call can
// return an error.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	nl := c.nl.Load()
	if nl == nil {
		return nil
	}
	if err := nl.Close(); err != nil {
		return fmt.Errorf("auditctl: closing control socket: %w", err)
	}
	return nil
}

// replyHandler is given, after each receive, the replies that carry the
// request's sequence number and whether the receive ended a multipart reply
// (mdlayher/netlink consumes the NLMSG_DONE itself). It reports whether the
// exchange is complete.
type replyHandler func(mine []netlink.Message, multiDone bool) (bool, error)

// exchange sends one request of type typ with payload data and hands the
// replies to handle until it reports completion. Errors are not prefixed:
// the exported methods name the operation.
func (c *Conn) exchange(typ uint16, flags netlink.HeaderFlags, data []byte, handle replyHandler) error {
	if c.nl.Load() == nil {
		return ErrNotDialed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return os.ErrClosed
	}
	nl := c.nl.Load()

	req, err := nl.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | flags},
		Data:   data,
	})
	if err != nil {
		return c.ioError(err)
	}
	seq := req.Header.Sequence
	timeout := c.timeout
	if timeout == 0 {
		timeout = ReplyTimeout
	}
	if err := nl.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return c.ioError(err)
	}
	for {
		msgs, err := nl.Receive()
		if err != nil {
			var oe *netlink.OpError
			isOp := errors.As(err, &oe)
			if isOp && oe.Sequence != seq && oe.Sequence != 0 {
				continue // error reply to an earlier request: not ours
			}
			if isOp && oe.Sequence == seq && positiveAck(oe.Err) {
				// AUDIT_SET of exactly AUDIT_STATUS_LOST (or
				// ..._BACKLOG_WAIT_TIME_ACTUAL) resets that counter and
				// acks with its old value as a positive "error".
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.closed.Load() {
				c.replaceSocketLocked()
				return fmt.Errorf("no reply to message type %d within %v: %w", typ, timeout, err)
			}
			return c.ioError(err)
		}
		mine := msgs[:0:0]
		multi := len(msgs) == 0 // a bare NLMSG_DONE: empty multipart reply
		for _, m := range msgs {
			if m.Header.Sequence != seq {
				continue
			}
			mine = append(mine, m)
			if m.Header.Flags&netlink.Multi != 0 {
				multi = true
			}
		}
		done, err := handle(mine, multi)
		if err != nil || done {
			return err
		}
	}
}

// positiveAck recognizes an ack whose error field is positive, which
// mdlayher/netlink turns into the Errno of a negative number.
func positiveAck(err error) bool {
	errno, ok := err.(unix.Errno)
	return ok && int(errno) < 0
}

// ioError turns errors caused by a concurrent Close into os.ErrClosed.
func (c *Conn) ioError(err error) error {
	if c.closed.Load() {
		return fmt.Errorf("%w (%v)", os.ErrClosed, err)
	}
	return err
}

// replaceSocketLocked swaps in a fresh socket after a timeout, so that the
// late reply can never be taken for the answer to a later request. If a new
// socket cannot be opened the old one is kept; sequence numbers still filter
// most stale replies. c.mu must be held.
func (c *Conn) replaceSocketLocked() {
	fresh, err := openSocket()
	if err != nil {
		return
	}
	old := c.nl.Swap(fresh)
	_ = old.Close()
	if c.closed.Load() {
		_ = fresh.Close()
	}
}

// ack sends a request with NLM_F_ACK and waits for the kernel's ack.
func (c *Conn) ack(typ uint16, data []byte) error {
	return c.exchange(typ, netlink.Acknowledge, data, func(mine []netlink.Message, _ bool) (bool, error) {
		for _, m := range mine {
			if m.Header.Type == netlink.Error {
				return true, nil // non-zero codes were returned as errors by Receive
			}
		}
		return false, nil
	})
}

// get sends a request without NLM_F_ACK and returns a copy of the payload of
// the first reply of type typ.
func (c *Conn) get(typ uint16) ([]byte, error) {
	var out []byte
	err := c.exchange(typ, 0, nil, func(mine []netlink.Message, _ bool) (bool, error) {
		for _, m := range mine {
			if m.Header.Type == netlink.HeaderType(typ) {
				out = append([]byte(nil), m.Data...)
				return true, nil
			}
		}
		return false, nil
	})
	return out, err
}

// list sends a request answered by a multipart reply and returns copies of
// the payloads of the parts of type typ.
func (c *Conn) list(typ uint16) ([][]byte, error) {
	var out [][]byte
	err := c.exchange(typ, 0, nil, func(mine []netlink.Message, multiDone bool) (bool, error) {
		for _, m := range mine {
			if m.Header.Type == netlink.HeaderType(typ) {
				out = append(out, append([]byte(nil), m.Data...))
			}
		}
		return multiDone, nil
	})
	return out, err
}
