package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/service"
)

// notifyLoop speaks systemd's notify protocol when NOTIFY_SOCKET is set:
// READY=1 once registered with rules loaded and the writer open, a STATUS=
// line with live counters every few seconds, and watchdog pings only while
// the pipeline moves records (or has none to move).
func (d *Daemon) notifyLoop(ctx context.Context) {
	n := service.NewNotifier()
	if !n.Enabled() {
		return
	}
	n.Ready(d.statusLine())
	watchdog := make(chan struct{})
	go func() { service.Watchdog(ctx, n, d.healthy); close(watchdog) }()
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-watchdog
			n.Stopping()
			return
		case <-t.C:
			n.Status(d.statusLine())
		}
	}
}

func (d *Daemon) statusLine() string {
	s := d.Status()
	return fmt.Sprintf("%d records read, %d written, %d lost (%s), ring %d/%d bytes",
		s.RecordsRead, s.RecordsWritten, s.LostTotal, s.losses().AppendText(nil, true), s.RingBytes, s.RingCapacity)
}

// losses returns Lost as a pipeline.Losses.
func (s *Status) losses() pipeline.Losses {
	var l pipeline.Losses
	for c := range pipeline.NumCauses {
		l[c] = s.Lost[c.String()]
	}
	return l
}

// healthy reports whether the pipeline made progress since the last call,
// or had nothing to do. Called by the watchdog goroutine only.
func (d *Daemon) healthy() bool {
	drained := d.drained.Load()
	moved := drained != d.healthDrained
	d.healthDrained = drained
	return moved || d.ring.Len() == 0
}

const statusEvery = 5 * time.Second
