// Package record is the one home of what auditdrain knows about a single
// audit record: the header parser ([Header], [HeaderMillis], and
// [LineHeader] for a formatted log line, all one grammar), the header's
// formatting ([AppendStamp]), the event-key matcher ([KeyIndex], used by
// both the rate limiter and the overflow policy), and the record-type
// constants (go-libaudit's, as uint16). No other package parses a header,
// matches a key or declares a type number.
//
// It parses fields from one raw kernel audit record payload without
// allocating, the text the kernel sends in one netlink message:
//
//	audit(1795636980.303:3): arch=c000003e syscall=44 ... key="mykey"
//
// (no trailing newline, no "type=" prefix: the message type travels in the
// netlink header).
//
// # What the kernel writes
//
// The payload starts with "audit(SECONDS.MILLIS:SERIAL): " (kernel
// audit_log_start: "audit(%llu.%03lu:%u): "). Every record of one event shares
// the serial; records of different events may interleave.
//
// A rule key is logged by the kernel's audit_log_key as " key=" followed by
// either "(null)" (the matching rule has no key) or the key through
// audit_log_untrustedstring, which writes it in double quotes when every byte
// is in 0x21..0x7e and is not '"', and otherwise as upper-case hex digits with
// no quotes. A rule with several keys (auditctl -k a -k b) has one filter key
// "a\x01b" joined by [KeySeparator], which always contains a control byte, so
// several keys always arrive hex-encoded: key=610162. [Key] returns the value as
// logged; [KeyField] also says whether it was quoted, and [AppendUnhex] decodes
// a hex value into a caller's buffer.
//
// key= is the last field of SYSCALL (1300) and URINGOP (1336) records, where it
// names the key of the rule that matched the event. CONFIG_CHANGE (1305)
// records carry it in the middle ("op=add_rule key="k" list=4 res=1"), where it
// names the rule being changed. PATH, CWD, EXECVE, PROCTITLE, SOCKADDR, EOE and
// most other records carry no key: the key belongs to the event (same serial).
//
// # Aliasing
//
// Slices returned by this package alias the payload passed in; they are valid
// for as long as the payload's bytes are (for a record borrowed from the ring,
// until the drain callback returns). Nothing here allocates (AppendUnhex only
// to grow a dst that is too small), keeps state or modifies its input; every
// function is safe for concurrent use.
package record
