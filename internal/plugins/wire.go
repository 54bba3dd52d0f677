package plugins

import (
	"bytes"
	"encoding/binary"

	"github.com/auditdrain/auditdrain/internal/record"
)

// auditd 3.0.9's dispatcher protocol (lib/libaudit.h).
const (
	// ProtocolVer is AUDISP_PROTOCOL_VER: the frame's data is the raw
	// kernel payload ("audit(...): ..."); auditd sends it when no node
	// name is configured.
	ProtocolVer = 0
	// ProtocolVer2 is AUDISP_PROTOCOL_VER2: the data is the formatted
	// record line ("node=N type=T msg=audit(...): ...", no newline);
	// auditd sends it when a node name is configured.
	ProtocolVer2 = 1
	// HeaderLen is sizeof(struct audit_dispatcher_header): four uint32
	// in host byte order: ver, hlen, type, size.
	HeaderLen = 16
	// MaxMessage is MAX_AUDIT_MESSAGE_LENGTH, the size of auditd's event
	// data buffer. auditd 3.0.9 writes the whole buffer after the header
	// whatever the record's size, so every binary frame is
	// HeaderLen+MaxMessage bytes; the bytes after size are zero here (in
	// auditd they are whatever the buffer held).
	MaxMessage = 8970
	// FrameLen is the length of one binary frame.
	FrameLen = HeaderLen + MaxMessage
)

// lineFormatter is the default string formatter: auditd 3.0.9's plugin
// line "[node=N ]type=NAME msg=PAYLOAD\n". Unlike the log line it keeps a
// trailing space of the payload. It is read-only after newLineFormatter.
type lineFormatter struct {
	prefix *record.LinePrefix
}

func newLineFormatter(node string) *lineFormatter {
	return &lineFormatter{prefix: record.NewLinePrefix(node)}
}

// appendLine appends the record's line as auditd 3.0.9 sends it to a
// string plugin: the payload up to its first NUL ("%.*s"), every newline
// in it turned into a space, and one newline at the end.
func (f *lineFormatter) appendLine(dst []byte, typ uint16, payload []byte) []byte {
	return append(record.AppendPayload(f.prefix.Append(dst, typ), payload), '\n')
}

// appendFrame appends one binary frame as auditd 3.0.9 writes it: the
// header {ver, HeaderLen, typ, size} and MaxMessage bytes of data, of which
// the first size are the record's. With ver ProtocolVer the data is the raw
// payload; with ProtocolVer2 it is line, the formatted record line without
// its newline. Data longer than MaxMessage is cut (auditd would overrun its
// buffer).
func appendFrame(dst []byte, ver uint32, typ uint16, data []byte) []byte {
	if len(data) > MaxMessage {
		data = data[:MaxMessage]
	}
	start := len(dst)
	dst = append(dst, make([]byte, FrameLen)...) // zeroed; no allocation once dst has room
	frame := dst[start:]
	binary.NativeEndian.PutUint32(frame[0:], ver)
	binary.NativeEndian.PutUint32(frame[4:], HeaderLen)
	binary.NativeEndian.PutUint32(frame[8:], uint32(typ))
	binary.NativeEndian.PutUint32(frame[12:], uint32(len(data)))
	copy(frame[HeaderLen:], data)
	return dst
}

// DecodeHeader splits a binary frame's header into its fields. It is for
// readers of the binary format (tests, tools); ok is false when b is
// shorter than HeaderLen.
func DecodeHeader(b []byte) (ver, hlen, typ, size uint32, ok bool) {
	if len(b) < HeaderLen {
		return 0, 0, 0, 0, false
	}
	e := binary.NativeEndian
	return e.Uint32(b[0:]), e.Uint32(b[4:]), e.Uint32(b[8:]), e.Uint32(b[12:]), true
}

// encoder turns drained records into one plugin's wire bytes. Each
// plugin's feeder owns one; it is not safe for concurrent use.
type encoder struct {
	format  Format
	ver     uint32 // ProtocolVer without a node name, else ProtocolVer2
	line    func(dst []byte, typ uint16, payload []byte) []byte
	scratch []byte // the formatted line of a ProtocolVer2 frame
}

// appendRecord appends one record in the plugin's format.
func (e *encoder) appendRecord(dst []byte, typ uint16, payload []byte) []byte {
	if e.format == FormatString {
		return e.line(dst, typ, payload)
	}
	if e.ver == ProtocolVer {
		return appendFrame(dst, ProtocolVer, typ, payload)
	}
	e.scratch = e.line(e.scratch[:0], typ, payload)
	l := e.scratch
	if n := len(l); n > 0 && l[n-1] == '\n' {
		l = l[:n-1]
	}
	return appendFrame(dst, ProtocolVer2, typ, l)
}

// unread counts the records a plugin that died did not read completely:
// tail is what it left unread in its stdin, rest what was never written to
// it; together they are the end of the wire stream, starting at a record
// boundary or in the middle of a record.
func (e *encoder) unread(tail, rest []byte) uint64 {
	if e.format == FormatString {
		return uint64(bytes.Count(tail, []byte{'\n'}) + bytes.Count(rest, []byte{'\n'}))
	}
	return uint64((len(tail) + len(rest) + FrameLen - 1) / FrameLen)
}
