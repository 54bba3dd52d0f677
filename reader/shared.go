package reader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A receive area in shared memory (Config.Shared): the datagram buffers of
// recvmmsg, their headers (where the kernel writes each datagram's length)
// and how far the callback got through the last batch. recvmmsg takes the
// datagrams off the socket before the callback sees them; if the process
// is killed in between, another process that maps the same memory finds
// them with Undelivered. No allocation and no lock: one plain store per
// record (the index the callback is given next).
//
// Layout, native-endian:
//
//	offset  0  uint64  magic "ADRECV01"
//	offset  8  uint32  batch (datagrams per recvmmsg)
//	offset 12  uint32  buffer size per datagram
//	offset 16  uint64  next: the callback has returned for every datagram
//	                   before it (reset to 0 before each recvmmsg)
//	offset 64  batch Mmsghdr, then batch Iovec
//	then, page aligned, batch buffers of the buffer size

const (
	sharedMagic = 0x3130564345524441 // "ADRECV01", little-endian
	offNext     = 16
	offHdrs     = 64
)

func areaLayout(batch, bufSize int) (iovOff, slabOff, size int) {
	iovOff = offHdrs + batch*int(unsafe.Sizeof(unix.Mmsghdr{}))
	slabOff = (iovOff + batch*int(unsafe.Sizeof(unix.Iovec{})) + 4095) &^ 4095
	return iovOff, slabOff, slabOff + batch*bufSize
}

// SharedSize is the size of the shared receive area for cfg's Batch and
// BufSize (after defaults).
func SharedSize(cfg Config) int {
	cfg.setDefaults()
	_, _, size := areaLayout(cfg.Batch, cfg.BufSize)
	return size
}

// initShared lays the receive buffers out in cfg.Shared.
func (r *Reader) initShared() error {
	b, bs := r.cfg.Batch, r.cfg.BufSize
	mem := r.cfg.Shared
	iovOff, slabOff, size := areaLayout(b, bs)
	if len(mem) < size {
		return fmt.Errorf("reader: the shared receive area has %d bytes, %d needed", len(mem), size)
	}
	binary.NativeEndian.PutUint64(mem[0:], 0) // not valid while laid out
	binary.NativeEndian.PutUint32(mem[8:], uint32(b))
	binary.NativeEndian.PutUint32(mem[12:], uint32(bs))
	r.next = (*uint64)(unsafe.Pointer(&mem[offNext]))
	*r.next = 0
	r.slab = mem[slabOff:size:size]
	r.hdrs = unsafe.Slice((*unix.Mmsghdr)(unsafe.Pointer(&mem[offHdrs])), b)
	r.iovs = unsafe.Slice((*unix.Iovec)(unsafe.Pointer(&mem[iovOff])), b)
	clear(r.hdrs)
	r.linkBuffers(bs)
	binary.NativeEndian.PutUint64(mem[0:], sharedMagic)
	return nil
}

// Undelivered calls fn, in order, for each audit record that the last
// recvmmsg of the process that used mem (Config.Shared) received and whose
// callback had not returned: the records that left the socket and reached
// no one. maybe is true for the first one, whose callback may have run
// before the process died (the caller checks whether it holds it). Call it
// before a Reader uses mem again. It returns the number of records.
func Undelivered(mem []byte, fn func(typ uint16, payload []byte, maybe bool)) int {
	if len(mem) < offHdrs || binary.NativeEndian.Uint64(mem[0:]) != sharedMagic {
		return 0
	}
	b := int(binary.NativeEndian.Uint32(mem[8:]))
	bs := int(binary.NativeEndian.Uint32(mem[12:]))
	if b <= 0 || b > 1<<16 || bs <= 0 || bs > 1<<24 {
		return 0
	}
	_, slabOff, size := areaLayout(b, bs)
	if len(mem) < size {
		return 0
	}
	next := binary.NativeEndian.Uint64(mem[offNext:])
	hsize := int(unsafe.Sizeof(unix.Mmsghdr{}))
	lenOff := int(unsafe.Offsetof(unix.Mmsghdr{}.Len))
	n := 0
	for i := int(next); i < b; i++ {
		l := int(binary.NativeEndian.Uint32(mem[offHdrs+i*hsize+lenOff:]))
		if l == 0 {
			break // the kernel writes the lengths in order
		}
		l = min(l, bs)
		k, d := parse(mem[slabOff+i*bs : slabOff+i*bs+l])
		if k != kindRecord {
			continue
		}
		fn(d.Type, bytes.Clone(d.Payload), i == int(next))
		n++
	}
	return n
}
