package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// The load child: TestLiveAuditdEnriched re-executes the test binary with
// childEnv set; the child waits for a line on stdin (sent once the rules
// naming its pid are in), makes varied audit records, sends endMarker as a
// user message and exits.
const (
	childEnv     = "ENRICH_LOAD_CHILD"   // the watched directory
	childEndEnv  = "ENRICH_LOAD_END"     // the end marker text
	childRepsEnv = "ENRICH_LOAD_REPEATS" // rounds of load
	noNameID     = 54321                 // a uid and gid with no name in passwd/group
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := runLoadChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "load child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runLoadChild(dir string) error {
	if err := audittest.WaitGo(); err != nil {
		return err
	}
	reps, _ := strconv.Atoi(os.Getenv(childRepsEnv))
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT)
	if err != nil {
		return fmt.Errorf("netlink audit socket: %w", err)
	}
	defer unix.Close(nl)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	ln6, err6 := net.Listen("tcp", "[::1]:0")
	if err6 == nil {
		defer ln6.Close()
	}
	unixPath := filepath.Join(dir, "sock et ü")
	uln, err := net.Listen("unix", unixPath)
	if err != nil {
		return err
	}
	defer uln.Close()
	go acceptAll(ln)
	go acceptAll(uln)
	if err6 == nil {
		go acceptAll(ln6)
	}

	argvs := [][]string{
		{"/bin/true"},
		{"/bin/true", "with space", `qu"ote`, "it's", "ünïcödé", "tab\there", "", "$(x)", "a=b c=d"},
		{"/bin/true", "uid=0", "gid=54321", "syscall=59", "arch=40000003", "saddr=0200", "\x1dgs", "new\nline"},
		{"/bin/true", "--long=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		{"/bin/sh", "-c", "exit 0", "sh -c with 'quotes' and \"more\""},
	}
	msgs := []struct {
		typ  uint16
		text string
	}{
		{1005, "plain user message"}, // USER
		{1005, `op=test uid=-5 gid=4294967294 auid=99999999999999999999999 ouid=0x10 euid="7"`}, // odd ids
		{1005, "saddr=0200 saddr=0A00 saddr=01002F746D70 saddr=(null) saddr=zz saddr=100000000000000000000000"},
		{1005, "arch=40000003 syscall=102 a0=3 arch=c000003e syscall=59 arch=zz arch=ffffffffffffffffffff"},
		{1005, "sauid=65534 new_gid=65534 obj_uid=1 obj_gid=1 inode_uid=54321 inode_gid=0 old-auid=2 oauid=3 iuid=4 igid=5 ogid=6 fsuid=7 fsgid=8 sgid=9 suid=10 egid=11 id=abc"},
		{1005, "ünïcödé text uid=1 (uid=2) uid=3: uid=4, uid=5' uid=6) key=\"k\" key=6B6579016B32 key=(null)"},
		{1112, `op=login id=54321 exe="/usr/sbin/sshd" hostname=host addr=10.0.0.1 terminal=ssh res=success`}, // USER_LOGIN
		{1100, `op=PAM:authentication grantors=pam_unix acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=pts/0 res=success`},
		{1114, `op=adding user id=54321 exe="/usr/sbin/useradd" hostname=? addr=? terminal=pts/0 res=success`},          // ADD_USER
		{1116, `op=adding group id=54321 exe="/usr/sbin/groupadd" hostname=? addr=? terminal=pts/0 res=success`},        // ADD_GROUP
		{1102, `op=changing uid id=1 exe="/usr/sbin/usermod" hostname=? addr=? terminal=pts/0 res=success`},             // USER_MGMT
		{1132, `op=changing group id=65534 exe="/usr/sbin/groupmod" hostname=? addr=? terminal=pts/0 res=success`},      // GRP_MGMT
		{1121, `op=trusted uid=1 auid=2 gid=3 res=success`},                                                             // TRUSTED_APP
		{1107, `avc:  received setenforce notice (enforcing=0) exe="/usr/sbin/x" sauid=0 hostname=? addr=? terminal=?`}, // USER_AVC
		{2100, "anomaly uid=65534 gid=65534 syscall=1"},                                                                 // in the 2100-2999 user range
		// A separator in the text: auparse cuts the record there and trusts what follows.
		{1005, "gs\x1dplain text"},
		{1005, "gs\x1dUID=\"evil\" AUID=unknown-x ses=7"},
		{1005, "saddr=0200 id=5\x1dID=6576696C20 saddr=x"},
		{1005, "saddr=0200\x1dSADDR={ fam=x } tail"},
	}

	for rep := 0; rep < reps; rep++ {
		for i, argv := range argvs {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = dir
			switch i % 3 {
			case 1:
				cmd.Dir = "/" // the test's directories are private to root
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: noNameID, Gid: noNameID}}
			case 2:
				cmd.Dir = "/"
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("exec %q: %w", argv, err)
			}
		}
		if err := exec.Command("auditctl", "-m", fmt.Sprintf("auditctl message %d uid=1 with 'quotes'", rep)).Run(); err != nil {
			return fmt.Errorf("auditctl -m: %w", err)
		}
		if err := fileLoad(dir, rep); err != nil {
			return err
		}
		for _, a := range []string{ln.Addr().String(), unixPath, "@abstract name " + strconv.Itoa(rep)} {
			network := "tcp"
			if a[0] == '/' || a[0] == '@' {
				network = "unix"
			}
			if c, err := net.Dial(network, a); err == nil {
				c.Close()
			}
		}
		if err6 == nil {
			if c, err := net.Dial("tcp", ln6.Addr().String()); err == nil {
				c.Close()
			}
		}
		if s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE); err == nil {
			unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
			unix.Close(s)
		}
		if s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0); err == nil {
			unix.Sendto(s, []byte("x"), 0, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
			unix.Close(s)
		}
		for _, m := range msgs {
			if err := sendUserMessage(nl, m.typ, m.text); err != nil {
				return err
			}
		}
		unix.Getppid()
		if rep == 0 {
			if err := seccompLogGetppid(); err != nil {
				return err
			}
		}
	}
	return sendUserMessage(nl, 1005, os.Getenv(childEndEnv))
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// fileLoad touches files in the watched directory: creation, opens, a
// chown to an id without a name, renames, links, removal.
func fileLoad(dir string, rep int) error {
	names := []string{"plain", "with space", `qu"ote`, "ünï", "tab\tname"}
	for _, n := range names {
		p := filepath.Join(dir, fmt.Sprintf("%s-%d", n, rep))
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			return err
		}
		if err := os.Chown(p, noNameID, noNameID); err != nil {
			return err
		}
		if _, err := os.ReadFile(p); err != nil {
			return err
		}
		if err := os.Rename(p, p+".r"); err != nil {
			return err
		}
		if err := os.Symlink(p+".r", p+".l"); err != nil {
			return err
		}
		os.Remove(p + ".l")
		if err := os.Remove(p + ".r"); err != nil {
			return err
		}
	}
	f, err := os.Open(filepath.Join(dir, "does-not-exist"))
	if err == nil {
		f.Close()
	}
	return nil
}

