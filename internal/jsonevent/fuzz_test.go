package jsonevent

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEncode feeds arbitrary log text to the Assembler, line by line, with
// small bounds so that eviction and dropping happen, then encodes every
// event it emits: no panic, and always one valid JSON object per line.
// Seeded with the captured RAW log in slices, the goldens and damaged
// variants.
func FuzzEncode(f *testing.F) {
	lines := loadLines(f, "../../testdata/auditd-raw.log")
	for i := 0; i+8 <= len(lines) && i < 400; i += 8 {
		f.Add(bytes.Join(lines[i:i+8], []byte("\n")))
	}
	goldens, _ := filepath.Glob("testdata/golden/*.log")
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(bytes.ReplaceAll(data, []byte(`"`), nil))
		f.Add(bytes.ReplaceAll(data, []byte("="), []byte("=\xff")))
	}
	f.Add([]byte("type=EXECVE msg=audit(1.000:1): argc=99999999 a999999999[7]=41 a1_len=3 a1[0]=\"x\" a1[1]=Z\n" +
		"type=SYSCALL msg=audit(1.000:1): arch=ffffffff syscall=-1 exit=x items=9 key=01\n" +
		"type=SOCKADDR msg=audit(1.000:1): saddr=0A00\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		enc := NewEncoder(Options{})
		var out []byte
		a := NewAssembler(AssemblerOptions{MaxPending: 3, MaxRecords: 4, MaxBytes: 4096, SerialLag: 5},
			func(ev *Event) {
				out = enc.AppendEvent(out[:0], ev)
				if !json.Valid(out) {
					t.Fatalf("invalid JSON for %+v:\n%s", ev, out)
				}
				var m map[string]any
				if err := json.Unmarshal(out, &m); err != nil {
					t.Fatalf("unmarshal: %v\n%s", err, out)
				}
				if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
					t.Fatalf("not one line: %q", out)
				}
			})
		for _, l := range bytes.Split(data, []byte("\n")) {
			_ = a.Add(l) // lines that are not records are reported, not added
		}
		a.Flush()
		if a.Pending() != 0 {
			t.Fatalf("%d events pending after Flush", a.Pending())
		}
	})
}
