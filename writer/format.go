package writer

import (
	"bytes"
	"strconv"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// tableTypes is the size of the precomputed prefix table. Every type that
// go-libaudit names is below 3000; types above the table are formatted as
// UNKNOWN[n] on the fly, still without allocating.
const tableTypes = 4096

// formatter turns (type, payload) into one auditd log_format=RAW line. It
// is read-only after newFormatter, so it may be shared.
type formatter struct {
	node     []byte   // "node=<name> " or empty
	prefixes [][]byte // per type below tableTypes: node + "type=<NAME> msg="
	longest  int      // the longest prefix of any type
}

// newFormatter precomputes the line prefix of every type below tableTypes
// from go-libaudit's table (auparse.AuditMessageType.String, which gives
// UNKNOWN[n] for types it does not name, as auditd does).
func newFormatter(node string) *formatter {
	f := &formatter{prefixes: make([][]byte, tableTypes)}
	if node != "" {
		f.node = []byte("node=" + node + " ")
	}
	for t := range f.prefixes {
		name := auparse.AuditMessageType(uint16(t)).String()
		p := make([]byte, 0, len(f.node)+len("type= msg=")+len(name))
		p = append(p, f.node...)
		p = append(p, "type="...)
		p = append(p, name...)
		p = append(p, " msg="...)
		f.prefixes[t] = p
		f.longest = max(f.longest, len(p))
	}
	f.longest = max(f.longest, len(f.node)+len("type=UNKNOWN[65535] msg="))
	return f
}

// maxLenAny is an upper bound of the length appendLine adds for a payload
// of n bytes, whatever its type.
func (f *formatter) maxLenAny(n int) int { return f.longest + n + 2 }

// maxLen is an upper bound of the length appendLine adds for a payload of
// n bytes; appendEnriched adds the length of its suffix more.
func (f *formatter) maxLen(typ uint16, n int) int {
	if int(typ) < len(f.prefixes) {
		return len(f.prefixes[typ]) + n + 2
	}
	return len(f.node) + len("type=UNKNOWN[65535] msg=") + n + 2
}

// appendLine appends the record's line, newline included, exactly as
// auditd 3.0.9's format_raw + write_to_log produce it:
//
//	[node=<node> ]type=<NAME> msg=<payload>\n
//
// auditd prints the payload with %.*s (so it stops at the first NUL),
// appends "\n" inside the buffer when a node name is configured, replaces
// every '\n' in the buffer with ' ', drops one trailing ' ', and fprintf's
// the result followed by "\n". A trailing '\n' or NUL from the kernel thus
// disappears, and a record never spans two lines.
func (f *formatter) appendLine(dst []byte, typ uint16, payload []byte) []byte {
	return append(f.appendRecord(dst, typ, payload), '\n')
}

// appendEnriched appends the record's log_format = ENRICHED line, newline
// included: the RAW line's text (payload as for appendLine), then suffix,
// what an Enricher appended for the record (auditd's 0x1d separator and
// interpreted fields, or nothing), then '\n'.
func (f *formatter) appendEnriched(dst []byte, typ uint16, payload, suffix []byte) []byte {
	dst = f.appendRecord(dst, typ, payload)
	dst = append(dst, suffix...)
	return append(dst, '\n')
}

// appendRecord is appendLine without the newline.
func (f *formatter) appendRecord(dst []byte, typ uint16, payload []byte) []byte {
	if i := bytes.IndexByte(payload, 0); i >= 0 {
		payload = payload[:i]
	}
	if int(typ) < len(f.prefixes) {
		dst = append(dst, f.prefixes[typ]...)
	} else {
		dst = append(dst, f.node...)
		dst = append(dst, "type=UNKNOWN["...)
		dst = strconv.AppendUint(dst, uint64(typ), 10)
		dst = append(dst, "] msg="...)
	}
	start := len(dst)
	dst = append(dst, payload...)
	if len(f.node) > 0 {
		dst = append(dst, ' ') // auditd's in-buffer "\n", already turned into ' '
	}
	for p := dst[start:]; ; {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		p[i] = ' '
		p = p[i+1:]
	}
	if dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}
