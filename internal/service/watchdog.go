package service

import (
	"context"
	"os"
	"time"
)

// lookupNotifySocket returns NOTIFY_SOCKET.
func lookupNotifySocket() (string, bool) {
	s, ok := os.LookupEnv("NOTIFY_SOCKET")
	return s, ok && s != ""
}

// Watchdog pings n's watchdog at half the interval the service manager set,
// but only while healthy returns true: healthy is the daemon's pipeline
// health (records are moving, or there are none to move), so a wedged
// pipeline stops the pings and systemd restarts the service after
// WatchdogSec=. It pings once at start (if healthy), then on every tick,
// until ctx ends.
//
// Without a watchdog (no WATCHDOG_USEC, or WATCHDOG_PID naming another
// process) it returns nil at once. It returns an error only for malformed
// watchdog settings. A ping that cannot be sent is not retried before the
// next tick: a missed ping costs nothing until a whole interval passes
// without one, and then the restart is what should happen.
//
// healthy is called from Watchdog's goroutine, once per tick; it must not
// block.
func Watchdog(ctx context.Context, n *Notifier, healthy func() bool) error {
	interval, err := n.WatchdogInterval()
	if err != nil || interval <= 0 {
		return err
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		if healthy() {
			_ = n.Watchdog()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
