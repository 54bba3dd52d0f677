package record

import (
	"bytes"
	"strconv"
)

// prefixTable is the size of LinePrefix's precomputed table. Every type
// go-libaudit names is below 3000; types above the table are formatted as
// UNKNOWN[n] on the fly, still without allocating.
const prefixTable = 4096

// LinePrefix is the start of an auditd record line, "[node=N ]type=NAME
// msg=", precomputed for every record type below 4096 from go-libaudit's
// names (UNKNOWN[n] for a type it does not name, as auditd writes it). The
// log writer and the plugin dispatcher both build their lines on it. It is
// read-only after NewLinePrefix, so it may be shared.
type LinePrefix struct {
	node     []byte   // "node=<name> " or empty
	prefixes [][]byte // node + "type=<NAME> msg=" per type below prefixTable
	longest  int
}

// NewLinePrefix precomputes the prefixes for node ("" for none).
func NewLinePrefix(node string) *LinePrefix {
	l := &LinePrefix{prefixes: make([][]byte, prefixTable)}
	if node != "" {
		l.node = []byte("node=" + node + " ")
	}
	for t := range l.prefixes {
		name := TypeName(uint16(t))
		p := make([]byte, 0, len(l.node)+len("type= msg=")+len(name))
		p = append(p, l.node...)
		p = append(p, "type="...)
		p = append(p, name...)
		p = append(p, " msg="...)
		l.prefixes[t] = p
		l.longest = max(l.longest, len(p))
	}
	l.longest = max(l.longest, len(l.node)+len("type=UNKNOWN[65535] msg="))
	return l
}

// HasNode reports whether lines carry a node= field.
func (l *LinePrefix) HasNode() bool { return len(l.node) > 0 }

// Len returns the length of typ's prefix (an upper bound for types above
// the table).
func (l *LinePrefix) Len(typ uint16) int {
	if int(typ) < len(l.prefixes) {
		return len(l.prefixes[typ])
	}
	return len(l.node) + len("type=UNKNOWN[65535] msg=")
}

// Longest returns the length of the longest prefix of any type.
func (l *LinePrefix) Longest() int { return l.longest }

// Append appends typ's prefix to dst. It does not allocate when dst has
// room.
func (l *LinePrefix) Append(dst []byte, typ uint16) []byte {
	if int(typ) < len(l.prefixes) {
		return append(dst, l.prefixes[typ]...)
	}
	dst = append(dst, l.node...)
	dst = append(dst, "type=UNKNOWN["...)
	dst = strconv.AppendUint(dst, uint64(typ), 10)
	return append(dst, "] msg="...)
}

// AppendPayload appends a kernel payload as auditd prints it into a line:
// up to its first NUL (auditd's "%.*s"), with every '\n' turned into ' ',
// so a record never spans two lines.
func AppendPayload(dst, payload []byte) []byte {
	if i := bytes.IndexByte(payload, 0); i >= 0 {
		payload = payload[:i]
	}
	start := len(dst)
	dst = append(dst, payload...)
	for p := dst[start:]; ; {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		p[i] = ' '
		p = p[i+1:]
	}
	return dst
}
