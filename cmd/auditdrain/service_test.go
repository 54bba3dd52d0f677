package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// READY=1 reaches systemd's notify socket only once the daemon holds the
// registration (and so has loaded its rules and opened its writer).
func TestNotifyReadyAfterRegistration(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sockPath)
	d := startDaemon(t, "--log-dir", filepath.Join(dir, "log"), "--control-socket", filepath.Join(dir, "c.sock"))
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 from the daemon: %v", err)
		}
		msg := string(buf[:n])
		if !strings.Contains(msg, "READY=1") {
			continue
		}
		st, err := k.Conn().Status()
		if err != nil {
			t.Fatal(err)
		}
		if st.PID != uint32(d.cmd.Process.Pid) {
			t.Fatalf("READY=1 (%q) before registration: kernel pid %d, daemon %d", msg, st.PID, d.cmd.Process.Pid)
		}
		if !strings.Contains(msg, "STATUS=") {
			t.Errorf("READY without a STATUS line: %q", msg)
		}
		break
	}

	// SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again once
	// the reload is applied, as systemctl reload waits for.
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for reloading := false; ; {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after SIGHUP: %v; messages so far %q", err, seen)
		}
		msg := string(buf[:n])
		seen = append(seen, msg)
		if strings.Contains(msg, "RELOADING=1") {
			if !strings.Contains(msg, "MONOTONIC_USEC=") {
				t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
			}
			reloading = true
		} else if reloading && strings.Contains(msg, "READY=1") {
			break
		}
	}
	d.stop(t)
}

// SIGHUP under sustained load: every event of the rule kept across the
// reload is on disk, and the rule added by the reload is in effect.
func TestReloadUnderLoad(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	keep, added := k.Key("keep"), k.Key("added")
	watched := filepath.Join(dir, "watched")
	os.WriteFile(watched, nil, 0o600)
	keepRule := fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", os.Getpid(), keep)
	rules := writeRules(t, k, dir, keepRule)
	// The rule the reload adds, cleaned up by writeRules' cleanup too.
	writeRules(t, k, t.TempDir(), keepRule, fmt.Sprintf("-w %s -p wa -k %s", watched, added))

	logDir := filepath.Join(dir, "log")
	d := startDaemon(t, "--log-dir", logDir, "--rules", rules, "--control-socket", filepath.Join(dir, "c.sock"))
	d.waitReady(t)
	const n = 1500
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := exec.Command("/bin/true").Run(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(rules, []byte(keepRule+"\n"+fmt.Sprintf("-w %s -p wa -k %s", watched, added)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.stderr.String(), "reloaded rules") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(watched, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d.stop(t)
	log := catLog(t, logDir)
	if got := countLines(log, "type=SYSCALL ", `key="`+keep+`"`); got != n {
		t.Fatalf("%d of %d execve events on disk across the reload", got, n)
	}
	if got := countLines(log, "type=SYSCALL ", `key="`+added+`"`); got < 1 {
		t.Fatalf("the rule added by the reload is not in effect:\n%s", d.stderr.String())
	}
}
