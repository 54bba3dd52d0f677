package record

import "bytes"

// KeySeparator joins the keys of a rule that has several (auditctl -k a -k b)
// into one kernel filter key (AUDIT_KEY_SEPARATOR in libaudit). Such a key is
// always logged hex-encoded; split it after [AppendUnhex].
const KeySeparator = 0x01

// keyField is what the kernel's audit_log_key writes before the value.
const keyField = " key="

// Key returns the value of the record's key= field as the kernel logged it:
// the text between the quotes for a quoted value, the hex digits for a
// hex-encoded one (see [KeyField] to tell them apart). It returns nil, false
// for key=(null), for an empty unquoted value, for an unterminated quoted value
// and when the payload has no key= field. The result aliases p.
//
// When " key=" occurs more than once, the last occurrence is the field. A
// quoted key or (null) at the end, as in SYSCALL and URINGOP records, is found
// from the end in a few byte comparisons; otherwise (hex keys, CONFIG_CHANGE,
// records without a key) it costs one vectorised forward scan for "key=".
func Key(p []byte) (key []byte, ok bool) {
	key, _, ok = KeyField(p)
	return key, ok
}

// KeyField is [Key] that also reports whether the value was quoted. An
// unquoted value is hex-encoded by the kernel (a key with a byte outside
// 0x21..0x7e or a '"', which includes every multi-key value); decode it with
// [AppendUnhex]. The result aliases p.
func KeyField(p []byte) (val []byte, quoted, ok bool) {
	n := len(p)
	if n > 0 && p[n-1] == '"' {
		// SYSCALL or URINGOP with a quoted key: key="...". A quoted value
		// holds no '"' and no space, so the previous quote opens it.
		if j := bytes.LastIndexByte(p[:n-1], '"'); j >= len(keyField) && string(p[j-len(keyField):j]) == keyField {
			if v := p[j+1 : n-1]; bytes.IndexByte(v, ' ') < 0 {
				return v, true, true
			}
		}
	} else if bytes.HasSuffix(p, []byte(" key=(null)")) {
		// SYSCALL or URINGOP of a rule without a key.
		return nil, false, false
	}
	return lastKeyField(p)
}

// lastKeyField finds the last " key=" with forward scans for "key=", which
// are vectorised (a space is too common a first byte to scan for), and
// parses the value after it.
func lastKeyField(p []byte) (val []byte, quoted, ok bool) {
	word := [4]byte{'k', 'e', 'y', '='}
	at := -1
	for off := 1; off < len(p); {
		k := bytes.Index(p[off:], word[:])
		if k < 0 {
			break
		}
		if p[off+k-1] == ' ' {
			at = off + k - 1
		}
		off += k + 1
	}
	if at < 0 {
		return nil, false, false
	}
	v := p[at+len(keyField):]
	if len(v) > 0 && v[0] == '"' {
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 {
			return nil, false, false
		}
		return v[1 : 1+end], true, true
	}
	if end := bytes.IndexByte(v, ' '); end >= 0 {
		v = v[:end]
	}
	if len(v) == 0 || string(v) == "(null)" {
		return nil, false, false
	}
	return v, false, true
}

// AppendUnhex appends the bytes encoded by the hex digits in src (either case,
// as the kernel's audit_log_n_hex writes them) to dst and returns the extended
// slice. It returns dst unchanged and false when src has an odd length or a
// byte that is not a hex digit. It allocates only when dst lacks the capacity.
func AppendUnhex(dst, src []byte) ([]byte, bool) {
	if len(src)%2 != 0 {
		return dst, false
	}
	n := len(dst)
	for i := 0; i < len(src); i += 2 {
		hi, ok1 := unhex(src[i])
		lo, ok2 := unhex(src[i+1])
		if !ok1 || !ok2 {
			return dst[:n], false
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
