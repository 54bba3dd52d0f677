package enrich

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
	"unsafe"

	"github.com/elastic/go-libaudit/v2/auparse"
	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Separator is the byte auditd writes between a record and its interpreted
// fields (AUDIT_INTERP_SEPARATOR, ASCII GS).
const Separator = 0x1d

// auditd's buffer arithmetic (src/auditd-event.c): the formatted line lives
// in a buffer of MAX_AUDIT_MESSAGE_LENGTH + _POSIX_HOST_NAME_MAX bytes, and
// no field is added once MIN_SPACE_LEFT bytes or fewer remain.
const (
	formatBufLen = 8970 + 255
	minSpaceLeft = 24
)

// Options configures New. The zero value reads the host's /etc/passwd and
// /etc/group and takes the host's machine from uname(2).
type Options struct {
	// Passwd and Group are the files names come from, in passwd(5) and
	// group(5) format (default /etc/passwd and /etc/group).
	Passwd, Group string
	// Machine is the uname(2) machine ("x86_64") whose syscall table names
	// the syscall of a record that carries no arch= where auparse looks for
	// one (auditd uses its own host's); default: this host's.
	Machine string
	// Node is the node name auditd prefixes to each line when name_format
	// is not NONE ("" for none). It only changes how much room auditd
	// leaves for interpreted fields on very long records.
	Node string
	// CheckEvery is how often, at most, the name files are looked at for
	// changes (default 1 s).
	CheckEvery time.Duration
	// Now is the clock used to pace those looks (default time.Now).
	Now func() time.Time
}

// Enricher appends auditd's interpreted fields to records. It keeps caches
// and scratch buffers, so it must be used from one goroutine at a time;
// give each goroutine its own.
type Enricher struct {
	users, groups *idNames
	machine       int // this host's, for records without a usable arch
	nodeLen       int // len("node=<Node> ") or 0
	now           func() time.Time
	force         bool // look at the name files at the next lookup, whatever the pace

	fields  []field // the record's interpreted fields, reused
	p       []byte  // the payload they index
	scratch []byte  // one interpreted value, reused
	sa      []byte  // a decoded socket address, reused
	nl      []byte  // a payload with '\n' turned into ' ', reused
	nowSet  bool    // now was read during this Append
	nowVal  time.Time
	interp  []interpEntry // interpretations following a Separator in the payload
	lower   []byte        // their lower-cased names, reused
}

// interpEntry is one NAME=value found after a Separator inside a payload;
// auparse trusts it over its own interpretation of the field name.
type interpEntry struct {
	name, val []byte
}

// field is one field auditd interprets, by offsets into the payload (so
// that recording it writes no pointer).
type field struct {
	ns, ne, vs, ve int32 // name and value: p[ns:ne], p[vs:ve] of the parsed payload
	name           uint8 // index in names
	kind           kind
}

// recInfo is what auparse gathers by position while splitting a record
// (parse_up_record): the machine from arch=, the syscall number and a0.
type recInfo struct {
	machine int   // -1 unset, -2 unparsable
	syscall int64 // an int in C: -1 unset
	a0      uint64
}

