package jsonevent

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// decode checks that line is one valid JSON object ending in a newline and
// returns it as a map.
func decode(t *testing.T, line []byte) map[string]any {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", line)
	}
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("unmarshal: %v: %s", err, line)
	}
	return m
}

// path returns the value at a dotted path of a decoded object.
func path(m map[string]any, p string) any {
	var v any = m
	for _, k := range strings.Split(p, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// checkCaptured encodes the events of the 1,514 captured records and checks
// each, and their grouping: one event per serial, every record once, in
// order.
func checkCaptured(t *testing.T, evs []*Event, wantTypes []uint16, wantPayloads []string) {
	t.Helper()
	enc := NewEncoder(Options{})
	serials := map[uint64]bool{}
	var types []uint16
	var payloads []string
	for _, ev := range evs {
		if serials[ev.Serial] {
			t.Errorf("serial %d split into several events", ev.Serial)
		}
		serials[ev.Serial] = true
		if ev.Incomplete() {
			t.Errorf("event %d flagged incomplete", ev.Serial)
		}
		m := decode(t, enc.AppendEvent(nil, ev))
		if got := path(m, "auditd.sequence"); got != float64(ev.Serial) {
			t.Errorf("event %d: auditd.sequence %v", ev.Serial, got)
		}
		recs, _ := path(m, "auditd.records").([]any)
		if len(recs) != len(ev.Records) {
			t.Errorf("event %d: %d records in JSON, %d in event", ev.Serial, len(recs), len(ev.Records))
		}
		if _, ok := path(m, "@timestamp").(string); !ok {
			t.Errorf("event %d: no @timestamp", ev.Serial)
		}
		if path(m, "error") != nil {
			t.Errorf("event %d: error %v", ev.Serial, path(m, "error"))
		}
		for i, r := range ev.Records {
			if _, _, s, ok := record.Header([]byte(r.Payload)); !ok || s != ev.Serial {
				t.Errorf("event %d holds a record of serial %d", ev.Serial, s)
			}
			rm, _ := recs[i].(map[string]any)
			if e := rm["error"]; e != nil {
				t.Errorf("event %d record %d (%s): %v", ev.Serial, i, rm["type"], e)
			}
			types = append(types, r.Type)
			payloads = append(payloads, r.Payload)
		}
	}
	if len(evs) != 327 || len(serials) != 327 {
		t.Errorf("%d events of %d serials, want 327 of 327", len(evs), len(serials))
	}
	if !reflect.DeepEqual(types, wantTypes) || !reflect.DeepEqual(payloads, wantPayloads) {
		t.Errorf("the events' records are not the %d input records in order", len(wantTypes))
	}
}

func TestCapturedRecords(t *testing.T) {
	recs := loadRecords(t)
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	var types []uint16
	var payloads []string
	for _, r := range recs {
		mustAdd(t, a, r.Type, r.Payload)
		types = append(types, r.Type)
		payloads = append(payloads, string(r.Payload))
	}
	if a.Pending() != 0 {
		t.Errorf("%d events pending after the last record (each ends with PROCTITLE or is a USER message)", a.Pending())
	}
	a.Flush()
	checkCaptured(t, evs, types, payloads)

	// Every record alone, as an event cut from the rest, too.
	enc := NewEncoder(Options{ResolveIDs: true})
	for _, r := range recs {
		_, _, serial, _ := record.Header(r.Payload)
		ev := &Event{Serial: serial, Records: []Record{{r.Type, string(r.Payload)}}, End: EndEvicted}
		m := decode(t, enc.AppendEvent(nil, ev))
		if path(m, "auditd.incomplete") != true {
			t.Fatalf("evicted event not flagged incomplete: %v", m["auditd"])
		}
	}
}

func TestCapturedRawLog(t *testing.T) {
	lines := loadLines(t, "../../testdata/auditd-raw.log")
	if len(lines) != 1514 {
		t.Fatalf("%d lines in auditd-raw.log, want 1514", len(lines))
	}
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	var types []uint16
	var payloads []string
	for i, l := range lines {
		if err := a.Add(l); err != nil {
			t.Fatalf("auditd-raw.log:%d: %v", i+1, err)
		}
		typ, _ := parseTypeName(l[len("type="):bytes.Index(l, []byte(" msg="))])
		types = append(types, typ)
		payloads = append(payloads, string(l[bytes.Index(l, []byte(" msg="))+5:]))
	}
	a.Flush()
	checkCaptured(t, evs, types, payloads)

	// Each record's raw is its line: the JSON log holds the RAW log.
	enc := NewEncoder(Options{})
	var raws []string
	for _, ev := range evs {
		var m struct {
			Auditd struct {
				Records []struct{ Raw string }
			}
		}
		if err := json.Unmarshal(enc.AppendEvent(nil, ev), &m); err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Auditd.Records {
			raws = append(raws, r.Raw)
		}
	}
	for i := range lines {
		if i >= len(raws) || raws[i] != string(lines[i]) {
			t.Fatalf("auditd-raw.log:%d: raw %q, want the line %q", i+1, raws[min(i, len(raws)-1)], lines[i])
		}
	}
}

// TestGolden encodes the events of testdata/golden/*.log and compares them,
// indented, with the .json beside (go test -run Golden -update rewrites
// them).
func TestGolden(t *testing.T) {
	logs, err := filepath.Glob("testdata/golden/*.log")
	if err != nil || len(logs) < 4 {
		t.Fatalf("golden inputs: %v %v", logs, err)
	}
	enc := NewEncoder(Options{})
	for _, in := range logs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".log"), func(t *testing.T) {
			var evs []*Event
			a := collect(AssemblerOptions{}, &evs)
			for i, l := range loadLines(t, in) {
				if err := a.Add(l); err != nil {
					t.Fatalf("%s:%d: %v", in, i+1, err)
				}
			}
			a.Flush()
			if len(evs) != 1 {
				t.Fatalf("%s: %d events, want 1", in, len(evs))
			}
			line := enc.AppendEvent(nil, evs[0])
			decode(t, line)
			var got bytes.Buffer
			if err := json.Indent(&got, line, "", "  "); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".log") + ".json"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s:\n%s", in, golden, got.Bytes())
			}
		})
	}
}

