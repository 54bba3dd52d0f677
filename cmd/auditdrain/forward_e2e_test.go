package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// TestForwardCollectE2E: a daemon with forward_url set and `auditdrain
// collect` on a real nats-server -js. 1,000 execs, during which the
// daemon is killed with SIGKILL ten times in the middle of forwarding
// (restarted each time, resuming from its cursor) and the server is
// killed and restarted once. At the end the collector's directory holds
// the host's log exactly: the same lines in the same order, no gap and
// no duplicate, and every exec's SYSCALL record.
func TestForwardCollectE2E(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	srv := audittest.StartNATS(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	central := filepath.Join(dir, "central")
	key := k.Key("fwd")
	rules := writeRules(t, k, dir, fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", os.Getpid(), key))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--log-dir", logDir, "--rules", rules, "--control-socket", filepath.Join(dir, "ctl.sock"),
		"--set", "forward_url=" + srv.URL(), "--set", "max_log_file=1", "--set", "flush_interval=20ms"}
	d := startDaemon(t, args...)
	d.waitReady(t)

	col := exec.Command(binPath, "collect", "--from", srv.URL(), "--dir", central)
	colErr := &syncBuffer{}
	col.Stderr = colErr
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		col.Process.Signal(syscall.SIGTERM)
		col.Wait()
		if t.Failed() {
			t.Logf("collector stderr:\n%s", colErr.String())
		}
	})

	lost0 := kernelLost(t)
	const n = 1000
	execs := func(m int) {
		for range m {
			if err := exec.Command("/bin/true").Run(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The execs of /bin/true; `auditdrain cat` run by the test is audited too.
	trues := func(log string) int { return countLines(log, "type=SYSCALL ", `comm="true"`) }
	hostKeyed := func() int { return trues(catLog(t, logDir)) }
	done := 0
	for round := range 10 {
		if round == 4 {
			// The server goes away under the daemon; the log goes on.
			srv.Stop()
			execs(n / 10)
			srv.Start()
		} else {
			execs(n / 10)
		}
		done += n / 10
		// Kill -9 once the records are on disk, while the forwarder is
		// still sending them (or just has).
		waitUntil(t, 10*time.Second, "the execs on disk", func() bool { return hostKeyed() >= done })
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
		d = startDaemon(t, args...)
		d.waitReady(t)
	}
	if lost := kernelLost(t) - lost0; lost != 0 {
		t.Errorf("kernel lost %d records", lost)
	}
	waitUntil(t, 10*time.Second, "every exec on disk", func() bool { return hostKeyed() >= n })
	// Everything on disk now reaches the collector; the daemon keeps
	// writing its own records, so the collected log is a prefix of the
	// host's that holds every exec.
	hostDir := filepath.Join(central, host)
	var got, want string
	waitUntil(t, 30*time.Second, "the collector to have every exec", func() bool {
		if _, err := os.Stat(hostDir); err != nil {
			return false
		}
		want = catLog(t, logDir)
		got = catLog(t, hostDir)
		return trues(got) >= n
	})
	if !strings.HasPrefix(want, got) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the collected log is not the host's log: they differ at byte %d:\ncollected %.300q\nhost      %.300q",
			i, got[i:], want[i:])
	}
	if c := trues(got); c != n {
		t.Fatalf("collected %d SYSCALL records of key %s, want %d", c, key, n)
	}
	st, err := exec.Command(binPath, "status", "--control-socket", filepath.Join(dir, "ctl.sock")).CombinedOutput()
	if err != nil || !strings.Contains(string(st), "forward_lag_") && !strings.Contains(string(st), "forward_records") {
		t.Errorf("status shows no forwarding (%v):\n%s", err, st)
	}
	t.Logf("collected %d bytes of log text; status:\n%s", len(got), st)
}

