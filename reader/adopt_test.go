package reader

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Adopt refuses anything but a NETLINK_AUDIT socket, naming the descriptor.
func TestAdoptRefusesOtherDescriptors(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	us, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(us)
	rt, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rt)
	for _, fd := range []int{p[0], us, rt, 9999} {
		r, err := Adopt(fd, Config{})
		if err == nil {
			r.Close()
			t.Fatalf("Adopt(%d) accepted a descriptor that is no audit socket", fd)
		}
		if !errors.Is(err, ErrNotAuditSocket) || !strings.Contains(err.Error(), fmt.Sprintf("fd %d", fd)) {
			t.Errorf("Adopt(%d): %v, want ErrNotAuditSocket naming the fd", fd, err)
		}
	}
	// Refused, the descriptor is still the caller's.
	if _, err := unix.FcntlInt(uintptr(rt), unix.F_GETFD, 0); err != nil {
		t.Errorf("Adopt closed a descriptor it refused: %v", err)
	}
}

// An audit socket of the other mode is refused too.
func TestAdoptModeMismatch(t *testing.T) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		t.Skipf("skipping: requires an audit netlink socket: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	r, err := Adopt(fd, Config{Mode: ModeMulticast})
	if err == nil {
		r.Close()
		t.Fatal("a unicast socket adopted as multicast")
	}
	if !strings.Contains(err.Error(), "unicast") || !strings.Contains(err.Error(), fmt.Sprintf("fd %d", fd)) {
		t.Errorf("error %q, want it to name the fd and the socket's mode", err)
	}
	r, err = Adopt(fd, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Adopted() || r.Mode() != ModeUnicast || r.Fd() != fd {
		t.Errorf("adopted reader: adopted %v mode %v fd %d", r.Adopted(), r.Mode(), r.Fd())
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("adopted socket is not close-on-exec")
	}
	if err := r.Inheritable(true); err != nil {
		t.Fatal(err)
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC != 0 {
		t.Error("Inheritable(true) left close-on-exec set")
	}
	r.Close()
}

// The registration belongs to the socket, not to the descriptor nor the
// process: a second descriptor of the registered socket, adopted after the
// first is closed, reads every record, and the kernel still shows the
// registration and loses nothing.
func TestAdoptKeepsRegistration(t *testing.T) {
	k, key := kernelForLoad(t)
	first, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Conn().Unregister() })
	dup, err := unix.FcntlInt(uintptr(first.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	st, _ := k.Conn().Status()
	lost0 := st.Lost

	const n = 5000
	load := startLoad(t, n) // records queue in the socket, which no one reads
	if err := load.Wait(); err != nil {
		t.Fatal(err)
	}
	r, err := Adopt(dup, Config{})
	if err != nil {
		unix.Close(dup)
		t.Fatal(err)
	}
	defer r.Close()
	if m, err := r.Memory(); err != nil || m.Queued == 0 {
		t.Errorf("socket memory %+v, %v: want the records queued", m, err)
	} else {
		t.Logf("%d getppid events queued while no one read: %d bytes of socket memory (limit %d)", n, m.Queued, m.Limit)
	}
	suffix := []byte(`key="` + key + `"`)
	got := 0
	r.SetDeadline(time.Now().Add(20 * time.Second))
	for got < n {
		if _, err := r.ReadBatch(func(typ uint16, p []byte) error {
			if typ == 1300 && bytes.HasSuffix(p, suffix) {
				got++
			}
			return nil
		}); err != nil {
			t.Fatalf("adopted socket: %d of %d records: %v (stats %+v)", got, n, err, r.Stats())
		}
	}
	st, _ = k.Conn().Status()
	if st.PID != uint32(os.Getpid()) || st.Lost != lost0 {
		t.Errorf("kernel status pid %d lost %d -> %d, want pid %d, nothing lost", st.PID, lost0, st.Lost, os.Getpid())
	}
}

// An adopted socket whose registration was released registers again.
func TestAdoptThenRegister(t *testing.T) {
	k, _ := kernelForLoad(t)
	first, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Conn().Unregister() })
	dup, err := unix.FcntlInt(uintptr(first.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	if err := k.Conn().Unregister(); err != nil {
		t.Fatal(err)
	}
	r, err := Adopt(dup, Config{})
	if err != nil {
		unix.Close(dup)
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Register(); err != nil {
		t.Fatalf("registering from the adopted socket: %v", err)
	}
	if st, _ := k.Conn().Status(); st.PID != uint32(os.Getpid()) {
		t.Errorf("kernel status pid %d after Register, want %d", st.PID, os.Getpid())
	}
	// A second registration from it is refused: the kernel keeps one.
	if err := r.Register(); !errors.Is(err, ErrAlreadyRegistered) {
		t.Errorf("second Register: %v, want ErrAlreadyRegistered", err)
	}
}
