package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/tally"
	libaudit "github.com/elastic/go-libaudit/v2"
)

const goodCmdline = "root=/dev/sda1 quiet audit=1 audit_backlog_limit=8192"

// quiet is a well-tuned machine with a daemon that has seen a little
// traffic and no loss.
func quiet() Input {
	return Input{
		Root:    true,
		Cmdline: goodCmdline,
		Kernel:  &libaudit.AuditStatus{Enabled: 1, Failure: 1, PID: 4242, BacklogLimit: 8192, BacklogWaitTime: 15000},
		Rules:   []string{"-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=-1 -F key=exec", "-w /etc/passwd -p wa -k identity"},
		Config:  config.Default(),
		Daemon:  &daemon.Status{LogDir: "/var/log/auditdrain", Fsyncs: 10, FsyncP99Ms: 2, Lost: map[string]uint64{}},
		Top: &tally.Top{
			UptimeSeconds: 3600, Events: 120, BacklogLimit: 8192, BacklogPeak: 12,
			Loss:   []tally.LossRow{{Cause: "kernel"}, {Cause: "gap"}},
			Tables: []tally.Table{{Dim: "key", Complete: true, Rows: []tally.Row{{Name: "exec", Total: 100}, {Name: "identity", Total: 20}}}},
		},
		Disk: &Disk{Dir: "/var/log/auditdrain", FreeBytes: 50 << 30, SizeBytes: 100 << 30, LogBytes: 1 << 30},
	}
}

func find(fs []Finding, check string, sev Severity) *Finding {
	for i := range fs {
		if fs[i].Check == check && fs[i].Severity == sev {
			return &fs[i]
		}
	}
	return nil
}

func text(f *Finding) string {
	if f == nil {
		return ""
	}
	var b bytes.Buffer
	Write(&b, []Finding{*f})
	return b.String()
}

func TestQuietMachineHasNoError(t *testing.T) {
	fs := Check(quiet())
	if w := Worst(fs); w >= Warn {
		var b bytes.Buffer
		Write(&b, fs)
		t.Fatalf("worst finding %v on a quiet machine:\n%s", w, b.String())
	}
}

func TestCmdline(t *testing.T) {
	f := func(cmdline string, want Severity, contains string) {
		t.Helper()
		in := quiet()
		in.Cmdline = cmdline
		fs := Check(in)
		got := find(fs, "cmdline", want)
		if got == nil || !strings.Contains(text(got), contains) {
			t.Errorf("cmdline %q: no %v finding containing %q in %+v", cmdline, want, contains, fs)
		}
	}
	f("quiet", Warn, "lacks audit=1")
	f("quiet audit=1", Warn, "audit_backlog_limit=8192")
	f("quiet audit=0", Error, "audit=1")
	f(goodCmdline, OK, "audit=1")
	// Words after "--" are init's, not the kernel's.
	f("quiet -- audit=1 audit_backlog_limit=1", Warn, "lacks audit=1")
}

// The troubleshooting guide's case: backlog_limit 64, an unfiltered
// execve rule making 95% of events, the backlog full and records lost.
func TestBacklogExceeded(t *testing.T) {
	in := quiet()
	in.Kernel.BacklogLimit = 64
	in.Rules = append(in.Rules, "-a always,exit -F arch=b64 -S execve -F key=noisy")
	in.Top = &tally.Top{
		UptimeSeconds: 30, Events: 2000, BacklogLimit: 64, BacklogPeak: 64,
		Loss: []tally.LossRow{{Cause: "kernel", Total: 37, LastHour: 37}},
		Tables: []tally.Table{
			{Dim: "key", Complete: true, Rows: []tally.Row{{Name: "noisy", Total: 1900}, {Name: "exec", Total: 100}}},
			{Dim: "exe", Complete: true, Rows: []tally.Row{{Name: "/usr/bin/true", Total: 1900}}},
		},
	}
	fs := Check(in)
	if Worst(fs) != Error {
		t.Fatalf("worst %v, want error", Worst(fs))
	}
	b := text(find(fs, "backlog", Error))
	for _, want := range []string{"peak 64 of backlog_limit 64", "37 records were lost", "rules.d: -b 8192", "backlog_limit = 8192"} {
		if !strings.Contains(b, want) {
			t.Errorf("backlog finding lacks %q:\n%s", want, b)
		}
	}
	l := text(find(fs, "loss", Error))
	if !strings.Contains(l, "37 records lost, cause kernel") || !strings.Contains(l, "37 in the last hour") {
		t.Errorf("loss finding:\n%s", l)
	}
	r := text(find(fs, "rules", Warn))
	for _, want := range []string{"rule key noisy is the source of 95.0% of events", "an unfiltered execve rule",
		"-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=unset -k noisy",
		"-a never,exit -F arch=b64 -S execve -F exe=/usr/bin/true"} {
		if !strings.Contains(r, want) {
			t.Errorf("rules finding lacks %q:\n%s", want, r)
		}
	}
	// The identity watch never matched.
	if n := text(find(fs, "rules", Info)); !strings.Contains(n, "-w /etc/passwd -p wa -k identity") {
		t.Errorf("never-matched finding:\n%s", n)
	}
}