// sendUserMessage sends a user space audit message of type typ and waits
// for the kernel's acknowledgement.
func sendUserMessage(fd int, typ uint16, text string) error {
	n := unix.NLMSG_HDRLEN + len(text) + 1
	b := make([]byte, (n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1))
	binary.NativeEndian.PutUint32(b[0:4], uint32(n))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	copy(b[unix.NLMSG_HDRLEN:], text)
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send user message type %d: %w", typ, err)
	}
	buf := make([]byte, 8192)
	for {
		m, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ack of user message type %d: %w", typ, err)
		}
		if m >= unix.NLMSG_HDRLEN+4 && binary.NativeEndian.Uint16(buf[4:6]) == unix.NLMSG_ERROR {
			if code := int32(binary.NativeEndian.Uint32(buf[16:20])); code != 0 {
				return fmt.Errorf("user message type %d %q refused: %w", typ, text, unix.Errno(-code))
			}
			return nil
		}
	}
}

// seccompLogGetppid installs, on one locked thread, a seccomp filter that
// logs getppid (SECCOMP_RET_LOG), calls getppid there and lets the thread
// die with the filter.
func seccompLogGetppid() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		prog := []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_GETPPID},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_LOG},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			errc <- fmt.Errorf("no_new_privs: %w", err)
			return
		}
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
			errc <- fmt.Errorf("seccomp filter: %w", err)
			return
		}
		for range 3 {
			unix.Getppid()
		}
		errc <- nil
	}()
	return <-errc
}
