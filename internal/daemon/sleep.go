package daemon

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel poller's sleep hands its P back to the scheduler as it
// enters the system call (entersyscallblock, as the runtime does for calls
// it knows will block), instead of leaving it to the runtime's sysmon
// thread to take back 10 ms later: with the P idle at once, sysmon goes
// back to its deep sleep at its next look instead of polling every 20 us
// for those 10 ms. Both runtime functions are kept linkable on purpose
// (go.dev/issue/67401).

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// ppollBlock is unix.Ppoll on one descriptor, entered with entersyscallblock.
// fd and ts must not be on the goroutine's stack... they are fields of the
// poller, kept alive by it.
//
//go:nosplit
func ppollBlock(fds *unix.PollFd, ts *unix.Timespec) (int, syscall.Errno) {
	entersyscallblock()
	n, _, e := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(fds)), 1, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	exitsyscall()
	return int(n), e
}