// New returns an Enricher. The name files are read at the first record that
// needs them, not here; a file that cannot be read leaves every id of its
// kind unnamed (unknown(N)) until it can.
func New(opts Options) *Enricher {
	if opts.Passwd == "" {
		opts.Passwd = "/etc/passwd"
	}
	if opts.Group == "" {
		opts.Group = "/etc/group"
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Machine == "" {
		var u unix.Utsname
		if unix.Uname(&u) == nil {
			opts.Machine = unix.ByteSliceToString(u.Machine[:])
		}
	}
	e := &Enricher{
		users:   newIDNames(opts.Passwd, opts.CheckEvery),
		groups:  newIDNames(opts.Group, opts.CheckEvery),
		machine: machineByName(opts.Machine),
		now:     opts.Now,
		fields:  make([]field, 0, 32),
		scratch: make([]byte, 0, 256),
		sa:      make([]byte, 0, 512),
	}
	if opts.Node != "" {
		e.nodeLen = len("node=") + len(opts.Node) + 1
	}
	return e
}

// Append appends to dst what auditd 3.0.9 with log_format = ENRICHED writes
// after the RAW text of the record (typ, payload) and before the newline:
// nothing, or the Separator followed by the interpreted fields separated by
// spaces. See the package documentation for the format.
func (e *Enricher) Append(dst []byte, typ uint16, payload []byte) []byte {
	switch typ {
	case typeEOE:
		return dst // auparse drops a lone EOE: no event, no fields
	case typeProctitle, typeCWD, typeExecve, typeBprmFcaps:
		// Kernel-only records whose fields auditd never interprets
		// (proctitle=, cwd=, argc= and escaped arguments, capability
		// sets): skipped without parsing.
		return dst
	}
	if _, _, _, ok := record.Header(payload); !ok {
		return dst // auparse cannot place the line in an event
	}
	if typ == typeAddUser || typ == typeAddGroup {
		e.force = true // auditd flushes its name caches before these
	}
	e.nowSet = false
	e.interp = e.interp[:0]
	rec, ok, ctl := e.parse(typ, payload)
	switch {
	case ctl:
		dst = e.appendControl(dst, typ, payload)
	case ok:
		if left := formatBufLen - e.lineLen(typ, payload); left > minSpaceLeft {
			dst = e.emit(dst, rec, left)
		}
	}
	switch typ {
	case typeUserMgmt, typeDelUser, typeDelGroup, typeGrpMgmt:
		e.force = true // and after these
	}
	return dst
}

// appendControl is Append for a payload holding a control byte, which parse
// reports instead of handling: the payload ends at a NUL, a '\n' is a
// space, and a Separator (which only a user space message can carry) ends
// the record for auparse, which reads what follows it as interpretations
// (load_interpretation_list).
func (e *Enricher) appendControl(dst []byte, typ uint16, payload []byte) []byte {
	if i := bytes.IndexByte(payload, 0); i >= 0 {
		payload = payload[:i]
	}
	if _, _, _, ok := record.Header(payload); !ok {
		return dst
	}
	left := formatBufLen - e.lineLen(typ, payload)
	if left <= minSpaceLeft {
		return dst
	}
	if bytes.IndexByte(payload, '\n') >= 0 {
		e.nl = append(e.nl[:0], payload...)
		for i, c := range e.nl {
			if c == '\n' {
				e.nl[i] = ' '
			}
		}
		payload = e.nl
	}
	if i := bytes.IndexByte(payload, Separator); i >= 0 {
		e.loadInterp(payload[i+1:])
		payload = payload[:i]
	}
	if rec, ok, _ := e.parse(typ, payload); ok {
		dst = e.emit(dst, rec, left)
	}
	return dst
}

// loadInterp is load_interpretation_list: "SADDR=...{...}..." gives one
// saddr interpretation (from the '{' to the end); anything else is split on
// spaces into NAME=value pairs, the names lower-cased.
func (e *Enricher) loadInterp(tail []byte) {
	e.lower = append(e.lower[:0], tail...)
	buf := e.lower
	if bytes.HasPrefix(buf, []byte("SADDR=")) {
		open := bytes.IndexByte(buf[6:], '{')
		if open >= 0 && bytes.IndexByte(buf[6+open:], '}') >= 0 {
			e.interp = append(e.interp, interpEntry{name: []byte("saddr"), val: buf[6+open:]})
		}
		return
	}
	t := tokenizer{p: buf}
	for {
		tok, more := t.next()
		if !more {
			return
		}
		eq := bytes.IndexByte(tok, '=')
		if eq < 0 {
			continue
		}
		for i, c := range tok[:eq] {
			if c >= 'A' && c <= 'Z' {
				tok[i] = c + 'a' - 'A'
			}
		}
		e.interp = append(e.interp, interpEntry{name: tok[:eq], val: tok[eq+1:]})
	}
}

// typePrefixLen[t] is len("type=<NAME> msg=") for types below 4096.
var typePrefixLen = func() []uint16 {
	t := make([]uint16, 4096)
	for i := range t {
		t[i] = uint16(len("type= msg=") + len(auparse.AuditMessageType(uint16(i)).String()))
	}
	return t
}()

// lineLen is the length of the RAW line auditd formats for the record,
// without the newline (see writer: a trailing space is dropped).
func (e *Enricher) lineLen(typ uint16, payload []byte) int {
	var n int
	if int(typ) < len(typePrefixLen) {
		n = int(typePrefixLen[typ])
	} else {
		n = len("type=UNKNOWN[] msg=") + decimalLen(uint64(typ))
	}
	n += e.nodeLen + len(payload)
	if e.nodeLen == 0 && len(payload) > 0 && (payload[len(payload)-1] == ' ' || payload[len(payload)-1] == '\n') {
		n--
	}
	return n
}

func decimalLen(v uint64) int {
	n := 1
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

// parse splits the payload into fields as auparse's parse_up_record does,
// keeping the ones auditd interprets, and gathers the positional values.
// ok is false when auparse would reject the record (then auditd appends
// nothing); ctl reports a byte below 0x20 in the payload (see
// appendControl), in which case the rest of the result is not to be used.
func (e *Enricher) parse(typ uint16, p []byte) (rec recInfo, ok, ctl bool) {
	rec = recInfo{machine: -1, syscall: -1}
	e.fields = e.fields[:0]
	e.p = p
	cnt := 1 // fields so far: "type" is the first
	avc := typ == typeAVC || typ == typeUserAVC
	t := tokenizer{p: p}
	t.next() // "audit(...):", which follows "msg=" in the line: dropped
	i := t.i
	for {
		// The next token and its first '=', as t.nextEq does, inlined:
		// this loop is most of Append's cost.
		for i < len(p) && p[i] == ' ' {
			i++
		}
		if i >= len(p) {
			break
		}
		start, eq := i, -1
		for ; i < len(p); i++ {
			c := p[i]
			if c == ' ' {
				break
			}
			if c < 0x20 {
				t.ctl = true
			} else if c == '=' {
				eq = i - start
				t.i = i + 1
				i = t.spaceFrom(i + 1)
				break
			}
		}
		tok := p[start:i]
		if eq < 0 {
			if !avc {
				continue
			}
			// SELinux AVC text: "avc:  denied  { read write } for ..."
			switch cnt {
			case 1:
				if bytes.HasPrefix(tok, []byte("avc")) {
					continue
				}
				cnt++ // seresult
			case 2:
				if tok[0] != '{' {
					cnt++ // a field without a name
					continue
				}
				total, any := 0, false
				t.i = i
				for {
					perm, more := t.next()
					if !more || perm[0] == '}' {
						break
					}
					if len(perm)+1 >= 256-total {
						return rec, false, t.ctl // auparse gives up on the record
					}
					if any {
						total++
					}
					total += len(perm)
					any = true
				}
				i = t.i
				cnt++ // seperms
			}
			continue
		}
		name, val := tok[:eq], tok[eq+1:]
		if eq == 3 && string(name) == "msg" && len(val) > 0 {
			switch val[0] {
			case 'a':
				continue // msg=audit(...)
			case '\'':
				rest := val[1:]
				eq = bytes.IndexByte(rest, '=')
				if eq < 0 {
					continue
				}
				name, val = rest[:eq], rest[eq+1:]
			}
		}
		if len(name) > 0 && name[0] == '(' {
			name = name[1:]
		}
		if len(val) == 0 {
			continue
		}
		if len(name) == 3 && string(name) == "key" {
			cnt += keyFields(trimValue(val))
			continue
		}
		cnt++
		n := fieldIndex(typ, name)
		k := names[n].kind
		if k == kindNone && cnt != 6 && (cnt > 3 || cnt < 2) && cnt != 11 {
			continue // the common case: a field nobody looks at
		}
		val = trimValue(val)
		switch {
		case (cnt == 2 || cnt == 11) && k == kindArch:
			if v, erange := strtoul(val, 16); erange {
				rec.machine = -2
			} else {
				rec.machine = elfToMachine(uint32(v))
			}
		case (cnt == 3 || cnt == 12) && k == kindSyscall:
			if v, erange := strtoul(val, 10); erange {
				rec.syscall = -1
			} else {
				rec.syscall = int64(int32(v))
			}
		case cnt == 6 && string(name) == "a0":
			if v, erange := strtoul(val, 16); erange {
				rec.a0 = ^uint64(0)
			} else {
				rec.a0 = v
			}
		}
		if k != kindNone {
			e.fields = append(e.fields, field{
				ns: int32(offset(p, name)), ne: int32(offset(p, name) + len(name)),
				vs: int32(offset(p, val)), ve: int32(offset(p, val) + len(val)),
				name: n, kind: k,
			})
		}
	}
	return rec, true, t.ctl
}

// offset is the index in p at which sub, a subslice of p, starts.
func offset(p, sub []byte) int {
	if len(sub) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(&sub[0])) - uintptr(unsafe.Pointer(&p[0])))
}

