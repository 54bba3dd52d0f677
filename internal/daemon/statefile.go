package daemon

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stateFile is a page of memory (a memfd) kept in systemd's fd store beside
// the audit socket, so that a daemon started after a crash knows where its
// predecessor's view of the kernel's counters stopped: the kernel's lost and
// backlog_wait_time_actual counters as last polled. What the kernel lost
// while no daemon ran (the socket and backlog full during a long restart)
// is then counted by the next one, as an upgrade hands them over in
// EnvKernelCounters. It is written by a plain store to mapped memory once a
// second: no system call.
type stateFile struct {
	fd   int
	mem  []byte
	word *atomic.Uint64 // lost<<32 | wait, valid when magic is set
}

// stateMagic marks a page written by this version.
const stateMagic = 0x31455441_54534441 // "ADSTATE1", little-endian

const stateSize = 4096

// newStateFile makes a new state page.
func newStateFile() (*stateFile, error) {
	fd, err := unix.MemfdCreate("auditdrain-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", os.NewSyscallError("memfd_create", err))
	}
	if err := unix.Ftruncate(fd, stateSize); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("daemon: %w", os.NewSyscallError("ftruncate", err))
	}
	return mapState(fd)
}

// mapState maps a state page (inherited from the fd store, or new).
func mapState(fd int) (*stateFile, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < stateSize {
		return nil, fmt.Errorf("daemon: the state fd %d is not a state page (size %d): %v", fd, st.Size, err)
	}
	mem, err := unix.Mmap(fd, 0, stateSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", os.NewSyscallError("mmap", err))
	}
	unix.CloseOnExec(fd)
	return &stateFile{fd: fd, mem: mem, word: (*atomic.Uint64)(unsafe.Pointer(&mem[8]))}, nil
}

func (s *stateFile) magic() *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&s.mem[0])) }

// counters returns the counters saved in the page, ok false when none were.
func (s *stateFile) counters() (lost, wait uint32, ok bool) {
	if s == nil || s.magic().Load() != stateMagic {
		return 0, 0, false
	}
	w := s.word.Load()
	return uint32(w >> 32), uint32(w), true
}

// save stores the counters as last polled.
func (s *stateFile) save(lost, wait uint32) {
	if s == nil {
		return
	}
	s.word.Store(uint64(lost)<<32 | uint64(wait))
	s.magic().Store(stateMagic)
}

// kernelCounters returns the kernel's lost and backlog_wait_time_actual
// counters as the kernel poller last read them.
func (d *Daemon) kernelCounters() (lost, wait uint32) {
	d.kpoll.mu.Lock()
	defer d.kpoll.mu.Unlock()
	return d.kpoll.lastLost, d.kpoll.lastWait
}

// saveState stores the kernel poller's last reading in the state page.
func (d *Daemon) saveState() { d.state.save(d.kernelCounters()) }
