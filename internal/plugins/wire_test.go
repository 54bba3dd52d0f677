package plugins

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

func TestLine(t *testing.T) {
	payload := []byte("audit(1796200000.123:7): a=b\nc=d\n\x00junk after NUL")
	for _, tc := range []struct {
		node string
		typ  uint16
		want string
	}{
		{"", 1300, "type=SYSCALL msg=audit(1796200000.123:7): a=b c=d \n"},
		{"h1", 1302, "node=h1 type=PATH msg=audit(1796200000.123:7): a=b c=d \n"},
		{"", 1999, "type=UNKNOWN[1999] msg=audit(1796200000.123:7): a=b c=d \n"},
		{"h1", 5000, "node=h1 type=UNKNOWN[5000] msg=audit(1796200000.123:7): a=b c=d \n"},
	} {
		got := newLineFormatter(tc.node).appendLine([]byte("x"), tc.typ, payload)
		if string(got) != "x"+tc.want {
			t.Errorf("node %q type %d: got %q, want %q", tc.node, tc.typ, got, "x"+tc.want)
		}
	}
}

// hostOrder is the byte order of struct audit_dispatcher_header's uint32s.
func hostOrder() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// frame builds the expected bytes of one binary frame independently of
// appendFrame.
func frame(ver, typ uint32, data string) []byte {
	b := make([]byte, 16+8970)
	o := hostOrder()
	o.PutUint32(b[0:], ver)
	o.PutUint32(b[4:], 16)
	o.PutUint32(b[8:], typ)
	o.PutUint32(b[12:], uint32(len(data)))
	copy(b[16:], data)
	return b
}

func TestFrame(t *testing.T) {
	payload := "audit(1796200000.123:7): arch=c000003e syscall=59"
	e := encoder{format: FormatBinary, ver: ProtocolVer, line: newLineFormatter("").appendLine}
	got := e.appendRecord([]byte("pre"), 1300, []byte(payload))
	if want := append([]byte("pre"), frame(0, 1300, payload)...); !bytes.Equal(got, want) {
		t.Errorf("ProtocolVer frame differs (len %d, want %d)", len(got), len(want))
	}
	ver, hlen, typ, size, ok := DecodeHeader(got[3:])
	if !ok || ver != 0 || hlen != 16 || typ != 1300 || size != uint32(len(payload)) {
		t.Errorf("DecodeHeader = %d %d %d %d %v", ver, hlen, typ, size, ok)
	}

	e = encoder{format: FormatBinary, ver: ProtocolVer2, line: newLineFormatter("h1").appendLine}
	got = e.appendRecord(nil, 1300, []byte(payload))
	if want := frame(1, 1300, "node=h1 type=SYSCALL msg="+payload); !bytes.Equal(got, want) {
		t.Errorf("ProtocolVer2 frame differs: header % x, data %q", got[:16], got[16:100])
	}

	long := bytes.Repeat([]byte("y"), 9000)
	got = appendFrame(nil, 0, 1300, long)
	if len(got) != FrameLen || hostOrder().Uint32(got[12:]) != MaxMessage {
		t.Errorf("long record: frame of %d bytes, size %d; want %d, %d", len(got), hostOrder().Uint32(got[12:]), FrameLen, MaxMessage)
	}
}

func TestUnread(t *testing.T) {
	s := encoder{format: FormatString}
	if n := s.unread([]byte("rest of a\nb\nc\n"), []byte("d\ne")); n != 4 {
		t.Errorf("string: %d unread records, want 4 (a, b, c, d; e not yet whole)", n)
	}
	b := encoder{format: FormatBinary}
	for _, tc := range []struct {
		tail, rest int
		want       uint64
	}{
		{0, 0, 0}, {FrameLen, 0, 1}, {FrameLen / 2, FrameLen / 2, 1}, {FrameLen + 1, 2 * FrameLen, 4}, {0, 3 * FrameLen, 3},
	} {
		if n := b.unread(make([]byte, tc.tail), make([]byte, tc.rest)); n != tc.want {
			t.Errorf("binary tail %d rest %d: %d unread, want %d", tc.tail, tc.rest, n, tc.want)
		}
	}
}
