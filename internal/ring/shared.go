package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A shared ring keeps its buffer and its positions in a memfd mapped
// MAP_SHARED (NewShared), so that another process can map the same memory
// (Adopt) after this one was killed: the records it had taken from the
// socket and not yet stored survive it. Its producer reuses space only up
// to the written position (Release), which the record's consumer advances
// once those records are stored (written to a file), not when Drain hands
// them out: a process killed between the two leaves them in the memory.
//
// The memfd starts with one page of header, little-endian:
//
//	offset   0  uint64  magic "ADRING01"
//	offset   8  uint64  buffer size (a power of two)
//	offset  16  uint64  extra bytes after the buffer (Extra)
//	offset  64  uint64  tail (the producer's position)
//	offset 128  uint64  written (see Release)
//	offset 192  Pending: segment, offset, end, mark (mark stored last)
//
// and the buffer follows at offset 4096, then the extra bytes. The memfd is sealed against
// shrinking and growing, so that no one can make a mapping of it fault.

// ErrNotRing is returned (wrapped) by Adopt for a descriptor that is not a
// ring made by NewShared, or whose header or records do not hold together.
var ErrNotRing = errors.New("ring: not a shared ring")

const (
	sharedMagic  = 0x31304749_52444441 // "ADRING01", little-endian
	sharedHeader = 4096
	offTail      = 64
	offWritten   = 128
	offPending   = 192
)

// sharedMem is a shared ring's mapping.
type sharedMem struct {
	fd      int
	mem     []byte
	written *atomic.Uint64
	pending [4]*atomic.Uint64 // segment, offset, end, mark
	extra   []byte
}

// Extra returns a shared ring's extra memory (NewShared's extra, rounded
// up to a page), nil for a heap ring: the caller keeps there what must
// outlive the process beside the records (the reader's receive area).
func (r *Ring) Extra() []byte {
	if r.shared == nil {
		return nil
	}
	return r.shared.extra
}

func word(mem []byte, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&mem[off]))
}

// NewShared returns an empty ring of size bytes (rounded as New rounds
// them) in a new memfd named name, made close-on-exec, with extra bytes
// of shared memory after the buffer for the caller (Extra). Its memory is
// touched at once, as New's.
func NewShared(name string, size, extra int) (*Ring, error) {
	if size <= 0 || size > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (want 1..%d)", ErrInvalidSize, size, MaxSize)
	}
	if extra < 0 || extra > MaxSize {
		return nil, fmt.Errorf("%w: %d extra bytes", ErrInvalidSize, extra)
	}
	extra = (extra + 4095) &^ 4095
	n := uint64(RoundSize(size))
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("ring: %w", os.NewSyscallError("memfd_create", err))
	}
	fail := func(call string, err error) (*Ring, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("ring: %w", os.NewSyscallError(call, err))
	}
	total := int(sharedHeader + n + uint64(extra))
	if err := unix.Ftruncate(fd, int64(total)); err != nil {
		return fail("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return fail("fcntl F_ADD_SEALS", err)
	}
	mem, err := unix.Mmap(fd, 0, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	prefault(mem)
	binary.LittleEndian.PutUint64(mem[8:], n)
	binary.LittleEndian.PutUint64(mem[16:], uint64(extra))
	word(mem, 0).Store(sharedMagic)
	return sharedRing(fd, mem, n), nil
}

func sharedRing(fd int, mem []byte, n uint64) *Ring {
	r := newRing(mem[sharedHeader : sharedHeader+n : sharedHeader+n])
	s := &sharedMem{fd: fd, mem: mem, written: word(mem, offWritten), extra: mem[sharedHeader+n:]}
	for i := range s.pending {
		s.pending[i] = word(mem, offPending+8*i)
	}
	r.shared = s
	r.tail = word(mem, offTail)
	r.free = s.written
	r.head.Store(s.written.Load())
	r.cachedHead = s.written.Load()
	return r
}

// Adopt maps the shared ring in fd (made by NewShared, in this process
// before an exec or in one that died) and makes it close-on-exec. The
// records between its written position and its tail are checked (lengths
// and places) and handed out again by Drain, first; Rewind moves that
// start. A descriptor that is not such a ring, or whose records do not
// hold together, is refused with an error wrapping ErrNotRing (fd is left
// open).
func Adopt(fd int) (*Ring, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("%w: fd %d: %w", ErrNotRing, fd, os.NewSyscallError("fstat", err))
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) != unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		return nil, fmt.Errorf("%w: fd %d is not a sealed memfd", ErrNotRing, fd)
	}
	if st.Size < sharedHeader+MinSize || st.Size > 2*MaxSize+sharedHeader {
		return nil, fmt.Errorf("%w: fd %d holds %d bytes", ErrNotRing, fd, st.Size)
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("ring: %w", os.NewSyscallError("mmap", err))
	}
	n, extra := binary.LittleEndian.Uint64(mem[8:]), binary.LittleEndian.Uint64(mem[16:])
	if word(mem, 0).Load() != sharedMagic || n&(n-1) != 0 || n < MinSize || n > MaxSize || extra > MaxSize ||
		sharedHeader+n+extra != uint64(st.Size) {
		unix.Munmap(mem)
		return nil, fmt.Errorf("%w: fd %d has no ring header", ErrNotRing, fd)
	}
	r := sharedRing(fd, mem, n)
	if _, err := r.walk(r.head.Load(), ^uint64(0)); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("%w: fd %d: %w", ErrNotRing, fd, err)
	}
	unix.CloseOnExec(fd)
	return r, nil
}