// waitUntil polls cond every 50ms until it holds or the timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestForwardServerDownUnderLoad: 20,000 getppid events/s for 9 s (the
// bench's syscall load worker) with the server killed for 5 s in the
// middle. The kernel loses nothing (the forwarder reads from disk and
// never stalls the drain), status shows the lag while the server is
// away, and afterwards every event reaches the collector exactly once.
func TestForwardServerDownUnderLoad(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	srv := audittest.StartNATS(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	central := filepath.Join(dir, "central")
	sock := filepath.Join(dir, "ctl.sock")
	key := k.Key("fwdload")

	scratch := filepath.Join(dir, "scratch")
	os.MkdirAll(scratch, 0o700)
	load := exec.Command(binPath, "bench", "load-worker", "--load", "syscall", "--scratch", scratch)
	in, _ := load.StdinPipe()
	out, _ := load.StdoutPipe()
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Process.Kill(); load.Wait() })
	lines := bufio.NewReader(out)
	if l, err := lines.ReadString('\n'); err != nil || !strings.Contains(l, `"ready":true`) {
		t.Fatalf("load worker: %q %v", l, err)
	}
	rules := writeRules(t, k, dir, fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F pid=%d -k %s", load.Process.Pid, key))
	d := startDaemon(t, "--log-dir", logDir, "--rules", rules, "--control-socket", sock, "--set", "forward_url="+srv.URL())
	d.waitReady(t)
	col := exec.Command(binPath, "collect", "--from", srv.URL(), "--dir", central)
	colErr := &syncBuffer{}
	col.Stderr = colErr
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		col.Process.Signal(syscall.SIGTERM)
		col.Wait()
		if t.Failed() {
			t.Logf("collector stderr:\n%s", colErr.String())
		}
	})

	lost0 := kernelLost(t)
	spec, _ := json.Marshal(map[string]any{"Rate": 20000, "Threads": 1, "Duration": 9 * time.Second, "Key": key})
	in.Write(append(spec, '\n'))
	time.Sleep(2 * time.Second) // load running, forwarding keeping up
	srv.Stop()
	down := time.Now()
	time.Sleep(4 * time.Second) // the outage, minus the status check below
	var status struct {
		Daemon struct {
			LagBytes   int64   `json:"forward_lag_bytes"`
			LagRecords uint64  `json:"forward_lag_records"`
			LagSeconds float64 `json:"forward_lag_seconds"`
		} `json:"daemon"`
	}
	if b, err := exec.Command(binPath, "status", "--json", "--control-socket", sock).Output(); err != nil {
		t.Errorf("status: %v", err)
	} else if err := json.Unmarshal(b, &status); err != nil {
		t.Errorf("status: %v", err)
	}
	st := status.Daemon
	time.Sleep(5*time.Second - time.Since(down))
	srv.Start()
	if st.LagBytes == 0 || st.LagRecords == 0 || st.LagSeconds < 1 {
		t.Errorf("status with the server down for 4 s: lag %d bytes, %d records, %.1f s; want all above zero (and >= 1 s)",
			st.LagBytes, st.LagRecords, st.LagSeconds)
	}
	res, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("load worker: %v", err)
	}
	var r struct{ Events int }
	json.Unmarshal([]byte(res), &r)
	if r.Events < 100000 {
		t.Fatalf("the load made only %d events: %s", r.Events, res)
	}
	if lost := kernelLost(t) - lost0; lost != 0 {
		t.Errorf("kernel lost %d records", lost)
	}
	keyed := func(log string) int { return countLines(log, "type=SYSCALL ", `key="`+key+`"`) }
	waitUntil(t, 20*time.Second, "every event on disk", func() bool { return keyed(catLog(t, logDir)) >= r.Events })
	host, _ := os.Hostname()
	var got, want string
	waitUntil(t, 60*time.Second, "every event collected", func() bool {
		if _, err := os.Stat(filepath.Join(central, host)); err != nil {
			return false
		}
		got = catLog(t, filepath.Join(central, host))
		return keyed(got) >= r.Events
	})
	want = catLog(t, logDir)
	if !strings.HasPrefix(want, got) {
		t.Fatalf("the collected log (%d bytes) is not a prefix of the host's (%d bytes)", len(got), len(want))
	}
	if c, h := keyed(got), keyed(want); c != r.Events || h != r.Events {
		t.Fatalf("events: %d made, %d in the host's log, %d collected", r.Events, h, c)
	}
	t.Logf("%d events at 20k/s, server down 5 s: lag then %d bytes, %d records, %.1f s; all collected once", r.Events, st.LagBytes, st.LagRecords, st.LagSeconds)
}
