package daemon

import (
	"reflect"
	"strings"
	"testing"
)

func TestStatusWriteText(t *testing.T) {
	s := Status{
		PID: 7, Mode: "multicast", LogDir: "/l", UptimeSeconds: 3725.4,
		BytesRead: 3 << 20, RingCapacity: 1 << 30,
		LostTotal: 9, Lost: map[string]uint64{"overrun": 2, "kernel": 7},
		DroppedByKey:   map[string]uint64{"b": 1, "a": 3},
		FsyncP99Ms:     1.234,
		Suspended:      true,
		FreeBytes:      -1,
		SuspendCause:   "disk full",
		RecordsWritten: 11,
		RulesRefused:   []RuleError{{File: "/r/10.rules", Line: 21, Rule: "-w /nope -k a", Error: "no such file or directory"}},
	}
	var b strings.Builder
	if err := s.WriteText(&b, "enabled 1\nbacklog_wait_time_actual 0\nloginuid_immutable 0 unlocked\n"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")

	// Headings in order, each once.
	last := -1
	for _, h := range []string{"daemon", "kernel", "losses by cause", "writer"} {
		i := indexOf(lines, h)
		if i <= last {
			t.Errorf("heading %q at line %d, after %d:\n%s", h, i, last, out)
		}
		last = i
	}
	// Every "name value" row has its value in the same column.
	col := -1
	for _, l := range lines {
		if l == "plugins" {
			break // a table, last; TestStatusPluginTable checks it
		}
		if !strings.HasPrefix(l, "  ") || !strings.Contains(strings.TrimSpace(l), " ") || strings.HasPrefix(l, "    /r/") {
			continue
		}
		trimmed := strings.TrimLeft(l, " ")
		name, _, _ := strings.Cut(trimmed, " ")
		c := len(l) - len(trimmed) + len(name)
		c += len(l[c:]) - len(strings.TrimLeft(l[c:], " "))
		if col == -1 {
			col = c
		} else if c != col {
			t.Errorf("value of %q in column %d, others in %d:\n%s", name, c, col, out)
		}
	}
	for _, want := range []string{
		"\n  mode ", " multicast\n",
		"\n  uptime ", " 1h2m5s\n",
		" 3.0 MiB\n", " 1.0 GiB\n",
		" 0 unlocked\n",
		" 1.23 ms\n",
		"\n  writing_suspended ", " yes\n",
		" disk full\n",
		"\n  log_fs_free_bytes ", " not measured\n",
		"\n  lost_total ", "\n  lost_by_cause\n    kernel ", "\n    overrun ",
		"\n  dropped_events_by_key\n    a ", "\n    b ",
		"\n  rules_refused\n    /r/10.rules:21: \"-w /nope -k a\": no such file or directory\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "last_write_error") || strings.Contains(out, "rate_limited_by_key") {
		t.Errorf("empty omitempty fields shown:\n%s", out)
	}
	sec := func(name string) string {
		i := indexOf(lines, name)
		j := i + 1
		for j < len(lines) && strings.HasPrefix(lines[j], " ") {
			j++
		}
		return strings.Join(lines[i:j], "\n")
	}
	if !strings.Contains(sec("losses by cause"), "lost_by_cause") || !strings.Contains(sec("writer"), "records_written") ||
		!strings.Contains(sec("kernel"), "loginuid_immutable") || !strings.Contains(sec("daemon"), "records_read") {
		t.Errorf("a field is in the wrong section:\n%s", out)
	}

	b.Reset()
	s.WriteText(&b, "")
	if strings.Contains(b.String(), "kernel\n") {
		t.Errorf("kernel section without kernel lines:\n%s", b.String())
	}
}

// TestStatusPluginTable prints the plugins as a table under their heading:
// a header of JSON names, one aligned row per plugin, and leaves them out
// of the lost_total.
func TestStatusPluginTable(t *testing.T) {
	s := Status{Plugins: []PluginStatus{
		{Name: "au-remote.conf", Path: "/sbin/audisp-remote", Format: "string", State: "running", Pid: 4242, QueueDepth: 3, Delivered: 1000, Lost: 0},
		{Name: "stuck.conf", Path: "/usr/bin/sleep", Format: "binary", State: "running", Pid: 7, Restarts: 2, QueueDepth: 2000, Delivered: 0, Lost: 123456},
	}}
	var b strings.Builder
	if err := s.WriteText(&b, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i := strings.Index(out, "\nplugins\n")
	if i < 0 {
		t.Fatalf("no plugins section:\n%s", out)
	}
	rows := strings.Split(strings.TrimSuffix(out[i+len("\nplugins\n"):], "\n"), "\n")
	if len(rows) != 3 {
		t.Fatalf("plugin table rows %q", rows)
	}
	want := [][]string{
		{"name", "path", "format", "state", "pid", "restarts", "queue_depth", "delivered", "lost"},
		{"au-remote.conf", "/sbin/audisp-remote", "string", "running", "4242", "0", "3", "1000", "0"},
		{"stuck.conf", "/usr/bin/sleep", "binary", "running", "7", "2", "2000", "0", "123456"},
	}
	for r, row := range rows {
		if got := strings.Fields(row); !reflect.DeepEqual(got, want[r]) {
			t.Errorf("row %d: %q, want %q", r, got, want[r])
		}
		// Columns aligned: each header name starts where its values do.
		for k, name := range want[0] {
			if c := strings.Index(rows[0], name); k < len(want[r]) && !strings.HasPrefix(row[c:], want[r][k]) {
				t.Errorf("row %d column %s not aligned:\n%s", r, name, out)
			}
		}
	}
	if strings.Contains(out, "clients") {
		t.Errorf("clients column with no af_unix plugin:\n%s", out)
	}
}

func TestFormatStruct(t *testing.T) {
	type pair struct {
		Name  string `json:"name"`
		Count int    `json:"count,omitempty"`
		Bytes int64  `json:"free_bytes"`
		Plain bool
	}
	got := formatStatusValue("x", reflect.ValueOf(pair{"a b", 3, 2048, true}))
	if want := `name="a b" count=3 free_bytes=2.0 KiB Plain=yes`; got != want {
		t.Errorf("formatStatusValue(struct) = %q, want %q", got, want)
	}
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return -1
}

func TestFormatIEC(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 1<<63 - 1: "8.0 EiB"} {
		if got := formatIEC(n); got != want {
			t.Errorf("formatIEC(%d) = %q, want %q", n, got, want)
		}
	}
}
