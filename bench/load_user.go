package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// auditUser is AUDIT_USER, the message type of a user space audit message.
const auditUser = 1005

// userLoad sends AUDIT_USER messages carrying a marker text through its own
// netlink audit socket per thread: each message the kernel accepts is one
// event (one USER record). No rule is needed: with no user-filter rules the
// kernel logs every user message while auditing is enabled.
type userLoad struct{}

func newUserLoad() *userLoad { return &userLoad{} }

func (l *userLoad) Name() string { return LoadUser }

func (l *userLoad) Rules(string) []string { return nil }

func (l *userLoad) Matcher(key string) Matcher { return markerMatcher("USER", auditUser, key) }

func (l *userLoad) RecordsPerEvent() int { return 1 }

// userMessage returns one AUDIT_USER request carrying text. No ack is asked
// for: the kernel answers only the requests it rejects.
func userMessage(text string) []byte {
	payload := len(text) + 1 // the kernel overwrites the last byte with NUL
	n := unix.NLMSG_HDRLEN + payload
	b := make([]byte, (n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1))
	binary.NativeEndian.PutUint32(b[0:4], uint32(n))
	binary.NativeEndian.PutUint16(b[4:6], auditUser)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST)
	copy(b[unix.NLMSG_HDRLEN:], text)
	return b
}

// countRejected reads the error replies waiting on fd without blocking and
// returns how many report a failure.
func countRejected(fd int) (int64, error) {
	var rejected int64
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return rejected, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// ENOBUFS: replies were dropped, so rejections went uncounted.
			return rejected, fmt.Errorf("cannot read netlink replies: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			typ := binary.NativeEndian.Uint16(b[4:6])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			if typ == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 &&
				int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:])) != 0 {
				rejected++
			}
			b = b[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
		}
	}
}

func (l *userLoad) Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error) {
	msg := userMessage(userMarker(spec.Key))
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	return drive(ctx, spec, func(int) (worker, error) {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
		if err != nil {
			return worker{}, fmt.Errorf("cannot open netlink audit socket: %w", err)
		}
		return worker{
			op: func() error {
				for {
					err := unix.Sendto(fd, msg, 0, kernel)
					if errors.Is(err, unix.EINTR) {
						continue
					}
					if err != nil {
						return fmt.Errorf("cannot send AUDIT_USER message: %w", err)
					}
					return nil
				}
			},
			finish: func() (int64, error) {
				rejected, err := countRejected(fd)
				if cerr := unix.Close(fd); cerr != nil && err == nil {
					err = fmt.Errorf("cannot close netlink audit socket: %w", cerr)
				}
				return rejected, err
			},
		}, nil
	})
}
