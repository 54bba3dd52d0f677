package record

import (
	"bytes"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, r := range loadRecords(f)[:200] {
		f.Add(r.Payload)
	}
	for _, s := range []string{
		``, `"`, ` key=`, ` key="`, ` key=""`, ` key=(null)`, `key="x"`,
		`audit(1.000:1): key="a" key="b"`, `audit(1.000:1): key=" key="`,
		`audit(1.000:1): key="a b"`, `audit(1.000:1): x key=" key=y"`,
		`audit(1.000:1): key=6101 list=4`, `audit(9223372036854775807.999:18446744073709551615):`,
		`audit(9223372036854775808.000:1):`, `audit(1.000:18446744073709551616):`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzKey checks KeyField (with its fast paths from the end) against a plain
// reading of the rule it documents: the value after the last " key=".
func FuzzKey(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		orig := bytes.Clone(p)
		v, quoted, ok := KeyField(p)
		rv, rquoted, rok := refKeyField(p)
		if !bytes.Equal(v, rv) || quoted != rquoted || ok != rok {
			t.Fatalf("KeyField(%q) = %q, %v, %v; reference %q, %v, %v", p, v, quoted, ok, rv, rquoted, rok)
		}
		if ok && !aliases(p, v) {
			t.Fatalf("KeyField(%q) = %q does not alias its input", p, v)
		}
		if !ok && v != nil {
			t.Fatalf("KeyField(%q) = %q with ok false", p, v)
		}
		if k, kok := Key(p); !bytes.Equal(k, v) || kok != ok {
			t.Fatalf("Key(%q) = %q, %v; KeyField %q, %v", p, k, kok, v, ok)
		}
		if !bytes.Equal(p, orig) {
			t.Fatalf("KeyField modified its input: %q -> %q", orig, p)
		}
		if ok && !quoted {
			dec, dok := AppendUnhex(nil, v)
			if dok && len(dec) != len(v)/2 {
				t.Fatalf("AppendUnhex(%q) = %d bytes", v, len(dec))
			}
		}
	})
}

// FuzzHeader checks Header against a parse built on strings and strconv.
func FuzzHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		sec, ms, serial, ok := Header(p)
		rs, rms, rserial, rok := refHeader(string(p))
		if sec != rs || ms != rms || serial != rserial || ok != rok {
			t.Fatalf("Header(%q) = %d, %d, %d, %v; reference %d, %d, %d, %v", p, sec, ms, serial, ok, rs, rms, rserial, rok)
		}
		if ok && (sec < 0 || ms < 0 || ms > 999) {
			t.Fatalf("Header(%q) = %d, %d out of range", p, sec, ms)
		}
	})
}

// refKeyField is the documented rule, read literally.
func refKeyField(p []byte) (val []byte, quoted, ok bool) {
	at := bytes.LastIndex(p, []byte(" key="))
	if at < 0 {
		return nil, false, false
	}
	v := p[at+len(" key="):]
	if rest, found := bytes.CutPrefix(v, []byte(`"`)); found {
		inner, _, closed := bytes.Cut(rest, []byte(`"`))
		if !closed {
			return nil, false, false
		}
		return inner, true, true
	}
	v, _, _ = bytes.Cut(v, []byte(" "))
	if len(v) == 0 || string(v) == "(null)" {
		return nil, false, false
	}
	return v, false, true
}