// encodeLines assembles lines into events and returns each encoded and
// decoded.
func encodeLines(t *testing.T, opt Options, lines ...string) []map[string]any {
	t.Helper()
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	for _, l := range lines {
		if err := a.Add([]byte(l)); err != nil {
			t.Fatalf("Add(%q): %v", l, err)
		}
	}
	a.Flush()
	enc := NewEncoder(opt)
	var out []map[string]any
	for _, ev := range evs {
		out = append(out, decode(t, enc.AppendEvent(nil, ev)))
	}
	return out
}

func TestGoldenSemantics(t *testing.T) {
	// What the goldens must show, checked by name so that -update cannot
	// silently bless a regression.
	read := func(name string) map[string]any {
		var evs []*Event
		a := collect(AssemblerOptions{}, &evs)
		for _, l := range loadLines(t, "testdata/golden/"+name+".log") {
			if err := a.Add(l); err != nil {
				t.Fatal(err)
			}
		}
		a.Flush()
		return decode(t, NewEncoder(Options{}).AppendEvent(nil, evs[0]))
	}
	ex := read("execve-hex")
	args, _ := path(ex, "process.args").([]any)
	if len(args) != 5 || args[0] != "/usr/bin/env" || !strings.HasPrefix(args[4].(string), "import socket; s=socket.socket(); s.settimeout(0.2)\ntry:") {
		t.Errorf("execve args %q", args)
	}
	if title, _ := path(ex, "process.title").(string); !strings.HasPrefix(title, "/usr/bin/env bash /root/.pyenv/shims/python3 -c import socket") {
		t.Errorf("process.title %q", title)
	}
	if path(ex, "auditd.id") != "1795637279.755:21" || path(ex, "auditd.epoch") != "1795637279.755" || path(ex, "@timestamp") != "2026-11-25T20:07:59.755Z" {
		t.Errorf("id %v epoch %v @timestamp %v", path(ex, "auditd.id"), path(ex, "auditd.epoch"), path(ex, "@timestamp"))
	}

	pw := read("path-watch")
	if path(pw, "file.path") != "/tmp/cap/w/watched" || path(pw, "auditd.end") != "last_record" {
		t.Errorf("path watch: file.path %v end %v", path(pw, "file.path"), path(pw, "auditd.end"))
	}
	if tags, _ := pw["tags"].([]any); len(tags) != 1 || tags[0] != "cap_watch" {
		t.Errorf("path watch tags %v", pw["tags"])
	}

	ul := read("user-login")
	if path(ul, "auditd.node") != "web1" || path(ul, "auditd.message_type") != "user_login" ||
		path(ul, "event.outcome") != "success" || path(ul, "source.ip") != "203.0.113.7" {
		t.Errorf("user login: node %v type %v outcome %v source %v", path(ul, "auditd.node"),
			path(ul, "auditd.message_type"), path(ul, "event.outcome"), path(ul, "source"))
	}
	if raw := path(ul, "auditd.records").([]any)[0].(map[string]any)["raw"]; !strings.HasPrefix(raw.(string), "node=web1 type=USER_LOGIN msg=audit(") {
		t.Errorf("user login raw %q", raw)
	}

	mk := read("multi-key")
	if tags, _ := mk["tags"].([]any); len(tags) != 2 || tags[0] != "cap_conn" || tags[1] != "net" {
		t.Errorf("multi-key tags %v", mk["tags"])
	}
	if path(mk, "destination.ip") != "127.0.0.1" || path(mk, "event.outcome") != "failure" {
		t.Errorf("multi-key connect: destination %v outcome %v", path(mk, "destination"), path(mk, "event.outcome"))
	}
}

