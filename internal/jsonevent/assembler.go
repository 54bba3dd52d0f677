package jsonevent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Record is one audit record of an [Event].
type Record struct {
	// Type is the record type from the netlink header (1300 for SYSCALL).
	Type uint16
	// Payload is the record as the kernel sent it: "audit(SEC.MSS:SERIAL):
	// fields...", without "type=" or "node=" and without auditd's ENRICHED
	// suffix.
	Payload string
}

// End says why the [Assembler] considered an event complete.
type End uint8

const (
	// EndLastRecord: the event's last record arrived, an EOE, or a record
	// type that auditd treats as the last of its event (PROCTITLE, USER_*,
	// LOGIN's successors below 1300, anomalies, ...; see [IsLastRecord]).
	EndLastRecord End = iota
	// EndWindow: a record of another serial arrived, later by at least
	// the assembler's Window (in record time) or SerialLag (in serials).
	EndWindow
	// EndFlush: the input ended ([Assembler.Flush]).
	EndFlush
	// EndTimeout: the event was pending longer than the assembler's
	// Timeout in wall-clock time ([Assembler.Expire]).
	EndTimeout
	// EndEvicted: more than MaxPending events were pending; the oldest
	// was emitted as it was. Its remaining records, if any arrive, form
	// another event with the same serial.
	EndEvicted
)

var endNames = [...]string{"last_record", "window", "flush", "timeout", "evicted"}

// String returns the name the JSON schema uses for e ("last_record").
func (e End) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "End(" + strconv.Itoa(int(e)) + ")"
}

// Event is the records of one audit event: those sharing a serial (and a
// node), in arrival order, without the EOE record that ends it.
type Event struct {
	// Node is the "node=" prefix of the event's lines, or the
	// assembler's Node for records added by [Assembler.AddRecord]; empty
	// when there is none.
	Node string
	// Serial is the kernel's event serial (0 for records auditdrain or
	// auditd wrote themselves, each of which is an event of its own).
	Serial uint64
	// Records are the event's records in arrival order.
	Records []Record
	// End says why the event was considered complete.
	End End
	// Dropped counts records of this event that were not kept because
	// the event already held MaxRecords records or MaxBytes bytes.
	Dropped int
}

// Incomplete reports whether the event was cut by one of the assembler's
// bounds: records were dropped, or it was evicted before its end.
func (ev *Event) Incomplete() bool { return ev.Dropped > 0 || ev.End == EndEvicted }

// AssemblerOptions bound an [Assembler]. The zero value of a field selects
// its default.
type AssemblerOptions struct {
	// Node is the node name given to records added with AddRecord.
	Node string
	// MaxPending is the number of events kept open at once (default
	// 256). When a record would open one more, the oldest pending event
	// is emitted as it is (End = EndEvicted).
	MaxPending int
	// MaxRecords is the number of records kept per event (default 512);
	// MaxBytes the payload bytes kept per event (default 1 MiB). Records
	// beyond either are dropped and counted in Event.Dropped.
	MaxRecords int
	MaxBytes   int
	// Window ends a pending event when a record of a later serial
	// arrives whose time is at least Window after the event's (default 2
	// s, auparse's eoe_timeout). Negative disables it.
	Window time.Duration
	// SerialLag ends a pending event when a record arrives whose serial
	// differs from the event's by at least SerialLag (default 10,000; at
	// 40,000 events/s, a quarter of a second).
	// Negative disables it.
	SerialLag int64
	// Timeout, when positive, makes Expire end events pending for longer
	// than Timeout in wall-clock time. Zero disables it.
	Timeout time.Duration
}

const (
	defaultMaxPending = 256
	defaultMaxRecords = 512
	defaultMaxBytes   = 1 << 20
	defaultWindow     = 2 * time.Second
	defaultSerialLag  = 10000
)

// pending is an event still open.
type pending struct {
	ev    *Event
	ms    int64 // time of its first record, Unix milliseconds
	bytes int
	born  time.Time // wall clock when opened (only with a Timeout)
}

// Assembler groups audit records into events, as auditd's auparse does:
// records sharing a serial (and node) belong to one event; records of
// different events may interleave. An event ends at its EOE record, at a
// record type that is the last of its event ([IsLastRecord]), when a record
// of another serial arrives beyond the Window or SerialLag bound, at Flush,
// or at Expire after Timeout. Memory is bounded by MaxPending events of at
// most MaxRecords records and MaxBytes bytes each; over a bound the event is
// emitted as it is and flagged ([Event.Incomplete]).
//
// Completed events are passed to the emit function given to
// [NewAssembler], which owns them. An Assembler is not safe for concurrent
// use.
type Assembler struct {
	opt     AssemblerOptions
	emit    func(*Event)
	pending []*pending // in the order the events opened
}

