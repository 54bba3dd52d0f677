package writer

import "github.com/auditdrain/auditdrain/internal/record"

// formatter turns (type, payload) into one auditd log_format=RAW line. It
// is read-only after newFormatter, so it may be shared.
type formatter struct {
	prefix *record.LinePrefix
}

func newFormatter(node string) *formatter {
	return &formatter{prefix: record.NewLinePrefix(node)}
}

// maxLenAny is an upper bound of the length appendLine adds for a payload
// of n bytes, whatever its type.
func (f *formatter) maxLenAny(n int) int { return f.prefix.Longest() + n + 2 }

// maxLen is an upper bound of the length appendLine adds for a payload of
// n bytes; appendEnriched adds the length of its suffix more.
func (f *formatter) maxLen(typ uint16, n int) int {
	return f.prefix.Len(typ) + n + 2
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

// appendRecord is appendLine without the newline. auditd drops one
// trailing ' ': without a node name that is the payload's own (or its
// trailing '\n'); with one, it is the "\n" auditd appended in the buffer,
// so the payload's own trailing space stays.
func (f *formatter) appendRecord(dst []byte, typ uint16, payload []byte) []byte {
	dst = record.AppendPayload(f.prefix.Append(dst, typ), payload)
	if !f.prefix.HasNode() && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}