// Loss with no rate limit means the backlog filled up, even when the 1 s
// polls never saw it full.
func TestLossBetweenPolls(t *testing.T) {
	in := quiet()
	in.Kernel.BacklogLimit = 64
	in.Top.BacklogLimit, in.Top.BacklogPeak = 64, 3
	in.Top.Loss = []tally.LossRow{{Cause: "kernel", Total: 48, LastHour: 48}}
	b := text(find(Check(in), "backlog", Error))
	for _, want := range []string{"peak 64 of backlog_limit 64", "between two 1 s polls", "rules.d: -b 8192"} {
		if !strings.Contains(b, want) {
			t.Errorf("backlog finding lacks %q:\n%s", want, b)
		}
	}
}

func TestRecommendBacklog(t *testing.T) {
	for peak, want := range map[uint64]uint64{0: 8192, 64: 8192, 4096: 8192, 5000: 16384, 8192: 16384, 100000: 262144} {
		if got := RecommendBacklog(peak); got != want || got < peak {
			t.Errorf("RecommendBacklog(%d) = %d, want %d", peak, got, want)
		}
	}
}

func TestBusyDirectoryWatch(t *testing.T) {
	in := quiet()
	in.Rules = []string{"-w /var/tmp -p rwxa -k tmpwatch"}
	in.IsDir = func(p string) bool { return p == "/var/tmp" }
	in.Top.Events = 1000
	in.Top.Tables = []tally.Table{{Dim: "key", Complete: true, Rows: []tally.Row{{Name: "tmpwatch", Total: 900}}}}
	r := text(find(Check(in), "rules", Warn))
	for _, want := range []string{"90.0%", "a watch on a busy directory", "-w /var/tmp -p wa -k tmpwatch", "-F dir=/var/tmp -F perm=wa -F auid>=1000"} {
		if !strings.Contains(r, want) {
			t.Errorf("lacks %q:\n%s", want, r)
		}
	}
}

func TestKernelSettings(t *testing.T) {
	in := quiet()
	in.Kernel.RateLimit = 100
	in.Kernel.Failure = 0
	fs := Check(in)
	if f := text(find(fs, "rate_limit", Warn)); !strings.Contains(f, "rules.d: -r 0") {
		t.Errorf("rate_limit:\n%s", f)
	}
	if f := text(find(fs, "failure", Warn)); !strings.Contains(f, "rules.d: -f 1") {
		t.Errorf("failure:\n%s", f)
	}
	in = quiet()
	in.Kernel.Failure = 2
	in.Kernel.Lost = 3
	if f := find(Check(in), "failure", Error); f == nil {
		t.Error("failure 2 with loss is not an error")
	}
	in = quiet()
	in.Kernel.Enabled = 0
	if f := find(Check(in), "enabled", Error); f == nil {
		t.Error("enabled 0 is not an error")
	}
}

func TestLossCauses(t *testing.T) {
	in := quiet()
	in.Top.Loss = []tally.LossRow{{Cause: "dropped", Total: 5, LastHour: 0}, {Cause: "gap", Total: 9, LastHour: 9}, {Cause: "overrun", Total: 1, LastHour: 1}}
	fs := Check(in)
	if f := text(find(fs, "loss", Warn)); !strings.Contains(f, "5 records lost, cause dropped") || !strings.Contains(f, "ring_size") {
		t.Errorf("old loss should be a warning with a fix:\n%s", f)
	}
	if f := text(find(fs, "loss", Error)); !strings.Contains(f, "cause overrun") || !strings.Contains(f, "rcvbuf = 64M (twice the configured 32M)") {
		t.Errorf("last hour's loss should be an error:\n%s", f)
	}
	if f := find(fs, "loss", Info); f == nil || !strings.Contains(f.Title, "gap") {
		t.Errorf("gap should be a note: %+v", f)
	}
}