// NewAssembler returns an Assembler that passes each completed event to
// emit.
func NewAssembler(opt AssemblerOptions, emit func(*Event)) *Assembler {
	if opt.MaxPending <= 0 {
		opt.MaxPending = defaultMaxPending
	}
	if opt.MaxRecords <= 0 {
		opt.MaxRecords = defaultMaxRecords
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = defaultMaxBytes
	}
	if opt.Window == 0 {
		opt.Window = defaultWindow
	}
	if opt.SerialLag == 0 {
		opt.SerialLag = defaultSerialLag
	}
	return &Assembler{opt: opt, emit: emit}
}

// ErrNotRecord is wrapped by the errors of [Assembler.Add] and
// [Assembler.AddRecord] for input that is not an audit record.
var ErrNotRecord = errors.New("not an audit record")

// Add adds one line of an audit log as auditd and auditdrain write it:
//
//	[node=NODE ]type=NAME msg=audit(SEC.MSS:SERIAL): fields...
//
// A trailing newline is ignored, and so is auditd's ENRICHED suffix (from
// the 0x1d separator on: the names are resolved again when encoding). NAME
// is a type name, "UNKNOWN[N]" or a number. A line that is not a record
// gives an error wrapping [ErrNotRecord] and is not added; the caller names
// the file and line.
func (a *Assembler) Add(line []byte) error {
	line = bytes.TrimRight(line, "\r\n")
	if i := bytes.IndexByte(line, 0x1d); i >= 0 {
		line = line[:i]
	}
	var node []byte
	rest := line
	if bytes.HasPrefix(rest, []byte("node=")) {
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return notRecord("no type= after node=", line)
		}
		node, rest = rest[len("node="):sp], rest[sp+1:]
	}
	if !bytes.HasPrefix(rest, []byte("type=")) {
		return notRecord("no type=", line)
	}
	rest = rest[len("type="):]
	sp := bytes.Index(rest, []byte(" msg="))
	if sp < 0 {
		return notRecord("no msg= after type=", line)
	}
	typ, ok := parseTypeName(rest[:sp])
	if !ok {
		return notRecord("unknown record type "+strconv.Quote(string(rest[:sp])), line)
	}
	return a.add(typ, string(node), rest[sp+len(" msg="):], line)
}

// AddRecord adds one record as the kernel sent it: typ from the netlink
// header and the payload "audit(SEC.MSS:SERIAL): fields..." (see package
// record). The payload is copied. Its node is the assembler's Node.
func (a *Assembler) AddRecord(typ uint16, payload []byte) error {
	return a.add(typ, a.opt.Node, payload, payload)
}

// parseTypeName reads a log line's record type: a name go-libaudit knows,
// "UNKNOWN[N]" as auditd writes a number it has no name for, or a number.
func parseTypeName(name []byte) (uint16, bool) {
	if bytes.HasPrefix(name, []byte("UNKNOWN[")) && bytes.HasSuffix(name, []byte("]")) {
		name = name[len("UNKNOWN[") : len(name)-1]
	}
	return record.ParseType(string(name))
}

func notRecord(why string, line []byte) error {
	const max = 80
	shown := line
	if len(shown) > max {
		shown = shown[:max]
	}
	return fmt.Errorf("%w: %s: %q", ErrNotRecord, why, shown)
}