func TestExecveSplitArguments(t *testing.T) {
	// An argument longer than the kernel's 7500-byte chunk is logged as
	// a1_len=N a1[0]=... a1[1]=..., each chunk quoted or hex by itself,
	// and the arguments spread over several EXECVE records.
	long := strings.Repeat("x", 7500)
	hexChunk := "7920" // "y "
	lines := []string{
		`type=SYSCALL msg=audit(1795637279.000:50): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="e" exe="/bin/e" key="k"`,
		`type=EXECVE msg=audit(1795637279.000:50): argc=3 a0="e" a1_len=7502 a1[0]="` + long + `"`,
		`type=EXECVE msg=audit(1795637279.000:50): a1[1]=` + hexChunk + ` a2=7A`,
		`type=PROCTITLE msg=audit(1795637279.000:50): proctitle="e"`,
	}
	evs := encodeLines(t, Options{}, lines...)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	args, _ := path(evs[0], "process.args").([]any)
	want := []any{"e", long + "y ", "z"}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("args %.80q, want e, x*7500+\"y \", z", args)
	}
	recs := path(evs[0], "auditd.records").([]any)
	f1 := recs[1].(map[string]any)["fields"].(map[string]any)
	if f1["argc"] != "3" || !reflect.DeepEqual(f1["argv"], want) {
		t.Errorf("first EXECVE fields: argc %v, argv %.80v", f1["argc"], f1["argv"])
	}
	if _, has := recs[2].(map[string]any)["fields"]; has {
		t.Errorf("second EXECVE has fields: %v", recs[2])
	}
	pt := recs[3].(map[string]any)["fields"].(map[string]any)
	if !reflect.DeepEqual(pt["argv"], []any{"e"}) {
		t.Errorf("quoted proctitle argv %v", pt["argv"])
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	// A user-space message may carry any bytes: the JSON stays valid, the
	// interpretation replaces them, raw_hex keeps them.
	line := "type=USER msg=audit(1795637279.000:60): pid=1 uid=0 auid=0 ses=1 msg='text=\xff\xfe\x01\"\\ end res=success'"
	evs := encodeLines(t, Options{}, line)
	r := path(evs[0], "auditd.records").([]any)[0].(map[string]any)
	if !strings.Contains(r["raw"].(string), "text=\ufffd\ufffd\x01\"\\ end") {
		t.Errorf("raw %q", r["raw"])
	}
	if r["raw_hex"] != strings.ToLower(strings.TrimSpace(hexOf(line))) {
		t.Errorf("raw_hex %v", r["raw_hex"])
	}
	// Without raw, neither is written.
	evs = encodeLines(t, Options{OmitRaw: true}, line)
	r = path(evs[0], "auditd.records").([]any)[0].(map[string]any)
	if _, has := r["raw"]; has {
		t.Error("OmitRaw wrote raw")
	}
	if _, has := r["raw_hex"]; has {
		t.Error("OmitRaw wrote raw_hex")
	}
}

func hexOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(hexDigits[s[i]>>4])
		b.WriteByte(hexDigits[s[i]&0xf])
	}
	return b.String()
}

func TestEncodeResolveIDs(t *testing.T) {
	// uid 0 is root in aucoalesce's caches without a lookup; 4294967295
	// is unset and has no name.
	line := `type=SYSCALL msg=audit(1795637279.000:70): arch=c000003e syscall=2 success=yes exit=3 a0=1 a1=2 a2=3 a3=0 items=0 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="c" exe="/bin/c" key=(null)`
	with := encodeLines(t, Options{ResolveIDs: true}, line)[0]
	if path(with, "user.name") != "root" || path(with, "user.group.name") != "root" || path(with, "user.audit.id") != "unset" || path(with, "user.audit.name") != nil {
		t.Errorf("resolved user %v", with["user"])
	}
	without := encodeLines(t, Options{}, line)[0]
	if path(without, "user.id") != "0" || path(without, "user.name") != nil {
		t.Errorf("unresolved user %v", without["user"])
	}
}

func TestEncodeEmptyAndBrokenEvents(t *testing.T) {
	enc := NewEncoder(Options{})
	for _, ev := range []*Event{
		{},
		{Serial: 3, Records: []Record{{1309, "audit(1.000:3): argc=2 a0=ZZ a1"}}},
		{Serial: 3, Records: []Record{{1300, "audit(1.000:3): "}, {1302, "garbage"}}},
		{Serial: 3, Records: []Record{{1302, "audit(1.000:3): item=0"}, {1302, "audit(1.000:3): item=1"}}},
	} {
		decode(t, enc.AppendEvent(nil, ev))
	}
}