// tokenizer splits on spaces, skipping runs of them (audit_strsplit_r).
type tokenizer struct {
	p   []byte
	i   int
	ctl bool // a byte below 0x20 was seen
}

func (t *tokenizer) next() ([]byte, bool) {
	tok, _, more := t.nextEq()
	return tok, more
}

// nextEq is next, also giving the index of the token's first '=' (-1 if
// none). Names are short, so the '=' is looked for byte by byte; the rest
// of the token is scanned eight bytes at a time.
func (t *tokenizer) nextEq() (tok []byte, eq int, more bool) {
	p, i := t.p, t.i
	for i < len(p) && p[i] == ' ' {
		i++
	}
	if i >= len(p) {
		t.i = i
		return nil, -1, false
	}
	start := i
	eq = -1
	for ; i < len(p); i++ {
		c := p[i]
		if c == ' ' {
			t.i = i
			return p[start:i], -1, true
		}
		if c < 0x20 {
			t.ctl = true
		} else if c == '=' {
			eq = i - start
			break
		}
	}
	if eq < 0 {
		t.i = len(p)
		return p[start:], -1, true
	}
	i = t.spaceFrom(i + 1)
	t.i = i
	return p[start:i], eq, true
}

// spaceFrom returns the index of the first ' ' in t.p at or after i, or
// len(t.p), noting any byte below 0x20 before it. Words of eight bytes are
// tested at once: for the zero-byte test (x-0x01..)&^x&0x80.., and its
// "below n" form, the lowest flagged byte is exact.
func (t *tokenizer) spaceFrom(i int) int {
	const ones, highs, spaces = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020
	p := t.p
	for ; i+8 <= len(p); i += 8 {
		w := binary.LittleEndian.Uint64(p[i:])
		x := w ^ spaces
		sp := (x - ones) &^ x & highs
		low := (w - spaces) &^ w & highs // bytes below 0x20
		if sp|low == 0 {
			continue
		}
		if sp != 0 && (low == 0 || bits.TrailingZeros64(sp) < bits.TrailingZeros64(low)) {
			return i + bits.TrailingZeros64(sp)/8
		}
		t.ctl = true
		break
	}
	for ; i < len(p); i++ {
		if c := p[i]; c == ' ' {
			return i
		} else if c < 0x20 {
			t.ctl = true
		}
	}
	return len(p)
}