func (a *Assembler) add(typ uint16, node string, payload, line []byte) error {
	ms, serial, ok := record.HeaderMillis(payload)
	if !ok {
		return notRecord("no audit(SEC.MSS:SERIAL): header", line)
	}
	// Close events that this record shows to be over.
	a.closeBehind(node, serial, ms)

	if typ == record.TypeEOE {
		if i := a.find(node, serial); i >= 0 {
			a.finish(i, EndLastRecord)
		}
		return nil
	}
	if serial == 0 {
		// Written by a daemon, not by the kernel: serial 0 is never an
		// event's.
		a.emit(&Event{Node: node, Records: []Record{{typ, string(payload)}}})
		return nil
	}
	i := a.find(node, serial)
	if i < 0 {
		if len(a.pending) >= a.opt.MaxPending {
			a.finish(0, EndEvicted)
		}
		p := &pending{ev: &Event{Node: node, Serial: serial}, ms: ms}
		if a.opt.Timeout > 0 {
			p.born = time.Now()
		}
		a.pending = append(a.pending, p)
		i = len(a.pending) - 1
	}
	p := a.pending[i]
	if len(p.ev.Records) >= a.opt.MaxRecords || p.bytes+len(payload) > a.opt.MaxBytes {
		p.ev.Dropped++
	} else {
		p.ev.Records = append(p.ev.Records, Record{typ, string(payload)})
		p.bytes += len(payload)
	}
	if IsLastRecord(typ) {
		a.finish(i, EndLastRecord)
	}
	return nil
}

// find returns the index of the pending event (node, serial), or -1. The
// event looked for is usually the newest, so the search runs backwards.
func (a *Assembler) find(node string, serial uint64) int {
	for i := len(a.pending) - 1; i >= 0; i-- {
		if ev := a.pending[i].ev; ev.Serial == serial && ev.Node == node {
			return i
		}
	}
	return -1
}

// closeBehind ends the oldest pending events while a record (node, serial,
// ms) shows them over: a record of another event Window later in record
// time, or of the same node SerialLag away in serials.
func (a *Assembler) closeBehind(node string, serial uint64, ms int64) {
	for len(a.pending) > 0 {
		p := a.pending[0]
		sameNode := p.ev.Node == node
		if sameNode && p.ev.Serial == serial {
			return
		}
		// Serials of different nodes are unrelated; their times are not.
		late := a.opt.Window > 0 && ms-p.ms >= a.opt.Window.Milliseconds()
		far := sameNode && a.opt.SerialLag > 0 && absDiff(serial, p.ev.Serial) >= uint64(a.opt.SerialLag)
		if !late && !far {
			return
		}
		a.finish(0, EndWindow)
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// finish removes pending event i and emits it.
func (a *Assembler) finish(i int, why End) {
	p := a.pending[i]
	copy(a.pending[i:], a.pending[i+1:])
	a.pending[len(a.pending)-1] = nil
	a.pending = a.pending[:len(a.pending)-1]
	p.ev.End = why
	a.emit(p.ev)
}

// Flush emits every pending event (End = EndFlush), oldest first: call it
// at the end of the input.
func (a *Assembler) Flush() {
	for len(a.pending) > 0 {
		a.finish(0, EndFlush)
	}
}

// Expire emits the events that have been pending for at least Timeout
// before now (End = EndTimeout). It does nothing without a Timeout.
func (a *Assembler) Expire(now time.Time) {
	if a.opt.Timeout <= 0 {
		return
	}
	for i := 0; i < len(a.pending); {
		if now.Sub(a.pending[i].born) >= a.opt.Timeout {
			a.finish(i, EndTimeout)
			continue
		}
		i++
	}
}

// Pending returns the number of events still open.
func (a *Assembler) Pending() int { return len(a.pending) }

// Record types IsLastRecord refers to (values of linux/audit.h, as in
// go-libaudit's auparse).
const (
	typeUser          = 1005
	typeLogin         = 1006
	typeFirstEvent    = 1300
	typeProctitle     = 1327
	typeMacUnlblAllow = 1406
	typeMacCalipsoDel = 1419
	typeFirstAnomMsg  = 1700
	typeKernel        = 2000
)

// IsLastRecord reports whether a record of type typ is the last of its
// event, by the rule of auditd's audit_is_last_record: EOE, PROCTITLE (the
// last record the kernel writes for a syscall), the user-space and daemon
// messages above LOGIN and below SYSCALL (USER_* among them) and USER, the
// single-record MAC_UNLBL_ALLOW..MAC_CALIPSO_DEL, and everything from the
// anomaly messages (1700) on, KERNEL included.
//
// CONFIG_CHANGE is not a last record: a rule change made by auditctl is
// followed by the SYSCALL and PROCTITLE records of its sendto, with the same
// serial.
func IsLastRecord(typ uint16) bool {
	return typ == record.TypeEOE || typ == typeProctitle ||
		(typ > typeLogin && typ < typeFirstEvent) || typ == typeUser ||
		typ >= typeFirstAnomMsg || typ == typeKernel ||
		(typ >= typeMacUnlblAllow && typ <= typeMacCalipsoDel)
}
