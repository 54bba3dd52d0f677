package ratelimit

import (
	"testing"
	"time"
)

// TestNoisyKeyExactCounts is the scenario: a noisy key at 50,000
// events/s (SYSCALL, PATH, PROCTITLE) for 3 s of fake time, limited to 1,000
// events/s with a burst of 1,000, beside an unlisted key at 1,000 events/s
// and a listed key that stays under its limit. Flush runs at every second.
func TestNoisyKeyExactCounts(t *testing.T) {
	l := mustNew(t, Config{Rules: []Rule{
		{Key: "noisy", Rate: 1000, Burst: 1000},
		{Key: "quiet", Rate: 100, Burst: 100},
	}})
	base := time.Now()

	type kind struct {
		key   string
		every time.Duration
		types []uint16
	}
	kinds := []kind{
		{"noisy", 20 * time.Microsecond, []uint16{tSyscall, tPath, tProctitle}},
		{"other", time.Millisecond, []uint16{tSyscall, tCWD, tPath, tProctitle, tEOE}},
		{"quiet", 100 * time.Millisecond, []uint16{tSyscall, tEOE}},
	}
	const step = 20 * time.Microsecond // every period is a multiple of it
	const duration = 3 * time.Second

	var (
		serial     uint32 = 1000
		calls      uint64
		allowedEv  = map[string]int{}
		events     = map[string]int{}
		suppressed [3]uint64 // noisy records suppressed per second, counted here
		flushes    []map[string]uint64
	)
	for now := time.Duration(0); now < duration; now += step {
		if now > 0 && now%time.Second == 0 {
			flushes = append(flushes, flushed(l))
		}
		for _, k := range kinds {
			if now%k.every != 0 {
				continue
			}
			serial++
			events[k.key]++
			var first bool
			for i, typ := range k.types {
				got := l.Allow(base.Add(now), typ, payload(typ, serial, k.key))
				calls++
				if i == 0 {
					first = got
				} else if got != first {
					t.Fatalf("%s event %d at %v: record %d (type %d) allowed=%v, the event's first record %v", k.key, serial, now, i, typ, got, first)
				}
				if !got && k.key == "noisy" {
					suppressed[now/time.Second]++
				}
			}
			if first {
				allowedEv[k.key]++
			}
		}
	}
	flushes = append(flushes, flushed(l))

	// GCRA with a full bucket at t=0: the event at time t is allowed iff
	// fewer than burst + floor(t/1ms) were allowed before it. Events come
	// every 20 µs, so the allowed count is burst + floor(t/1ms) as soon as
	// the burst is used up: 1999 by the end of the first second, then 1000
	// more per second. The last event is at 2.99998 s: 3999 allowed, which
	// is 1000*3 + burst - 1.
	if got, want := allowedEv["noisy"], 1000*3+1000-1; got != want {
		t.Errorf("noisy: %d events allowed, want %d", got, want)
	}
	if events["noisy"] != 150000 {
		t.Fatalf("generated %d noisy events, want 150000", events["noisy"])
	}
	wantSuppressed := [3]uint64{(50000 - 1999) * 3, (50000 - 1000) * 3, (50000 - 1000) * 3}
	if suppressed != wantSuppressed {
		t.Errorf("noisy records suppressed per second = %v, want %v", suppressed, wantSuppressed)
	}
	if len(flushes) != 3 {
		t.Fatalf("%d flushes, want 3", len(flushes))
	}
	for i, fl := range flushes {
		if len(fl) != 1 || fl["noisy"] != wantSuppressed[i] {
			t.Errorf("flush %d = %v, want only noisy=%d", i+1, fl, wantSuppressed[i])
		}
	}
	if fl := flushed(l); len(fl) != 0 {
		t.Errorf("flush with nothing new = %v, want nothing", fl)
	}

	// Unrelated and under-limit keys are untouched.
	for _, key := range []string{"other", "quiet"} {
		if allowedEv[key] != events[key] {
			t.Errorf("%s: %d of %d events allowed, want all", key, allowedEv[key], events[key])
		}
	}

	// Stats agree with the flushes and with what Allow returned.
	st := statsMap(l)
	want := map[string]KeyStats{
		"":      {Key: "", Allowed: 3000 * 5},
		"noisy": {Key: "noisy", Allowed: 3999 * 3, Suppressed: wantSuppressed[0] + wantSuppressed[1] + wantSuppressed[2]},
		"quiet": {Key: "quiet", Allowed: 30 * 2},
	}
	if len(st) != len(want) {
		t.Errorf("Stats = %v, want %v", st, want)
	}
	var total uint64
	for key, w := range want {
		if st[key] != w {
			t.Errorf("Stats[%q] = %+v, want %+v", key, st[key], w)
		}
		total += st[key].Allowed + st[key].Suppressed
	}
	if total != calls {
		t.Errorf("Stats count %d records, Allow was called %d times", total, calls)
	}
	if order := l.Stats(); order[0].Key != "" || order[1].Key != "noisy" || order[2].Key != "quiet" {
		t.Errorf("Stats order %v, want default, noisy, quiet", order)
	}
}

