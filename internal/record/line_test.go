package record

import "testing"

func TestLinePrefix(t *testing.T) {
	for _, tc := range []struct {
		node string
		typ  uint16
		want string
	}{
		{"", TypeSyscall, "type=SYSCALL msg="},
		{"h1", TypeEOE, "node=h1 type=EOE msg="},
		{"", 4000, "type=UNKNOWN[4000] msg="},
		{"", 60000, "type=UNKNOWN[60000] msg="},
		{"h1", 60000, "node=h1 type=UNKNOWN[60000] msg="},
	} {
		l := NewLinePrefix(tc.node)
		if got := string(l.Append([]byte("x"), tc.typ)); got != "x"+tc.want {
			t.Errorf("node %q type %d: %q, want %q", tc.node, tc.typ, got, "x"+tc.want)
		}
		if l.Len(tc.typ) < len(tc.want) || l.Longest() < len(tc.want) {
			t.Errorf("node %q type %d: Len %d, Longest %d below %d", tc.node, tc.typ, l.Len(tc.typ), l.Longest(), len(tc.want))
		}
		if l.HasNode() != (tc.node != "") {
			t.Errorf("node %q: HasNode %v", tc.node, l.HasNode())
		}
	}
}

func TestAppendPayload(t *testing.T) {
	for in, want := range map[string]string{
		"audit(1.000:1): a=b":       "audit(1.000:1): a=b",
		"audit(1.000:1): a\nb\n":    "audit(1.000:1): a b ",
		"audit(1.000:1): a\x00junk": "audit(1.000:1): a",
		"":                          "",
	} {
		if got := string(AppendPayload([]byte(">"), []byte(in))); got != ">"+want {
			t.Errorf("AppendPayload(%q) = %q, want %q", in, got, ">"+want)
		}
	}
	l := NewLinePrefix("")
	p := []byte("audit(1.000:1): a\nb")
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { dst = AppendPayload(l.Append(dst[:0], TypeSyscall), p) }); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}
