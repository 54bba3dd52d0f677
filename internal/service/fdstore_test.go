package service

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// StoreFD sends FDSTORE=1 with the name and the descriptor itself
// (SCM_RIGHTS), as systemd's fd store expects; RemoveFD sends
// FDSTOREREMOVE=1 without one.
func TestStoreFD(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := NewNotifier()
	t.Setenv("NOTIFY_SOCKET", "")
	if ok, err := n.StoreFD(0, FDNameAudit); ok || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v, %v; want false, nil", ok, err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	f, err := os.CreateTemp(t.TempDir(), "stored")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := n.StoreFD(int(f.Fd()), FDNameAudit); !ok || err != nil {
		t.Fatalf("StoreFD: %v, %v", ok, err)
	}
	buf, oob := make([]byte, 512), make([]byte, 128)
	m, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:m]); got != "FDSTORE=1\nFDNAME=audit\nFDPOLL=0" {
		t.Errorf("message %q", got)
	}
	cms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cms) != 1 {
		t.Fatalf("control messages %v, %v", cms, err)
	}
	fds, err := unix.ParseUnixRights(&cms[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights %v, %v", fds, err)
	}
	defer unix.Close(fds[0])
	var a, b unix.Stat_t
	unix.Fstat(fds[0], &a)
	unix.Fstat(int(f.Fd()), &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Error("the descriptor received is not the one stored")
	}
	if ok, err := n.RemoveFD(FDNameAudit); !ok || err != nil {
		t.Fatalf("RemoveFD: %v, %v", ok, err)
	}
	m, oobn, _, _, err = conn.ReadMsgUnix(buf, oob)
	if err != nil || string(buf[:m]) != "FDSTOREREMOVE=1\nFDNAME=audit" || oobn != 0 {
		t.Errorf("RemoveFD sent %q with %d bytes of control data (%v)", buf[:m], oobn, err)
	}
}

// ListenFDs takes descriptors only when LISTEN_PID is this process, and
// clears the variables so that no child takes them for its own.
func TestListenFDs(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_FDNAMES", "audit")
	if fds := ListenFDs(true); fds != nil {
		t.Errorf("another process's descriptors taken: %v", fds)
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%s still set", k)
		}
	}
	// Ours: fd 3 on (the descriptors themselves are the test binary's,
	// whatever they are; only the naming is checked).
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "2")
	t.Setenv("LISTEN_FDNAMES", "audit:state")
	fds := ListenFDs(false)
	if len(fds) != 2 || fds[0] != (ListenFD{3, "audit"}) || fds[1] != (ListenFD{4, "state"}) {
		t.Errorf("ListenFDs = %v", fds)
	}
	if os.Getenv("LISTEN_FDS") != "2" {
		t.Error("ListenFDs(false) cleared the environment")
	}
}