// step is one record in a scripted sequence.
type step struct {
	at     time.Duration
	typ    uint16
	serial uint32
	key    string // for the types that carry one
	want   bool
}

func runSteps(t *testing.T, l *Limiter, steps []step) {
	t.Helper()
	base := time.Now()
	for i, s := range steps {
		if got := l.Allow(base.Add(s.at), s.typ, payload(s.typ, s.serial, s.key)); got != s.want {
			t.Errorf("step %d (at %v, type %d, serial %d, key %q): allowed %v, want %v", i, s.at, s.typ, s.serial, s.key, got, s.want)
		}
	}
}

// TestEventOrdering pins down how records that arrive before, after and
// between the keyed record of their event are decided. Rates are so low that
// a bucket, once empty, stays empty for the whole sequence.
func TestEventOrdering(t *testing.T) {
	slow := func(key string) Rule { return Rule{Key: key, Rate: 0.001, Burst: 1} }
	noisyOnly := Config{Rules: []Rule{slow("noisy")}}
	withDefault := Config{Rules: []Rule{slow("noisy")}, Default: &Rule{Rate: 0.001, Burst: 1}}

	t.Run("consecutive", func(t *testing.T) {
		runSteps(t, mustNew(t, noisyOnly), []step{
			{0, tSyscall, 1, "noisy", Y}, {0, tPath, 1, "", Y}, {0, tProctitle, 1, "", Y}, {0, tEOE, 1, "", Y},
			{0, tSyscall, 2, "noisy", N}, {0, tPath, 2, "", N}, {0, tProctitle, 2, "", N}, {0, tEOE, 2, "", N},
			{0, tSyscall, 3, "other", Y}, {0, tPath, 3, "", Y},
			{0, tSyscall, 4, "", Y}, {0, tEOE, 4, "", Y},
			{0, tUserLogin, 5, "", Y},
		})
	})
	t.Run("interleaved", func(t *testing.T) {
		runSteps(t, mustNew(t, noisyOnly), []step{
			{0, tSyscall, 10, "noisy", Y},
			{0, tSyscall, 11, "noisy", N},
			{0, tSyscall, 12, "other", Y},
			{0, tPath, 11, "", N}, {0, tPath, 10, "", Y}, {0, tPath, 12, "", Y},
			{0, tProctitle, 12, "", Y}, {0, tProctitle, 11, "", N}, {0, tProctitle, 10, "", Y},
			{0, tEOE, 11, "", N}, {0, tEOE, 12, "", Y}, {0, tEOE, 10, "", Y},
		})
	})
	t.Run("records before the keyed record, no default", func(t *testing.T) {
		runSteps(t, mustNew(t, noisyOnly), []step{
			{0, tSyscall, 1, "noisy", Y}, // the only token
			// AVC and SOCKADDR come before the SYSCALL record; with no
			// default they are kept, the rest of the event follows the key.
			{0, tAVC, 2, "", Y}, {0, tSockaddr, 2, "", Y},
			{0, tSyscall, 2, "noisy", N}, {0, tPath, 2, "", N}, {0, tEOE, 2, "", N},
			{0, tSyscall, 2, "noisy", N}, // a repeat follows the final decision
		})
	})
	t.Run("records before the keyed record, with default", func(t *testing.T) {
		l := mustNew(t, withDefault)
		runSteps(t, l, []step{
			{0, tAVC, 1, "", Y},          // takes the default's only token
			{0, tSyscall, 1, "noisy", Y}, // noisy has its own token
			{0, tPath, 1, "", Y},         //
			{0, tAVC, 2, "", N},          // default empty
			{0, tSyscall, 2, "other", N}, // unlisted: the default's decision stands, no second token
			{0, tPath, 2, "", N},         //
			{0, tAVC, 3, "", N},          // default empty
			{0, tSyscall, 3, "noisy", N}, // noisy empty too
			{0, tUserLogin, 4, "", N},    // no key at all: default
			{0, tSyscall, 5, "", N},      // key=(null): default
		})
		st := statsMap(l)
		if st[""] != (KeyStats{"", 1, 6}) || st["noisy"] != (KeyStats{"noisy", 2, 1}) {
			t.Errorf("Stats = %v", st)
		}
	})
	t.Run("config change key is not the event key", func(t *testing.T) {
		runSteps(t, mustNew(t, noisyOnly), []step{
			// auditctl -a ... -k noisy: CONFIG_CHANGE names the new rule's
			// key, the SYSCALL (of auditctl's sendto) matched no keyed rule.
			{0, tConfigChange, 1, "noisy", Y}, {0, tSyscall, 1, "", Y}, {0, tProctitle, 1, "", Y},
			{0, tConfigChange, 2, "noisy", Y}, {0, tSyscall, 2, "", Y}, {0, tProctitle, 2, "", Y},
			// The noisy bucket is still full.
			{0, tSyscall, 3, "noisy", Y},
			{0, tSyscall, 4, "noisy", N},
		})
	})
	t.Run("uring", func(t *testing.T) {
		runSteps(t, mustNew(t, noisyOnly), []step{
			{0, tURingOp, 1, "noisy", Y}, {0, tEOE, 1, "", Y},
			{0, tURingOp, 2, "noisy", N}, {0, tEOE, 2, "", N},
		})
	})
	t.Run("hex keys", func(t *testing.T) {
		runSteps(t, mustNew(t, Config{Rules: []Rule{slow("noisy"), slow("my key"), slow("second")}}), []step{
			{0, tSyscall, 1, "my key", Y}, // logged hex because of the space
			{0, tSyscall, 2, "my key", N},
			// -k other -k noisy: "other" has no rule, "noisy" does.
			{0, tSyscall, 3, "other\x01noisy", Y},
			{0, tPath, 3, "", Y},
			{0, tSyscall, 4, "noisy\x01other", N},
			{0, tPath, 4, "", N},
			// -k second -k noisy: the first key with a rule chooses.
			{0, tSyscall, 5, "second\x01noisy", Y},
			{0, tSyscall, 6, "second", N},
			{0, tSyscall, 7, "unlisted\x01also unlisted", Y},
		})
	})
	t.Run("refill", func(t *testing.T) {
		runSteps(t, mustNew(t, Config{Rules: []Rule{{Key: "noisy", Rate: 2, Burst: 2}}}), []step{
			{0, tSyscall, 1, "noisy", Y},
			{0, tSyscall, 2, "noisy", Y},
			{0, tSyscall, 3, "noisy", N},
			{499 * time.Millisecond, tSyscall, 4, "noisy", N},
			{500 * time.Millisecond, tSyscall, 5, "noisy", Y},
			{500 * time.Millisecond, tSyscall, 6, "noisy", N},
			{400 * time.Millisecond, tSyscall, 7, "noisy", N}, // time going back counts as the latest time
			{10 * time.Second, tSyscall, 8, "noisy", Y},
			{10 * time.Second, tSyscall, 9, "noisy", Y},
			{10 * time.Second, tSyscall, 10, "noisy", N},
		})
	})
	t.Run("unparsable", func(t *testing.T) {
		l := mustNew(t, Config{Rules: []Rule{slow("noisy")}, Default: &Rule{Rate: 0.001, Burst: 1}})
		for _, p := range []string{"", "garbage", `type=SYSCALL msg=audit(1.000:1): key="noisy"`, "audit(1.000:x): key=\"noisy\""} {
			if !l.Allow(time.Now(), tSyscall, []byte(p)) {
				t.Errorf("Allow(%q) = false, want true for a record without a header", p)
			}
		}
		if st := statsMap(l); st[""].Allowed != 4 || st["noisy"].Allowed != 0 {
			t.Errorf("Stats = %v, want 4 allowed on the default bucket", st)
		}
	})
}

