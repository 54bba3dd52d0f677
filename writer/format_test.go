package writer

import (
	"fmt"
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
)

func TestAppendLineRAW(t *testing.T) {
	formatters := map[string]*formatter{}
	f := func(node string, typ uint16, payload, want string) {
		t.Helper()
		fm := formatters[node]
		if fm == nil {
			fm = newFormatter(node)
			formatters[node] = fm
		}
		got := string(fm.appendLine(nil, typ, []byte(trimPayload(payload))))
		if got != want {
			t.Errorf("node=%q type=%d payload=%q:\n got %q\nwant %q", node, typ, payload, got, want)
		}
		if n := fm.maxLen(typ, len(payload)); len(got) > n {
			t.Errorf("type=%d payload=%q: line of %d bytes exceeds maxLen %d", typ, payload, len(got), n)
		}
	}
	const p = "audit(1732564000.123:4567): arch=c000003e syscall=110 success=yes"
	// Names auditd 3.0.9 (Debian libaudit1 1:3.0.9-1, audit_msg_type_to_name)
	// prints for common types; go-libaudit agrees on all of them.
	for typ, name := range map[uint16]string{
		1005: "USER", 1100: "USER_AUTH", 1101: "USER_ACCT", 1103: "CRED_ACQ",
		1104: "CRED_DISP", 1105: "USER_START", 1106: "USER_END", 1107: "USER_AVC",
		1112: "USER_LOGIN", 1123: "USER_CMD", 1130: "SERVICE_START", 1131: "SERVICE_STOP",
		1200: "DAEMON_START", 1201: "DAEMON_END", 1202: "DAEMON_ABORT", 1203: "DAEMON_CONFIG",
		1205: "DAEMON_ROTATE", 1206: "DAEMON_RESUME", 1300: "SYSCALL", 1302: "PATH",
		1305: "CONFIG_CHANGE", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE",
		1320: "EOE", 1327: "PROCTITLE", 1331: "FANOTIFY", 1334: "BPF", 1337: "OPENAT2",
		1400: "AVC", 1500: "APPARMOR", 1503: "APPARMOR_DENIED", 1700: "ANOM_PROMISCUOUS",
		1701: "ANOM_ABEND", 2100: "ANOM_LOGIN_FAILURES",
		// auditd 3.0.9 prints UNKNOWN[1338]; go-libaudit names it (newer kernels' dm-audit).
		1338: "DM_CTRL",
	} {
		f("", typ, p, "type="+name+" msg="+p+"\n")
	}
	for _, c := range []struct {
		node    string
		typ     uint16
		payload string
		want    string
	}{
		{"", 1999, p, "type=UNKNOWN[1999] msg=" + p + "\n"},
		{"", 9999, p, "type=UNKNOWN[9999] msg=" + p + "\n"},
		{"", 65535, "x", "type=UNKNOWN[65535] msg=x\n"},
		{"", 0, "x", "type=UNKNOWN[0] msg=x\n"},
		{"host1", 1300, p, "node=host1 type=SYSCALL msg=" + p + "\n"},
		{"host1", 4242, p, "node=host1 type=UNKNOWN[4242] msg=" + p + "\n"},
		// Trailing newline and NUL are stripped.
		{"", 1300, p + "\n", "type=SYSCALL msg=" + p + "\n"},
		{"", 1300, p + "\x00", "type=SYSCALL msg=" + p + "\n"},
		{"", 1300, p + "\n\x00\x00", "type=SYSCALL msg=" + p + "\n"},
		{"h", 1300, p + "\n", "node=h type=SYSCALL msg=" + p + "\n"},
		// As auditd: stop at the first NUL, newline becomes space, one
		// trailing space dropped (not kept with a node prefix, where auditd
		// drops its own appended newline instead).
		{"", 1300, "a\x00b", "type=SYSCALL msg=a\n"},
		{"", 1300, "a\nb", "type=SYSCALL msg=a b\n"},
		{"", 1300, "a ", "type=SYSCALL msg=a\n"},
		{"", 1300, "a  ", "type=SYSCALL msg=a \n"},
		{"h", 1300, "a ", "node=h type=SYSCALL msg=a \n"},
		{"", 1300, "", "type=SYSCALL msg=\n"},
		{"h", 1300, "", "node=h type=SYSCALL msg=\n"},
	} {
		f(c.node, c.typ, c.payload, c.want)
	}
}

// trimPayload mirrors Append's trimming of trailing '\n' and NUL.
func trimPayload(p string) string {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == 0) {
		p = p[:len(p)-1]
	}
	return p
}

// Every type, table or not, is named as go-libaudit names it.
func TestAppendLineAllTypes(t *testing.T) {
	f := newFormatter("n")
	var buf []byte
	for typ := 0; typ <= 0xffff; typ++ {
		buf = f.appendLine(buf[:0], uint16(typ), []byte("m"))
		want := fmt.Sprintf("node=n type=%s msg=m\n", auparse.AuditMessageType(typ).String())
		if string(buf) != want {
			t.Fatalf("type %d: got %q, want %q", typ, buf, want)
		}
	}
}

func TestAppendLineNoAlloc(t *testing.T) {
	f := newFormatter("node1")
	buf := make([]byte, 0, 4096)
	p := []byte("audit(1732564000.123:4567): arch=c000003e syscall=110\nsuccess=yes")
	if n := testing.AllocsPerRun(100, func() {
		buf = f.appendLine(buf[:0], 1300, p)
		buf = f.appendLine(buf, 40000, p)
	}); n != 0 {
		t.Errorf("appendLine allocates %v times per run, want 0", n)
	}
}
