// Package blocksys makes a system call that is expected to block the way
// the Go runtime makes its own: the goroutine's P is handed back to the
// scheduler as the call is entered (runtime.entersyscallblock), instead of
// being taken back by the runtime's sysmon thread after it has watched the
// call for 10 ms, polling every 20 us. For a thread that sleeps in the
// kernel most of the time and wakes for a moment (an idle poller, a reader
// at a few hundred records a second), that watch costs more than the work.
//
// Both runtime functions are kept linkable on purpose (go.dev/issue/67401).
// Memory that a call's arguments point to must be kept alive by the caller
// and must not be on the goroutine's stack (pass fields of a heap object).
package blocksys

import (
	"syscall"
	_ "unsafe" // go:linkname
)

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// Syscall6 is syscall.Syscall6, entered with entersyscallblock.
//
//go:nosplit
func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno) {
	entersyscallblock()
	r1, r2, err = syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	exitsyscall()
	return r1, r2, err
}