// trimValue drops the trailing punctuation auparse drops, in its order:
// ':', ',', '\”, and ')' unless the value is "(none)" or "(null)".
func trimValue(v []byte) []byte {
	for _, c := range [...]byte{':', ',', '\''} {
		if len(v) > 0 && v[len(v)-1] == c {
			v = v[:len(v)-1]
		}
	}
	if len(v) > 0 && v[len(v)-1] == ')' && string(v) != "(none)" && string(v) != "(null)" {
		v = v[:len(v)-1]
	}
	return v
}

// keyFields is how many fields auparse makes of a key= value: one for a
// quoted key, "(null)" or an undecodable value, else one per key of a
// hex-encoded multi-key (split on 0x01, up to the first NUL).
func keyFields(val []byte) int {
	if len(val) == 0 || val[0] == '(' || val[0] == '"' {
		return 1
	}
	n := 0
	for n < len(val) && isHex(val[n]) {
		n++
	}
	if n < 2 {
		return 1
	}
	keys, in := 0, false
	for i := 0; i < n; i += 2 {
		lo := byte(0)
		if i+1 < n {
			lo = hexVal(val[i+1])
		}
		c := hexVal(val[i])<<4 | lo
		if c == 0 {
			break
		}
		if c == 0x01 {
			in = false
		} else if !in {
			in = true
			keys++
		}
	}
	return keys
}