// Without root or a daemon, doctor says what it could not check, and
// the checks that need them are not run.
func TestNoRootNoDaemon(t *testing.T) {
	in := Input{Cmdline: goodCmdline, Config: config.Default(), Disk: &Disk{Dir: "/x", FreeBytes: 1 << 30, SizeBytes: 2 << 30}}
	fs := Check(in)
	if f := find(fs, "access", Info); f == nil || !strings.Contains(f.Title, "not root") {
		t.Fatalf("no not-root note: %+v", fs)
	}
	for _, f := range fs {
		if f.Check == "rules" || f.Check == "loss" || f.Check == "backlog" {
			t.Errorf("%s checked without root: %+v", f.Check, f)
		}
	}
	in.Root = true
	in.Kernel = &libaudit.AuditStatus{Enabled: 1, Failure: 1, BacklogLimit: 8192, Lost: 12}
	fs = Check(in)
	if f := find(fs, "daemon", Info); f == nil {
		t.Errorf("no note that no daemon runs: %+v", fs)
	}
	if f := find(fs, "loss", Warn); f == nil || !strings.Contains(f.Title, "lost 12 records") {
		t.Errorf("kernel lost counter without a daemon: %+v", f)
	}
}

func TestDiskRetention(t *testing.T) {
	in := quiet()
	in.Config.NumLogs = 100
	in.Config.MaxLogFile = 1024 // MiB: 100 GiB of retention
	in.Disk.FreeBytes = 10 << 30
	f := text(find(Check(in), "disk", Warn))
	if !strings.Contains(f, "the disk fills before old segments are deleted") || !strings.Contains(f, "max_total_log_size = ") {
		t.Errorf("retention:\n%s", f)
	}
	in = quiet()
	in.Daemon.FsyncP99Ms = 250
	if f := find(Check(in), "disk", Warn); f == nil || !strings.Contains(f.Title, "fsync p99 250 ms") {
		t.Errorf("slow fsync: %+v", f)
	}
	in = quiet()
	in.Daemon.Suspended, in.Daemon.SuspendCause = true, "disk full"
	if find(Check(in), "disk", Error) == nil {
		t.Error("suspended writing is not an error")
	}
}

func TestPlugins(t *testing.T) {
	in := quiet()
	in.Daemon.Plugins = []daemon.PluginStatus{{Name: "a.conf", State: "failed", Restarts: 10}, {Name: "b.conf", State: "running", Lost: 4}, {Name: "c.conf", State: "running"}}
	fs := Check(in)
	if find(fs, "plugins", Error) == nil || find(fs, "plugins", Warn) == nil || find(fs, "plugins", OK) == nil {
		t.Errorf("plugins: %+v", fs)
	}
}

func TestConfigError(t *testing.T) {
	in := quiet()
	in.ConfigErr = errors.New("config: auditdrain.conf:3: unknown key \"bogus\"")
	if f := find(Check(in), "config", Error); f == nil || !strings.Contains(f.Title, "assume the defaults") {
		t.Errorf("bad config: %+v", f)
	}
	in.Root = false
	in.ConfigErr = fmt.Errorf("open x: %w", fs.ErrPermission)
	if f := find(Check(in), "config", Info); f == nil {
		t.Errorf("unreadable config as non-root is not a note")
	}
}

func TestForward(t *testing.T) {
	in := quiet()
	if f := find(Check(in), "forward", OK); f != nil {
		t.Errorf("a finding on forwarding without forward_url: %+v", f)
	}
	in.Daemon.ForwardURL = "nats://127.0.0.1:4222"
	in.Daemon.ForwardLastError = "nats: authorization violation"
	if f := text(find(Check(in), "forward", Error)); !strings.Contains(f, "not connected") || !strings.Contains(f, "authorization violation") || !strings.Contains(f, "max_total_log_size") {
		t.Errorf("a forwarder not connected should be an error naming its last error and the retention fix:\n%s", f)
	}
	in.Daemon.ForwardConnected, in.Daemon.ForwardLastError = true, ""
	in.Daemon.ForwardLagSeconds = 300
	if f := find(Check(in), "forward", Warn); f == nil || !strings.Contains(f.Title, "5m0s behind") {
		t.Errorf("a forwarder 5 minutes behind should be a warning: %+v", f)
	}
	in.Daemon.ForwardLagSeconds = 0.2
	if f := find(Check(in), "forward", OK); f == nil {
		t.Errorf("a forwarder keeping up should be OK")
	}
}
