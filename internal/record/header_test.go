package record

import (
	"strconv"
	"strings"
	"testing"
)

func TestHeader(t *testing.T) {
	f := func(in string, sec int64, ms int32, serial uint64, ok bool) {
		t.Helper()
		gs, gms, gserial, gok := Header([]byte(in))
		if gs != sec || gms != ms || gserial != serial || gok != ok {
			t.Errorf("Header(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", in, gs, gms, gserial, gok, sec, ms, serial, ok)
		}
	}
	f("audit(1795636980.303:3): arch=c000003e syscall=44", 1795636980, 303, 3, true)
	f("audit(1795637279.731:9): cwd=\"/tmp/cap\"", 1795637279, 731, 9, true)
	f("audit(1795637279.007:4294967295):", 1795637279, 7, 4294967295, true)
	f("audit(0.000:0):", 0, 0, 0, true)
	f("audit(9223372036854775807.999:18446744073709551615):", 1<<63-1, 999, 1<<64-1, true)
	f("audit(0009.010:0042):", 9, 10, 42, true)

	f("", 0, 0, 0, false)
	f("audit(", 0, 0, 0, false)
	f("audit(1795636980.303:3)", 0, 0, 0, false)            // no ':' after ')'
	f("audit(1795636980.303:3) x", 0, 0, 0, false)          // ')' not followed by ':'
	f("audit(1795636980.303:):", 0, 0, 0, false)            // empty serial
	f("audit(.303:3):", 0, 0, 0, false)                     // empty seconds
	f("audit(1795636980.30:3):", 0, 0, 0, false)            // two millisecond digits
	f("audit(1795636980.3033:3):", 0, 0, 0, false)          // four millisecond digits
	f("audit(1795636980:3):", 0, 0, 0, false)               // no millis
	f("audit(-1.303:3):", 0, 0, 0, false)                   // sign
	f("audit(1795636980.303:+3):", 0, 0, 0, false)          // sign
	f("audit(9223372036854775808.000:1):", 0, 0, 0, false)  // seconds overflow int64
	f("audit(1.000:18446744073709551616):", 0, 0, 0, false) // serial overflow uint64
	f("type=SYSCALL msg=audit(1795636980.303:3): x", 0, 0, 0, false)
	f(" audit(1795636980.303:3):", 0, 0, 0, false)
	f("AUDIT(1795636980.303:3):", 0, 0, 0, false)
}

// TestHeaderCapturedRecords checks every captured record against a parse
// built on strings and strconv, and that serials only move forward within
// the capture's events.
func TestHeaderCapturedRecords(t *testing.T) {
	for i, r := range loadRecords(t) {
		sec, ms, serial, ok := Header(r.Payload)
		if !ok {
			t.Fatalf("record %d: Header(%q) not ok", i, r.Payload)
		}
		rs, rms, rserial, rok := refHeader(string(r.Payload))
		if !rok || sec != rs || ms != rms || serial != rserial {
			t.Fatalf("record %d: Header(%q) = %d.%03d:%d, reference %d.%03d:%d (ok %v)", i, r.Payload, sec, ms, serial, rs, rms, rserial, rok)
		}
		if sec < 1795637279 || sec > 1795637300 || serial < 7 || serial > 1000 {
			t.Fatalf("record %d: implausible header %d.%03d:%d in %q", i, sec, ms, serial, r.Payload)
		}
	}
}

// refHeader is a slow, independent reading of the header grammar.
func refHeader(p string) (sec int64, ms int32, serial uint64, ok bool) {
	rest, found := strings.CutPrefix(p, "audit(")
	if !found {
		return 0, 0, 0, false
	}
	inner, _, found := strings.Cut(rest, "):")
	if !found {
		return 0, 0, 0, false
	}
	secStr, rest, found1 := strings.Cut(inner, ".")
	msStr, serialStr, found2 := strings.Cut(rest, ":")
	if !found1 || !found2 || !digits(secStr) || !digits(serialStr) || len(msStr) != 3 || !digits(msStr) {
		return 0, 0, 0, false
	}
	s, err1 := strconv.ParseInt(secStr, 10, 64)
	m, err2 := strconv.ParseInt(msStr, 10, 32)
	n, err3 := strconv.ParseUint(serialStr, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return s, int32(m), n, true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