// emit appends the separator and the interpreted fields, within the room
// auditd's buffer leaves (left), as format_enrich and add_simple_field do.
func (e *Enricher) emit(dst []byte, rec recInfo, left int) []byte {
	seps := 0
	for i := range e.fields {
		f := &e.fields[i]
		if left <= minSpaceLeft {
			break
		}
		if seps == 0 {
			dst = append(dst, Separator)
			left--
		}
		seps++
		v := e.value(e.scratch[:0], f, rec)
		e.scratch = v
		upper := names[f.name].upper
		nlen := len(upper) - 1 // the names auditd interprets are all short
		encode := f.kind == kindUID || f.kind == kindGID
		hex := encode && needsEncoding(v)
		var text int // length of NAME=value as written
		switch {
		case hex:
			text = nlen + 1 + 2*len(v)
		case encode:
			text = nlen + 1 + len(v) + 2
		default:
			text = nlen + 1 + len(v)
		}
		if 1+text+1 >= left {
			continue // auditd skips a field that does not fit, without truncating
		}
		if seps > 1 {
			dst = append(dst, ' ')
			left--
		}
		dst = append(dst, upper...)
		switch {
		case hex:
			for _, c := range v {
				dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
			}
		case encode:
			dst = append(dst, '"')
			dst = append(dst, v...)
			dst = append(dst, '"')
		default:
			dst = append(dst, v...)
		}
		left -= text
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

// needsEncoding is audit_value_needs_encoding on a signed char: a quote, a
// control character, a space, DEL or any byte above 0x7f.
func needsEncoding(v []byte) bool {
	for _, c := range v {
		if c == '"' || c < 0x21 || c >= 0x7f {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// digitVal is c's value as a digit of base 10 or 16, or 16 if it is not one.
func digitVal(c byte, base uint64) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case base == 16 && c|0x20 >= 'a' && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10
	}
	return 16
}

// strtoul is C's strtoul (glibc, 64-bit unsigned long) for bases 10 and
// 16: leading white space, an optional sign (a '-' negates modulo 2^64), an
// optional 0x in base 16, then digits up to the first non-digit; no digits
// gives 0. erange is set, and the value is all ones, on overflow.
func strtoul(s []byte, base uint64) (v uint64, erange bool) {
	// Fast path: up to 15 digits (no overflow), no space, sign or 0x.
	if n := len(s); n > 0 && n <= 15 && digitVal(s[0], base) < base &&
		!(base == 16 && n > 1 && s[0] == '0' && s[1]|0x20 == 'x') {
		for _, c := range s {
			d := digitVal(c, base)
			if d >= base {
				break
			}
			v = v*base + d
		}
		return v, false
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && isHex(s[i+2]) {
		i += 2
	}
digits:
	for ; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && isHex(c):
			d = uint64(hexVal(c))
		default:
			break digits
		}
		hi, lo := bits.Mul64(v, base)
		sum, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			erange = true
		}
		v = sum
	}
	if erange {
		return ^uint64(0), true
	}
	if neg {
		v = -v
	}
	return v, false
}
