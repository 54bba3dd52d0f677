package record

import (
	"testing"
)

func TestAppendStampRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		ms     int64
		serial uint64
		want   string
	}{
		{1795636980303, 0, "audit(1795636980.303:0): "},
		{1795636980007, 42, "audit(1795636980.007:42): "},
		{1795636980070, 4294967295, "audit(1795636980.070:4294967295): "},
		{0, 1, "audit(0.000:1): "},
		{-5, 1, "audit(0.000:1): "},
	} {
		got := string(AppendStamp(nil, tc.ms, tc.serial))
		if got != tc.want {
			t.Errorf("AppendStamp(%d, %d) = %q, want %q", tc.ms, tc.serial, got, tc.want)
		}
		ms, serial, ok := HeaderMillis([]byte(got))
		if want := max(tc.ms, 0); !ok || ms != want || serial != tc.serial {
			t.Errorf("HeaderMillis(%q) = %d, %d, %v; want %d, %d", got, ms, serial, ok, want, tc.serial)
		}
	}
}

// TestOneGrammar pins the cases on which the writer's and the limiter's
// header parsers used to disagree: both now use Header, which accepts what
// the kernel's "audit(%llu.%03lu:%u): " can print and nothing else.
func TestOneGrammar(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"audit(1795636980.303:3): x", true},
		{"audit(1795636980.12:3): x", false},    // two millisecond digits: not the kernel's %03lu
		{"audit(1795636980.1234:3): x", false},  // four
		{"audit(1795636980.303:3) x", false},    // ")" not followed by ":"
		{"audit(1795636980123.303:3): x", true}, // 13-digit seconds fit
		{"audit(9223372036854775.807:3): x", true},
		{"audit(9223372036854776.000:3): x", false}, // milliseconds overflow int64
	} {
		_, _, okP := HeaderMillis([]byte(tc.in))
		_, _, okL := LineHeader([]byte("type=SYSCALL msg=" + tc.in))
		_, _, okN := LineHeader([]byte("node=h type=SYSCALL msg=" + tc.in))
		if okP != tc.ok || okL != tc.ok || okN != tc.ok {
			t.Errorf("%q: payload %v, line %v, node line %v; want %v", tc.in, okP, okL, okN, tc.ok)
		}
	}
	if _, _, ok := LineHeader([]byte("type=SYSCALL audit(1.000:1): x")); ok {
		t.Error("LineHeader accepted a line without msg=")
	}
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"SYSCALL", TypeSyscall, true},
		{"syscall", TypeSyscall, true},
		{"Config_Change", TypeConfigChange, true},
		{"1320", TypeEOE, true},
		{"UNKNOWN[1999]", 1999, true},
		{"0", 0, false},
		{"65536", 0, false},
		{"NOPE", 0, false},
		{"", 0, false},
		{"-1", 0, false},
	} {
		got, ok := ParseType(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseType(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if TypeName(TypeURingOp) != "URINGOP" || TypeName(TypeEOE) != "EOE" {
		t.Errorf("TypeName: %q %q", TypeName(TypeURingOp), TypeName(TypeEOE))
	}
}
