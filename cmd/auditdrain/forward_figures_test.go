package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// procCPU is the user+system CPU time of process pid.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ = 100
}

// runLoad runs the bench's syscall load worker at rate (0: flat out) for
// d and returns the events it made.
func runLoad(t *testing.T, scratch string, rate int, d time.Duration) int {
	t.Helper()
	load := exec.Command(binPath, "bench", "load-worker", "--load", "syscall", "--scratch", scratch)
	in, _ := load.StdinPipe()
	out, _ := load.StdoutPipe()
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer load.Wait()
	lines := bufio.NewReader(out)
	if l, err := lines.ReadString('\n'); err != nil || !strings.Contains(l, `"ready":true`) {
		t.Fatalf("load worker: %q %v", l, err)
	}
	spec, _ := json.Marshal(map[string]any{"Rate": rate, "Threads": 1, "Duration": d, "Key": "x"})
	in.Write(append(spec, '\n'))
	res, err := lines.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Events int }
	json.Unmarshal([]byte(res), &r)
	return r.Events
}

type fwdStatus struct {
	Daemon struct {
		Records    uint64  `json:"forward_records"`
		Bytes      uint64  `json:"forward_bytes_sent"`
		Written    uint64  `json:"records_written"`
		LagRecords uint64  `json:"forward_lag_records"`
		P50        float64 `json:"forward_latency_p50_ms"`
		P99        float64 `json:"forward_latency_p99_ms"`
		Lost       uint64  `json:"lost_total"`
	} `json:"daemon"`
}

func readStatus(t *testing.T, sock string) fwdStatus {
	t.Helper()
	var st fwdStatus
	b, err := exec.Command(binPath, "status", "--json", "--control-socket", sock).Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	json.Unmarshal(b, &st)
	return st
}

// TestForwardFiguresDaemon measures forwarding in the daemon on the
// bench's syscall load (FORWARD_FIGURES=1 only): the drain flat out
// without and with forwarding (events/s, daemon CPU, records forwarded
// per second), then 20,000 events/s (ack latency p50/p99, bytes sent per
// record).
func TestForwardFiguresDaemon(t *testing.T) {
	if os.Getenv("FORWARD_FIGURES") == "" {
		t.Skip("figures: set FORWARD_FIGURES=1")
	}
	k := audittest.Kernel(t)
	k.StopAuditd()
	srv := audittest.StartNATS(t)
	dir := t.TempDir()
	scratch := filepath.Join(dir, "scratch")
	os.MkdirAll(scratch, 0o700)
	key := k.Key("fwdfig")
	rules := writeRules(t, k, dir, fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F ppid=%d -k %s", os.Getpid(), key))
	const flat = 8 * time.Second
	for i, fwd := range []bool{false, true} {
		sock := filepath.Join(dir, fmt.Sprintf("ctl%d.sock", i))
		args := []string{"--log-dir", filepath.Join(dir, fmt.Sprintf("log%d", i)), "--rules", rules, "--control-socket", sock}
		if fwd {
			args = append(args, "--set", "forward_url="+srv.URL())
		}
		d := startDaemon(t, args...)
		d.waitReady(t)
		pid := d.cmd.Process.Pid
		cpu0, t0 := procCPU(t, pid), time.Now()
		n := runLoad(t, scratch, 0, flat)
		el := time.Since(t0)
		cpu := procCPU(t, pid) - cpu0
		line := fmt.Sprintf("flat out, forwarding %v: %d events in %v = %.0f events/s, daemon CPU %.0f%% of one CPU",
			fwd, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), 100*cpu.Seconds()/el.Seconds())
		if fwd {
			st := readStatus(t, sock)
			waitUntil(t, 60*time.Second, "forwarding caught up", func() bool {
				st = readStatus(t, sock)
				return st.Daemon.LagRecords == 0
			})
			all := time.Since(t0)
			line += fmt.Sprintf("; %d records forwarded, all acknowledged %v after the load started: %.0f records/s",
				st.Daemon.Records, all.Round(time.Millisecond), float64(st.Daemon.Records)/all.Seconds())
			// 20k events/s.
			r0 := st.Daemon.Records
			b0 := st.Daemon.Bytes
			cpu0, t0 = procCPU(t, pid), time.Now()
			n = runLoad(t, scratch, 20000, 10*time.Second)
			el = time.Since(t0)
			cpu = procCPU(t, pid) - cpu0
			waitUntil(t, 30*time.Second, "forwarding caught up", func() bool {
				st = readStatus(t, sock)
				return st.Daemon.LagRecords == 0
			})
			line += fmt.Sprintf("\n20k/s: %d events, daemon CPU %.0f%% of one CPU; forward latency (oldest record to ack, last batches) p50 %.0f ms p99 %.0f ms; %.1f bytes sent per record (%d records, %d bytes)",
				n, 100*cpu.Seconds()/el.Seconds(), st.Daemon.P50, st.Daemon.P99,
				float64(st.Daemon.Bytes-b0)/float64(st.Daemon.Records-r0), st.Daemon.Records-r0, st.Daemon.Bytes-b0)
		}
		t.Log(line)
		d.stop(t)
	}
}
