package jsonevent

import (
	"sort"
	"unicode/utf8"
)

// jw appends JSON to b, placing the commas: key and the value methods write
// one before them when a value precedes them at the same level.
type jw struct {
	b    []byte
	need bool // a value was written at this level: the next needs a comma
}

func (w *jw) sep() {
	if w.need {
		w.b = append(w.b, ',')
	}
}

func (w *jw) key(k string) {
	w.sep()
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
	w.need = false
}

func (w *jw) begin(c byte) {
	w.sep()
	w.b = append(w.b, c)
	w.need = false
}

func (w *jw) end(c byte) {
	w.b = append(w.b, c)
	w.need = true
}

func (w *jw) str(s string) {
	w.sep()
	w.b = appendString(w.b, s)
	w.need = true
}

func (w *jw) bytesStr(s []byte) {
	w.sep()
	w.b = appendString(w.b, string(s)) // no copy: the conversion does not escape
	w.need = true
}

// raw appends a literal JSON value (a number the caller has checked).
func (w *jw) raw(v string) {
	w.sep()
	w.b = append(w.b, v...)
	w.need = true
}

// kv writes "k":"v" when v is not empty.
func (w *jw) kv(k, v string) {
	if v != "" {
		w.key(k)
		w.str(v)
	}
}

// kvNum writes "k":v as a JSON number when v is a decimal integer, as a
// string otherwise, and nothing when v is empty.
func (w *jw) kvNum(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	if isDecimal(v) {
		w.raw(v)
	} else {
		w.str(v)
	}
}

func (w *jw) strs(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	w.key(k)
	w.begin('[')
	for _, v := range vs {
		w.str(v)
	}
	w.end(']')
}

// strMap writes a map with its keys sorted, nothing when it is empty.
func (w *jw) strMap(k string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	w.key(k)
	w.begin('{')
	w.mapBody(m)
	w.end('}')
}

func (w *jw) mapBody(m map[string]string) {
	for _, k := range sortedKeys(m) {
		w.key(k)
		w.str(m[k])
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isDecimal reports whether s is an optionally negative decimal integer
// without leading zeros and short enough to be exact in a float64 (what
// most JSON readers turn numbers into).
func isDecimal(s string) bool {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || (d[0] == '0' && len(d) > 1) {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters, '"' and '\'
// are escaped, and so are U+2028 and U+2029 (for JavaScript readers); each
// byte of s that is not part of valid UTF-8 becomes U+FFFD, as encoding/json
// writes it, so the output is always valid JSON.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
