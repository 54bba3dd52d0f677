package service

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket listens on a unixgram socket as systemd does, points
// NOTIFY_SOCKET at it, and delivers each datagram on the channel.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	ch := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return ch
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(2 * time.Second):
		t.Fatal("no notification within 2s")
		return ""
	}
}

func TestNotifier(t *testing.T) {
	ch := notifySocket(t)
	n := NewNotifier()
	if !n.Enabled() {
		t.Fatal("Enabled() false with NOTIFY_SOCKET set")
	}
	f := func(send func() error, want string) {
		t.Helper()
		if err := send(); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, ch); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(func() error { return n.Ready("") }, "READY=1")
	f(func() error { return n.Ready("running: 12 records/s") }, "READY=1\nSTATUS=running: 12 records/s")
	f(func() error { return n.Status("two\nlines") }, "STATUS=two lines")
	f(n.Watchdog, "WATCHDOG=1")
	f(n.Stopping, "STOPPING=1")
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch)
	usec, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
	if _, err := strconv.ParseUint(usec, 10, 64); !ok || err != nil {
		t.Errorf("Reloading sent %q", got)
	}
}

func TestNotifierWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := NewNotifier()
	if n.Enabled() {
		t.Error("Enabled() true without NOTIFY_SOCKET")
	}
	if err := n.Ready("x"); err != nil {
		t.Errorf("Ready without a service manager: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if err := n.Ready("x"); err == nil || !strings.Contains(err.Error(), "nobody-listens") {
		t.Errorf("Ready to a dead socket: %v", err)
	}
}

// countFor counts the watchdog pings arriving within d.
func countFor(t *testing.T, ch <-chan string, d time.Duration) int {
	t.Helper()
	n := 0
	deadline := time.After(d)
	for {
		select {
		case m := <-ch:
			if m != "WATCHDOG=1" {
				t.Errorf("unexpected notification %q", m)
			}
			n++
		case <-deadline:
			return n
		}
	}
}

// TestWatchdogStopsWhenWedged: pings every half interval while healthy,
// none while the pipeline is wedged, again once it recovers.
func TestWatchdogStopsWhenWedged(t *testing.T) {
	ch := notifySocket(t)
	const interval = 100 * time.Millisecond
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int(interval/time.Microsecond)))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var healthy atomic.Bool
	healthy.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watchdog(ctx, NewNotifier(), healthy.Load) }()

	if n := countFor(t, ch, 500*time.Millisecond); n < 4 || n > 12 {
		t.Errorf("healthy: %d pings in 500ms, want about 10 (one per 50ms)", n)
	}
	healthy.Store(false) // a wedged pipeline
	countFor(t, ch, interval/2+20*time.Millisecond)
	if n := countFor(t, ch, 500*time.Millisecond); n != 0 {
		t.Errorf("wedged: %d pings in 500ms, want none", n)
	}
	healthy.Store(true)
	if n := countFor(t, ch, 300*time.Millisecond); n < 3 {
		t.Errorf("recovered: %d pings in 300ms", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watchdog: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Watchdog did not return after cancel")
	}
}

func TestWatchdogDisabled(t *testing.T) {
	ch := notifySocket(t)
	ctx := context.Background()
	f := func(usec, pid string) error {
		t.Helper()
		t.Setenv("WATCHDOG_USEC", usec)
		t.Setenv("WATCHDOG_PID", pid)
		done := make(chan error, 1)
		go func() { done <- Watchdog(ctx, NewNotifier(), func() bool { return true }) }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Second):
			t.Fatalf("Watchdog(WATCHDOG_USEC=%q WATCHDOG_PID=%q) kept running", usec, pid)
			return nil
		}
	}
	if err := f("", ""); err != nil {
		t.Error(err)
	}
	if err := f("100000", strconv.Itoa(os.Getpid()+1)); err != nil { // another process's watchdog
		t.Error(err)
	}
	if err := f("soon", ""); err == nil {
		t.Error("malformed WATCHDOG_USEC accepted")
	}
	if n := countFor(t, ch, 100*time.Millisecond); n != 0 {
		t.Errorf("%d pings without a watchdog", n)
	}
}
