package reader

import (
	"encoding/binary"
	"testing"
)

// dgram builds a datagram as the kernel sends it: records carry an
// nlmsg_len that excludes the header.
func dgram(typ uint16, seq uint32, payload []byte, nlmsgLen uint32) []byte {
	b := make([]byte, headerLen+len(payload))
	binary.NativeEndian.PutUint32(b[0:], nlmsgLen)
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint32(b[8:], seq)
	copy(b[headerLen:], payload)
	return b
}

func errPayload(errno int32) []byte {
	p := make([]byte, 4+headerLen)
	binary.NativeEndian.PutUint32(p, uint32(errno))
	return p
}

func TestParse(t *testing.T) {
	rec := []byte("audit(1795636980.303:3): arch=c000003e syscall=44")
	f := func(name string, b []byte, wantKind kind, wantType uint16, wantPayload string, wantErrno int32) {
		t.Helper()
		k, d := parse(b)
		if k != wantKind || d.Type != wantType || string(d.Payload) != wantPayload || d.Errno != wantErrno {
			t.Fatalf("%s: parse = %v %+v, want kind %v type %d payload %q errno %d", name, k, d, wantKind, wantType, wantPayload, wantErrno)
		}
	}
	f("record, quirky length", dgram(1300, 0, rec, uint32(len(rec))), kindRecord, 1300, string(rec), 0)
	f("record, true length", dgram(1300, 0, rec, uint32(headerLen+len(rec))), kindRecord, 1300, string(rec), 0)
	f("record with trailing NULs", dgram(1327, 0, append(append([]byte{}, rec...), 0, 0), 0), kindRecord, 1327, string(rec), 0)
	f("EOE, empty body", dgram(1320, 0, []byte("audit(1.2:3): "), 0), kindRecord, 1320, "audit(1.2:3): ", 0)
	f("USER is a record despite its low number", dgram(1005, 0, []byte("x"), 0), kindRecord, 1005, "x", 0)
	f("LOGIN too", dgram(1006, 0, []byte("y"), 0), kindRecord, 1006, "y", 0)
	f("ack", dgram(typeError, 7, errPayload(0), 36), kindAck, typeError, "", 0)
	f("EEXIST", dgram(typeError, 7, errPayload(-17), 36), kindError, typeError, "", 17)
	f("short error", dgram(typeError, 7, []byte{1}, 17), kindInvalid, typeError, "", 0)
	f("replace", dgram(typeReplace, 0, []byte{1, 2, 3, 4}, 0), kindReplace, typeReplace, "\x01\x02\x03\x04", 0)
	f("done", dgram(typeDone, 0, nil, 16), kindControl, typeDone, "", 0)
	f("too short", []byte{1, 2, 3}, kindInvalid, 0, "", 0)
}

func FuzzParse(f *testing.F) {
	f.Add(dgram(1300, 0, []byte("audit(1.2:3): a=b"), 0))
	f.Add(dgram(typeError, 1, errPayload(-17), 36))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, d := parse(b)
		if len(b) < headerLen && k != kindInvalid {
			t.Fatalf("short datagram classified %v", k)
		}
		if len(d.Payload) > len(b) {
			t.Fatalf("payload longer than datagram")
		}
		if k == kindRecord && len(d.Payload) > 0 && d.Payload[len(d.Payload)-1] == 0 {
			t.Fatalf("record payload keeps a trailing NUL")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	d := dgram(1300, 0, []byte("audit(1795636980.303:3): arch=c000003e syscall=44 success=yes exit=1064 a0=5"), 0)
	b.ReportAllocs()
	for b.Loop() {
		parse(d)
	}
}
