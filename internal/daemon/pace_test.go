package daemon

import (
	"testing"
	"time"
)

// TestPaceFor: read_pace is bounded by flush_interval and by the socket
// buffer's room for a burst, and is off in discard mode or at 0.
func TestPaceFor(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		cfg  paceConfig
		want time.Duration
	}{
		{paceConfig{pace: 100 * ms, flush: 100 * ms, rcvbuf: 32 << 20}, 100 * ms}, // the defaults
		{paceConfig{pace: 100 * ms, flush: 50 * ms, rcvbuf: 32 << 20}, 50 * ms},   // flush_interval
		{paceConfig{pace: 500 * ms, flush: time.Second, rcvbuf: 32 << 20}, 109226666 * time.Nanosecond},
		{paceConfig{pace: 100 * ms, flush: 100 * ms, rcvbuf: 64 << 10}, 213333 * time.Nanosecond}, // a small buffer
		{paceConfig{pace: 0, flush: 100 * ms, rcvbuf: 32 << 20}, 0},
		{paceConfig{pace: 100 * ms, flush: 100 * ms, rcvbuf: 32 << 20, discard: true}, 0},
	} {
		if got := paceFor(c.cfg); got != c.want {
			t.Errorf("paceFor(%+v) = %v, want %v", c.cfg, got, c.want)
		}
	}
}
