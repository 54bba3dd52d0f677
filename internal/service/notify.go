package service

import (
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify(3) messages to the service manager, through
// github.com/coreos/go-systemd/v22/daemon: the socket is the one named by
// NOTIFY_SOCKET when the message is sent. Without NOTIFY_SOCKET (not
// started by systemd, or Type= is not notify) every method does nothing and
// returns nil.
//
// Concurrency: a Notifier has no state; its methods may be called from any
// goroutine, each sending one datagram on a socket of its own. The zero
// value is ready to use.
type Notifier struct{}

// NewNotifier returns a Notifier.
func NewNotifier() *Notifier { return &Notifier{} }

// Enabled reports whether the service manager listens (NOTIFY_SOCKET is
// set).
func (n *Notifier) Enabled() bool {
	_, ok := lookupNotifySocket()
	return ok
}

// Ready tells the service manager that start-up (or a reload) is complete:
// "READY=1", with "STATUS=status" when status is not empty.
func (n *Notifier) Ready(status string) error {
	if status == "" {
		return n.send(daemon.SdNotifyReady)
	}
	return n.send(daemon.SdNotifyReady + "\nSTATUS=" + oneLine(status))
}

// Status sets the one-line status `systemctl status` shows: "STATUS=s".
func (n *Notifier) Status(s string) error { return n.send("STATUS=" + oneLine(s)) }

// Reloading tells the service manager that a reload started:
// "RELOADING=1" with the monotonic time systemd 253 and later ask for.
// Ready ends it.
func (n *Notifier) Reloading() error {
	return n.send(daemon.SdNotifyReloading + "\n" + strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"))
}

// Stopping tells the service manager that shutdown started: "STOPPING=1".
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// Watchdog pings the service manager's watchdog: "WATCHDOG=1".
func (n *Notifier) Watchdog() error { return n.send(daemon.SdNotifyWatchdog) }

// WatchdogInterval returns the watchdog timeout the service manager set for
// this process (WatchdogSec=, through WATCHDOG_USEC and WATCHDOG_PID), or 0
// when there is none. Pings must come more often than that; Watchdog sends
// them at half of it.
func (n *Notifier) WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("service: watchdog settings: %w", err)
	}
	return d, nil
}

func (n *Notifier) send(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		sock, _ := lookupNotifySocket()
		return fmt.Errorf("service: sd_notify %q to %s: %w", strings.ReplaceAll(state, "\n", `\n`), sock, err)
	}
	return nil
}

// oneLine keeps a status to one line: the protocol is newline-separated.
func oneLine(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ") }
