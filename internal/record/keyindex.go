package record

import "bytes"

// KeyIndex maps rule keys to small numbers and finds, in a record that
// carries an event key (see [CarriesEventKey]), the first of the event's
// rule keys that it knows. It is the one event-key matcher: the rate
// limiter picks a bucket with it and the overflow policy decides which
// events to keep with it, so both see the same keys:
//
//   - key="a": the rule's single key, as logged;
//   - key=61 (hex): a key with bytes outside 0x21..0x7e or a '"', decoded;
//   - key=610162 (hex of "a\x01b"): a rule with several keys (auditctl -k a
//     -k b), each of which matches.
//
// A KeyIndex is not safe for concurrent use (it decodes into its own
// scratch buffer); give each goroutine its own. Lookup does not allocate.
type KeyIndex struct {
	byKey   map[string]int
	scratch [MaxKeyLen]byte
}

// MaxKeyLen is the kernel's limit on a rule's filter key (AUDIT_MAX_KEY_LEN).
const MaxKeyLen = 256

// NewKeyIndex returns an index in which keys[i] has the number i+1. A key
// given twice keeps its first number.
func NewKeyIndex(keys []string) *KeyIndex {
	x := &KeyIndex{byKey: make(map[string]int, len(keys))}
	for i, k := range keys {
		if _, dup := x.byKey[k]; !dup {
			x.byKey[k] = i + 1
		}
	}
	return x
}

// Len returns the number of distinct keys in the index.
func (x *KeyIndex) Len() int { return len(x.byKey) }

// Lookup returns the number of the first key of the record's event found in
// the index, or 0 when the record carries no event key (its type does not,
// key=(null), no key= field, malformed hex) or none of its keys is known.
// The payload is only read during the call.
func (x *KeyIndex) Lookup(typ uint16, payload []byte) int {
	if len(x.byKey) == 0 || !CarriesEventKey(typ) {
		return 0
	}
	val, quoted, ok := KeyField(payload)
	if !ok {
		return 0
	}
	if quoted {
		return x.byKey[string(val)] // no allocation: the compiler does not copy
	}
	if len(val) > 2*len(x.scratch) {
		return 0
	}
	dec, ok := AppendUnhex(x.scratch[:0], val)
	if !ok {
		return 0
	}
	for len(dec) > 0 {
		k := dec
		if i := bytes.IndexByte(dec, KeySeparator); i >= 0 {
			k, dec = dec[:i], dec[i+1:]
		} else {
			dec = nil
		}
		if n := x.byKey[string(k)]; n != 0 {
			return n
		}
	}
	return 0
}