// walk checks the entries from pos to the tail and reports whether stop is
// one of their boundaries (or the tail).
func (r *Ring) walk(pos, stop uint64) (bool, error) {
	tail := r.tail.Load()
	if tail-pos > r.size || pos%8 != 0 || tail%8 != 0 {
		return false, fmt.Errorf("positions %d..%d do not fit a ring of %d bytes", pos, tail, r.size)
	}
	found := pos == stop
	for pos != tail {
		off := pos & r.mask
		l := uint32(binary.LittleEndian.Uint64(r.buf[off:]))
		if l == skipLen {
			pos += r.size - off
		} else {
			if int(l) > r.maxRec || off+entrySize(int(l)) > r.size {
				return false, fmt.Errorf("a record of %d bytes at position %d", l, pos)
			}
			pos += entrySize(int(l))
		}
		if tail-pos > r.size { // went past the tail
			return false, fmt.Errorf("the records run past the tail %d", tail)
		}
		found = found || pos == stop
	}
	return found, nil
}

// Shared reports whether the ring lives in a memfd (NewShared, Adopt).
func (r *Ring) Shared() bool { return r.shared != nil }

// Fd returns a shared ring's memfd (-1 for a heap ring): hand it to the
// next process (exec, systemd's fd store) so that it can Adopt the ring.
func (r *Ring) Fd() int {
	if r.shared == nil {
		return -1
	}
	return r.shared.fd
}

// Release declares every record before pos stored: the producer may reuse
// its space. A shared ring's producer waits for Release, not for Drain;
// pos must be a position Current returned; a position not beyond the
// last one released is ignored. One atomic store; it wakes a parked producer. Safe from
// any one goroutine at a time. A no-op for a heap ring.
func (r *Ring) Release(pos uint64) {
	if r.shared == nil || pos <= r.shared.written.Load() {
		return
	}
	r.shared.written.Store(pos)
	if r.prodParked.Load() != 0 {
		select {
		case r.prodWake <- struct{}{}:
		default:
		}
	}
}

// Written returns the position up to which records are stored (Release);
// for a heap ring, the consumer's position.
func (r *Ring) Written() uint64 { return r.free.Load() }

// Pending is a write in progress, as the record's consumer describes it
// before the write and leaves it in a shared ring's header: the records
// before Mark go to segment Segment, bytes Off to End. After a crash, if
// Mark is beyond Written and those bytes are on disk, the records up to
// Mark need not be handed out again.
type Pending struct {
	Segment  uint64
	Off, End int64
	Mark     uint64
}

// SetPending stores p in the header (Mark last). A no-op for a heap ring.
func (r *Ring) SetPending(p Pending) {
	if r.shared == nil {
		return
	}
	s := r.shared.pending
	s[0].Store(p.Segment)
	s[1].Store(uint64(p.Off))
	s[2].Store(uint64(p.End))
	s[3].Store(p.Mark)
}

// LastPending returns the Pending last stored (the zero value for a heap
// ring).
func (r *Ring) LastPending() Pending {
	if r.shared == nil {
		return Pending{}
	}
	s := r.shared.pending
	return Pending{Segment: s[0].Load(), Off: int64(s[1].Load()), End: int64(s[2].Load()), Mark: s[3].Load()}
}

// Rewind makes Drain hand out the records from pos on (and Release them
// as of pos): for an adopted ring whose records up to pos turned out to be
// stored. pos must be a record boundary between Written and the tail.
// Consumer only, before the first Drain.
func (r *Ring) Rewind(pos uint64) error {
	ok, err := r.walk(r.head.Load(), pos)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("ring: position %d is not a record boundary between %d and %d", pos, r.head.Load(), r.tail.Load())
	}
	r.head.Store(pos)
	if r.shared != nil {
		r.shared.written.Store(pos)
	}
	r.cachedHead = pos
	return nil
}

// Unwritten returns the bytes between the written position and the tail:
// what an adopted ring holds that was not stored.
func (r *Ring) Unwritten() int { return int(r.tail.Load() - r.free.Load()) }

// Unmap releases a shared ring's mapping and closes its memfd. Neither
// side may use the ring afterwards.
func (r *Ring) Unmap() error {
	if r.shared == nil {
		return nil
	}
	err := unix.Munmap(r.shared.mem)
	unix.Close(r.shared.fd)
	r.shared = nil
	return err
}

// Count returns the number of records between the consumer's position and
// the tail, by walking them: for reports, not for the hot path. Consumer
// only.
func (r *Ring) Count() int {
	n := 0
	r.scan(func(uint16, []byte) bool { n++; return true })
	return n
}

// Holds reports whether a record of type typ with payload p is between the
// consumer's position and the tail, by walking them: for an adopted ring,
// not for the hot path. Consumer only.
func (r *Ring) Holds(typ uint16, p []byte) bool {
	found := false
	r.scan(func(t uint16, q []byte) bool {
		found = t == typ && string(q) == string(p)
		return !found
	})
	return found
}

// scan calls fn for the records between the consumer's position and the
// tail, without consuming them, while fn returns true. Not for the hot
// path (Drain): a function call per record. Consumer only.
func (r *Ring) scan(fn func(typ uint16, p []byte) bool) {
	pos, tail := r.head.Load(), r.tail.Load()
	for pos != tail {
		typ, p, next := r.entry(pos)
		if p != nil && !fn(typ, p) {
			return
		}
		pos = next
	}
}
