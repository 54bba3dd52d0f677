package plugins

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

const (
	auditdBin        = "/usr/sbin/auditd"
	remoteConfPath   = audittest.AudispRemoteConf
	debianRemotePlug = audittest.AudispRemotePlug
)

// TestAudispRemote runs Debian's audisp-remote as a plugin (from its own
// au-remote.conf, made active), sending to a second, real auditd that
// aggregates only (local_events = no, tcp_listen_port on this machine; it
// never registers with the kernel). Every record fed through Dispatch
// arrives in the aggregator's log, line for line (auditd does not log EOE
// records, so those are fed but not expected).
func TestAudispRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real auditd aggregator and audisp-remote; not in -short")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root: rewrites " + remoteConfPath + " and runs auditd")
	}
	for _, f := range []string{auditdBin, debianRemotePlug, remoteConfPath} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v (apt-get install -y auditd audispd-plugins)", err)
		}
	}
	// The aggregator writes /var/run/auditd.pid and the test rewrites
	// audisp-remote.conf: both are machine-wide.
	unlock, err := auditctl.LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)

	// A real auditd aggregating on 127.0.0.1, audisp-remote.conf pointed
	// at it (restored afterwards), and Debian's au-remote.conf made active.
	logFile := audittest.Aggregator(t)
	plugDir := t.TempDir()
	audittest.AudispRemotePlugin(t, plugDir)
	cfgs, err := LoadDir(plugDir)
	if err != nil || len(cfgs) != 1 || !cfgs[0].Active || cfgs[0].Format != FormatString {
		t.Fatalf("LoadDir(Debian's au-remote.conf made active) = %+v, %v", cfgs, err)
	}
	d, err := New(cfgs, Options{MaxRestarts: DefaultMaxRestarts, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopDispatcher(t, d)

	const events = 1000
	start := time.Now()
	var want []string
	f := newLineFormatter("")
	sent := 0
	for ev := range events {
		if ev%100 == 0 {
			// Feed at the plugin's pace: Dispatch would drop records
			// beyond its q_depth (2000), by design.
			waitFor(t, 30*time.Second, "room in audisp-remote's queue", func() (bool, string) {
				s := stat(d, "au-remote.conf")
				return s.QueueDepth < 1000, fmt.Sprintf("%+v", s)
			})
		}
		for i := ev * 4; i < ev*4+4; i++ {
			typ, p := kernelRecord(i)
			d.Dispatch(typ, p)
			want = append(want, strings.TrimSuffix(string(f.appendLine(nil, typ, p)), "\n"))
			sent++
		}
		eoe := fmt.Sprintf("audit(1796200000.%03d:%d): ", ev%1000, 1000+ev)
		d.Dispatch(1320, []byte(eoe))
		sent++
	}

	t.Logf("fed in %v", time.Since(start))
	var got []string
	waitFor(t, 60*time.Second, fmt.Sprintf("%d records in the aggregator's log", len(want)), func() (bool, string) {
		got = recordLines(t, logFile)
		return len(got) >= len(want), fmt.Sprintf("%d lines; plugin %+v", len(got), stat(d, "au-remote.conf"))
	})
	t.Logf("all in the aggregator's log after %v", time.Since(start))
	if len(got) != len(want) {
		t.Errorf("aggregator logged %d records, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("aggregator's line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if s := stat(d, "au-remote.conf"); s.Delivered != uint64(sent) || s.Lost != 0 || s.Restarts != 0 {
		t.Errorf("plugin stats %+v; want %d delivered, none lost", s, sent)
	}
	t.Logf("%d records (%d events) through audisp-remote to the aggregator, line for line", sent, events)
	start = time.Now()
	stopDispatcher(t, d)
	t.Logf("Stop took %v", time.Since(start))
}

// recordLines returns the lines of an auditd log that are not the
// daemon's own (DAEMON_START, DAEMON_ACCEPT...).
func recordLines(_ *testing.T, path string) []string { return audittest.RecordLines(path) }

const debianSyslogPlug = "/etc/audit/plugins.d/syslog.conf"

// TestAudispSyslog runs Debian's audisp-syslog as a plugin (its
// syslog.conf made active: args LOG_INFO) and reads what it logs on a
// /dev/log the test owns: every record arrives, in order.
func TestAudispSyslog(t *testing.T) {
	if testing.Short() {
		t.Skip("runs audisp-syslog and binds /dev/log; not in -short")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root: binds /dev/log")
	}
	if _, err := os.Stat(debianSyslogPlug); err != nil {
		t.Fatalf("%v (apt-get install -y audispd-plugins)", err)
	}
	unlock, err := auditctl.LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	if _, err := os.Lstat("/dev/log"); err == nil {
		t.Skip("/dev/log exists (a syslog daemon owns it); the test needs to bind it itself")
	}
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.Remove("/dev/log") })
	if err := os.Chmod("/dev/log", 0o666); err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 1024)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := ln.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	plugDir := t.TempDir()
	deb, err := os.ReadFile(debianSyslogPlug)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, plugDir, "syslog.conf", regexp.MustCompile(`(?m)^active *=.*$`).ReplaceAllString(string(deb), "active = yes"), 0o640)
	cfgs, err := LoadDir(plugDir)
	if err != nil || len(cfgs) != 1 || cfgs[0].Path != "/sbin/audisp-syslog" || strings.Join(cfgs[0].Args, " ") != "LOG_INFO" {
		t.Fatalf("LoadDir(Debian's syslog.conf made active) = %+v, %v", cfgs, err)
	}
	d, err := New(cfgs, Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopDispatcher(t, d)

	const n = 200
	f := newLineFormatter("")
	var want []string
	for i := range n {
		typ, p := kernelRecord(i)
		d.Dispatch(typ, p)
		want = append(want, strings.TrimSuffix(string(f.appendLine(nil, typ, p)), "\n"))
	}
	next := 0
	var seen []string
	deadline := time.After(30 * time.Second)
	for next < n {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("/dev/log closed")
			}
			if len(seen) < 3 {
				seen = append(seen, m)
			}
			// "<14>Dec  2 08:22:43 audisp-syslog: type=SYSCALL msg=...\n"
			if strings.HasSuffix(strings.TrimSuffix(m, "\n"), " audisp-syslog: "+want[next]) {
				next++
			}
		case <-deadline:
			t.Fatalf("timed out: %d of %d records logged by audisp-syslog in order; next wanted %q; plugin %+v; first messages %q", next, n, want[next], stat(d, "syslog.conf"), seen)
		}
	}
	if s := stat(d, "syslog.conf"); s.Delivered != n || s.Lost != 0 {
		t.Errorf("plugin stats %+v", s)
	}
}
