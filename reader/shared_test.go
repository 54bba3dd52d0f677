package reader

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// Undelivered finds, in a shared receive area another process left, the
// records of its last recvmmsg that its callback had not returned for:
// the one it was in (maybe) and those after it; not those before, not an
// ack, not the buffers the kernel did not fill.
func TestUndelivered(t *testing.T) {
	cfg := Config{Batch: 8, BufSize: 16 << 10}
	mem, err := unix.Mmap(-1, 0, SharedSize(cfg), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	cfg.Shared = mem
	cfg.setDefaults()
	r := &Reader{cfg: cfg}
	if err := r.initShared(); err != nil {
		t.Fatal(err)
	}
	if n := Undelivered(mem, func(uint16, []byte, bool) {}); n != 0 {
		t.Fatalf("a fresh area: %d undelivered", n)
	}
	// What recvmmsg leaves: 5 datagrams (the 4th an ack), lengths set.
	put := func(i int, typ uint16, payload string) {
		b := r.slab[i*cfg.BufSize:]
		binary.NativeEndian.PutUint32(b[0:], uint32(headerLen+len(payload)))
		binary.NativeEndian.PutUint16(b[4:], typ)
		copy(b[headerLen:], payload)
		r.hdrs[i].Len = uint32(headerLen + len(payload))
	}
	for i := range 5 {
		put(i, 1300, fmt.Sprintf("audit(1.000:%d): record %d", 10+i, i))
	}
	put(3, typeError, "\x00\x00\x00\x00")
	// The callback returned for datagrams 0 and 1 and was called for 2.
	*r.next = 2
	var got []string
	n := Undelivered(mem, func(typ uint16, p []byte, maybe bool) {
		got = append(got, fmt.Sprintf("%d %s %v", typ, p, maybe))
	})
	want := []string{"1300 audit(1.000:12): record 2 true", "1300 audit(1.000:14): record 4 false"}
	if n != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("undelivered %d: %q, want %q", n, got, want)
	}
	// A new recvmmsg starts by clearing the lengths: nothing is left.
	for i := range r.hdrs {
		r.hdrs[i].Len = 0
	}
	*r.next = 0
	if n := Undelivered(mem, func(uint16, []byte, bool) {}); n != 0 {
		t.Errorf("after the lengths were cleared: %d undelivered", n)
	}
}