// TestLateRecords: a record whose slot an event 4096 serials newer has taken
// is decided on its own and leaves that event's decision in place.
func TestLateRecords(t *testing.T) {
	l := mustNew(t, Config{Rules: []Rule{{Key: "noisy", Rate: 0.001, Burst: 1}}})
	runSteps(t, l, []step{
		{0, tSyscall, 100, "noisy", Y},
		{0, tSyscall, 100 + tableSize, "noisy", N}, // same slot, newer event
		{0, tPath, 100, "", Y},                     // late record of event 100: decided alone (default: allowed)
		{0, tPath, 100 + tableSize, "", N},         // the newer event's decision survived
		{0, tSyscall, 100 + 2*tableSize, "other", Y},
		{0, tPath, 100 + 2*tableSize, "", Y},
	})
	// Serials wrap at 2^32 like the kernel's unsigned int.
	runSteps(t, mustNew(t, Config{Rules: []Rule{{Key: "noisy", Rate: 0.001, Burst: 1}}}), []step{
		{0, tSyscall, 1<<32 - 1, "noisy", Y},
		{0, tSyscall, tableSize - 1, "noisy", N}, // same slot, newer after the wrap
		{0, tPath, 1<<32 - 1, "", Y},             // late: alone
		{0, tPath, tableSize - 1, "", N},
	})
}

// Y and N are the wanted outcomes in step tables.
const Y, N = true, false
