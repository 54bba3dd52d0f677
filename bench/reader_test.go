package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditdConf(t *testing.T) {
	base := "#\n# comment: log_file = /x\n#\nlog_file = /var/log/audit/audit.log\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file_action = ROTATE\nlog_format=ENRICHED\nnum_logs = 5"
	got := string(auditdConf([]byte(base), map[string]string{
		"log_file": "/tmp/t/audit.log", "log_format": "RAW", "flush": "NONE", "max_log_file_action": "KEEP_LOGS", "q_depth": "2000",
	}))
	want := "#\n# comment: log_file = /x\n#\nlog_file = /tmp/t/audit.log\nlog_format = RAW\nflush = NONE\nfreq = 50\nmax_log_file_action = KEEP_LOGS\nnum_logs = 5\nq_depth = 2000\n"
	if got != want {
		t.Fatalf("auditdConf =\n%s\nwant\n%s", got, want)
	}
}

func TestWriteAuditdConf(t *testing.T) {
	dir := t.TempDir()
	shipped := filepath.Join(dir, "shipped.conf")
	os.WriteFile(shipped, []byte("log_file = /var/log/audit/audit.log\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\n"), 0o600)
	for _, flush := range []string{"", "NONE", "DATA"} {
		raw := flush != ""
		conf := filepath.Join(dir, "etc", "x"+flush)
		if err := writeAuditdConf(shipped, conf, "/l/audit.log", flush); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(conf, "auditd.conf")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, "log_file = /l/audit.log\n") || !strings.Contains(s, "max_log_file_action = KEEP_LOGS\n") {
			t.Errorf("raw %v: log not redirected:\n%s", raw, s)
		}
		if raw != strings.Contains(s, "log_format = RAW\n") || raw != strings.Contains(s, "flush = "+flush+"\n") {
			t.Errorf("raw %v: format and flush:\n%s", raw, s)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("auditd.conf mode %v: auditd refuses a file others may write", fi.Mode())
		}
	}
	if err := writeAuditdConf(filepath.Join(dir, "missing"), dir, "/l", ""); err == nil {
		t.Fatal("missing shipped config: no error")
	}
}

func TestStatusNumber(t *testing.T) {
	st := map[string]any{
		"kernel": map[string]any{"lost": 3.0},
		"daemon": map[string]any{"records_read": 1234.0, "latency_p99_ms": 0.0},
		"top":    7.0,
	}
	f := func(key string, want float64, wantOK bool) {
		t.Helper()
		if got, ok := statusNumber(st, key); got != want || ok != wantOK {
			t.Errorf("statusNumber(%q) = %v, %v; want %v, %v", key, got, ok, want, wantOK)
		}
	}
	f("records_read", 1234, true)
	f("top", 7, true)
	f("lost", 0, false) // only the daemon's figures
	f("latency_p50_ms", 0, false)
	if positive(st, "latency_p99_ms") != nil || *positive(st, "records_read") != 1234 {
		t.Error("positive: a 0 latency means not measured")
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("hello "))
	b.Write([]byte("world!"))
	if got := b.String(); got != `"o world!"` {
		t.Fatalf("tail = %s", got)
	}
}

func TestNoneReaderDoesNothing(t *testing.T) {
	r, err := startReader(t.Context(), &readerEnv{}, ReaderNone, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.pid() != 0 || !r.alive() || r.stop() != nil {
		t.Fatal("the none reader has a process")
	}
	if p, err := r.progress(t.Context()); p != 0 || err != nil {
		t.Fatalf("progress = %d, %v", p, err)
	}
	if _, err := startReader(t.Context(), &readerEnv{}, "journald", t.TempDir()); err == nil {
		t.Fatal("unknown reader started")
	}
}
