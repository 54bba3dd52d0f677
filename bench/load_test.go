package bench

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"golang.org/x/sys/unix"
)

func TestNewLoad(t *testing.T) {
	for _, name := range []string{LoadSyscall, LoadExec, LoadFile, LoadUser} {
		l, err := NewLoad(name, t.TempDir(), os.Getpid())
		if err != nil {
			t.Fatalf("NewLoad(%q): %v", name, err)
		}
		if l.Name() != name || l.RecordsPerEvent() < 1 {
			t.Errorf("%s: Name %q, RecordsPerEvent %d", name, l.Name(), l.RecordsPerEvent())
		}
	}
	if _, err := NewLoad("disk", "", os.Getpid()); !errors.Is(err, ErrUnknownLoad) {
		t.Fatalf("NewLoad(disk) = %v", err)
	}
	if _, err := NewLoad(LoadFile, "", os.Getpid()); err == nil {
		t.Fatal("file load without a scratch directory")
	}
}

// TestLoadRulesParse checks, without the kernel, that every load's rules
// are valid auditctl syntax, scoped to this process and tagged with the key.
func TestLoadRulesParse(t *testing.T) {
	pid := os.Getpid()
	for _, c := range []struct {
		name  string
		scope string
	}{{LoadSyscall, "pid="}, {LoadExec, "ppid="}, {LoadFile, "pid="}, {LoadUser, ""}} {
		l, err := NewLoad(c.name, t.TempDir(), os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		rules := l.Rules("adbench_key")
		if c.name == LoadUser {
			if len(rules) != 0 {
				t.Errorf("user load has rules %q", rules)
			}
			continue
		}
		if len(rules) == 0 {
			t.Fatalf("%s: no rules", c.name)
		}
		for _, r := range rules {
			if !strings.Contains(r, c.scope+strconv.Itoa(pid)) || !strings.HasSuffix(r, "-k adbench_key") {
				t.Errorf("%s: rule %q not scoped to %s%d with the key", c.name, r, c.scope, pid)
			}
		}
		rs, err := auditctl.ParseRules(c.name, strings.NewReader(strings.Join(rules, "\n")))
		if err != nil {
			t.Fatalf("%s: rules %q do not parse: %v", c.name, rules, err)
		}
		if len(rs) != len(rules) || len(rs[0].Wire) == 0 {
			t.Fatalf("%s: parsed %d rules from %d", c.name, len(rs), len(rules))
		}
	}
}

func TestUserMessage(t *testing.T) {
	text := userMarker("adbench_1_2")
	b := userMessage(text)
	if len(b)%unix.NLMSG_ALIGNTO != 0 {
		t.Fatalf("message of %d bytes is not aligned", len(b))
	}
	n := binary.NativeEndian.Uint32(b[0:4])
	typ := binary.NativeEndian.Uint16(b[4:6])
	flags := binary.NativeEndian.Uint16(b[6:8])
	if int(n) != unix.NLMSG_HDRLEN+len(text)+1 || typ != auditUser || flags != unix.NLM_F_REQUEST {
		t.Fatalf("header: len %d type %d flags %#x", n, typ, flags)
	}
	// The kernel overwrites the payload's last byte with NUL: it must be
	// the terminator, not the marker's last character.
	payload := b[unix.NLMSG_HDRLEN:n]
	if string(payload[:len(payload)-1]) != text || payload[len(payload)-1] != 0 {
		t.Fatalf("payload %q", payload)
	}
	if !markerMatcher("USER", auditUser, "adbench_1_2").Match([]byte("type=USER msg=audit(1.2:3): pid=1 msg='" + text + "'")) {
		t.Fatal("the matcher does not find the message's own marker")
	}
}

// nlError builds an NLMSG_ERROR reply carrying errno (negative, as the
// kernel sends it; 0 for an ack).
func nlError(errno int32) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN:], uint32(errno))
	return b
}

func TestCountRejected(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	send := func(b []byte) {
		if _, err := unix.Write(fds[1], b); err != nil {
			t.Fatal(err)
		}
	}
	send(nlError(-int32(unix.EPERM)))
	send(nlError(0))                                                             // an ack is no rejection
	send(append(nlError(-int32(unix.EINVAL)), nlError(-int32(unix.ENOBUFS))...)) // two in one datagram
	send([]byte{1, 2, 3})                                                        // too short to be a message
	n, err := countRejected(fds[0])
	if err != nil || n != 3 {
		t.Fatalf("countRejected = %d, %v; want 3", n, err)
	}
	if n, err := countRejected(fds[0]); n != 0 || err != nil {
		t.Fatalf("drained socket: %d, %v", n, err)
	}
}
