package blocksys

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Calls entered with entersyscallblock return their results, wake on
// their descriptor, and live alongside goroutines that allocate (and so
// run the garbage collector) while they sleep.
func TestSyscall6(t *testing.T) {
	if pid, _, e := Syscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0); e != 0 || int(pid) != os.Getpid() {
		t.Fatalf("getpid = %d, %v; want %d", pid, e, os.Getpid())
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	type args struct {
		fds unix.PollFd
		ts  unix.Timespec
	}
	a := &args{fds: unix.PollFd{Fd: int32(efd), Events: unix.POLLIN}, ts: unix.NsecToTimespec(2e6)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // garbage, so that the collector runs while calls sleep
		defer wg.Done()
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
				keep = append(keep[:0], make([]byte, 64<<10))
				runtime.Gosched()
			}
		}
	}()
	// The runtime's signals (preemption, the collector) may interrupt a
	// sleeping call: EINTR is an answer the callers handle, as the
	// daemon's poller does; it must not be every answer.
	ppoll := func() (uintptr, syscall.Errno) {
		n, _, e := Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&a.fds)), 1, uintptr(unsafe.Pointer(&a.ts)), 0, 0, 0)
		return n, e
	}
	timeouts := 0
	for range 50 {
		switch n, e := ppoll(); {
		case e == syscall.EINTR:
		case e != 0 || n != 0:
			t.Fatalf("ppoll on a quiet eventfd = %d, %v; want a timeout (0)", n, e)
		default:
			timeouts++
		}
	}
	if timeouts == 0 {
		t.Fatal("every ppoll on a quiet eventfd was interrupted")
	}
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	a.ts = unix.NsecToTimespec(5e9)
	n, e := ppoll()
	for e == syscall.EINTR {
		n, e = ppoll()
	}
	if e != 0 || n != 1 {
		t.Fatalf("ppoll on a written eventfd = %d, %v; want 1", n, e)
	}
	close(stop)
	wg.Wait()
}
