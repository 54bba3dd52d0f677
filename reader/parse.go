package reader

import (
	"encoding/binary"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Netlink and audit message types the reader treats specially.
const (
	typeNoop    = 0x1                // NLMSG_NOOP
	typeError   = 0x2                // NLMSG_ERROR: an ack (errno 0) or a failed request
	typeDone    = 0x3                // NLMSG_DONE
	typeOverrun = 0x4                // NLMSG_OVERRUN
	typeReplace = record.TypeReplace // another process asked to become the audit daemon

	// firstRecordType is NLMSG_MIN_TYPE: below it are netlink's own control
	// messages. Everything else arriving on the data socket is a record:
	// replies to AUDIT_GET and rule listings never come here, because the
	// data socket sends nothing but AUDIT_SET, and some old low numbers
	// are real records (1005 USER, 1006 LOGIN).
	firstRecordType = 0x10

	headerLen = 16 // sizeof(struct nlmsghdr)
)

// kind classifies one datagram read from the data socket.
type kind uint8

const (
	kindInvalid kind = iota // shorter than a netlink header
	kindRecord              // an audit record: deliver it
	kindAck                 // NLMSG_ERROR with errno 0
	kindError               // NLMSG_ERROR with a non-zero errno
	kindReplace             // AUDIT_REPLACE
	kindControl             // any other netlink/audit control message: skip
)

// datagram is one parsed netlink datagram. Payload aliases the receive
// buffer and is valid only until the next read.
type datagram struct {
	Type    uint16
	Seq     uint32
	Errno   int32 // for kindError/kindAck: the (positive) errno, 0 for an ack
	Payload []byte
}

// parse classifies b, one datagram as received from the kernel.
//
// Audit records sent by the kernel carry an nlmsg_len that excludes the
// 16-byte header (and multicast copies carry the same quirk), so the length
// field is not trusted for records: the payload is everything after the
// header, less trailing NUL bytes. Replies to requests (acks, errors) are
// regular netlink messages and are parsed as such.
func parse(b []byte) (kind, datagram) {
	if len(b) < headerLen {
		return kindInvalid, datagram{}
	}
	d := datagram{
		Type: binary.NativeEndian.Uint16(b[4:6]),
		Seq:  binary.NativeEndian.Uint32(b[8:12]),
	}
	p := b[headerLen:]
	switch {
	case d.Type == typeError:
		if len(p) < 4 {
			return kindInvalid, d
		}
		e := int32(binary.NativeEndian.Uint32(p[:4]))
		if e == 0 {
			return kindAck, d
		}
		d.Errno = -e
		return kindError, d
	case d.Type == typeReplace:
		d.Payload = p
		return kindReplace, d
	case d.Type < firstRecordType:
		d.Payload = p
		return kindControl, d
	}
	for len(p) > 0 && p[len(p)-1] == 0 {
		p = p[:len(p)-1]
	}
	d.Payload = p
	return kindRecord, d
}
