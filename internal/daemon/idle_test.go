package daemon

import (
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/config"
)

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// An idle daemon polls the kernel less often, and so does one that reads
// only a few records a second; a burst (a full batch) brings the poll back
// at once; a status request reads fresh counters.
func TestIdlePollerBacksOffAndWakes(t *testing.T) {
	k := kernelFor(t, 8192)
	key := k.Key("idle")
	rule(k, "getppid", key)
	r := start(t, k, config.Default(), Options{})
	kp := r.d.kpoll
	if !waitFor(quietPolls*time.Second+5*time.Second, kp.backedOff.Load) {
		t.Fatalf("the poller did not back off after %d quiet polls (%d polls)", quietPolls, kp.polls.Load())
	}
	// Backed off: the next poll is idleEvery away.
	polls := kp.polls.Load()
	time.Sleep(1500 * time.Millisecond)
	if n := kp.polls.Load(); n != polls {
		t.Fatalf("a backed-off poller polled %d times in 1.5 s", n-polls)
	}
	// A status request on an idle daemon polls the kernel itself.
	polled := kp.lastPoll.Load()
	if r.d.Status(); kp.lastPoll.Load() == polled {
		t.Errorf("Status did not refresh counters older than a second")
	}
	// Everyday rates (10 events a second) leave it backed off.
	polls = kp.polls.Load()
	read := r.d.rd.Stats().Records
	load(t, "getppid:10:10")
	if !waitFor(2*time.Second, func() bool { return r.d.rd.Stats().Records >= read+20 }) {
		t.Fatalf("the daemon read %d records of 10 events", r.d.rd.Stats().Records-read)
	}
	if n := kp.polls.Load(); n != polls || !kp.backedOff.Load() {
		t.Fatalf("10 events at 10/s woke the backed-off poller (%d polls)", n-polls)
	}
	// A burst does.
	polls = kp.polls.Load()
	load(t, "getppid:2000:0")
	if !waitFor(2*time.Second, func() bool { return kp.polls.Load() > polls && !kp.backedOff.Load() }) {
		t.Fatalf("a burst did not wake the backed-off poller (polls %d -> %d, backed off %v)", polls, kp.polls.Load(), kp.backedOff.Load())
	}
	r.stop(t)
	if n := count(r.logText(t), "type=SYSCALL ", `key="`+key+`"`); n != 2010 {
		t.Errorf("log has %d records with key %s, want 2010", n, key)
	}
}
