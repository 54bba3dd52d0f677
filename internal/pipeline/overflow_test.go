package pipeline

import (
	"slices"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// step is one record pushed through the pipeline, or (fill) the ring brought
// above its high-water mark by the test.
type step struct {
	fill    bool
	typ     uint16
	payload []byte
	kept    bool
}

func fill() step { return step{fill: true} }

func rec(typ uint16, p []byte, kept bool) step { return step{typ: typ, payload: p, kept: kept} }

const typePath = uint16(1302)
const typeProctitle = uint16(1327)

// TestOverflowDrop checks the keep/drop decision of overflow_action = drop
// above the high-water mark (75% of a 64 KiB ring), record by record.
func TestOverflowDrop(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keepTypes []uint16
		keepKeys  []string
		steps     []step
	}{
		{"below the mark everything enters", nil, nil, []step{
			rec(record.TypeSyscall, sys(1, quoted("c")), true),
			rec(typePath, path(1), true),
		}},
		{"no keep lists: everything above the mark is dropped", nil, nil, []step{
			fill(),
			rec(record.TypeSyscall, sys(1, quoted("a")), false),
			rec(record.TypeConfigChange, configChange(2), false),
		}},
		{"keep types", []uint16{record.TypeConfigChange, record.TypeDaemonStart}, nil, []step{
			fill(),
			rec(record.TypeConfigChange, configChange(1), true),
			rec(record.TypeDaemonStart, configChange(0), true),
			rec(typePath, path(2), false),
			rec(record.TypeSyscall, sys(3, quoted("a")), false),
		}},
		{"keep key, single", nil, []string{"a"}, []step{
			fill(),
			rec(record.TypeSyscall, sys(1, quoted("a")), true),
			rec(record.TypeSyscall, sys(2, quoted("c")), false),
			rec(record.TypeSyscall, sys(3, "(null)"), false),
			rec(record.TypeSyscall, sys(4, quoted("ab")), false),
		}},
		{"keep key, multi-key rule (-k a -k b)", nil, []string{"a"}, []step{
			fill(),
			rec(record.TypeSyscall, sys(1, multi("a", "b")), true),
			rec(record.TypeSyscall, sys(2, multi("b", "a")), true),
			rec(record.TypeSyscall, sys(3, multi("b", "c")), false),
		}},
		{"keep key, second of the keep keys", nil, []string{"x", "b"}, []step{
			fill(),
			rec(record.TypeSyscall, sys(1, multi("a", "b")), true),
			rec(record.TypeSyscall, sys(2, quoted("b")), true),
		}},
		{"keep key, URINGOP", nil, []string{"a"}, []step{
			fill(),
			rec(record.TypeURingOp, uring(1, quoted("a")), true),
			rec(typePath, path(1), true),
			rec(record.TypeURingOp, uring(2, quoted("c")), false),
		}},
		{"a CONFIG_CHANGE naming the key is not an event of the key", nil, []string{"x"}, []step{
			fill(),
			rec(record.TypeConfigChange, configChange(1), false),
			rec(typePath, path(1), false),
		}},
		{"later records of a kept event", nil, []string{"a"}, []step{
			fill(),
			rec(record.TypeSyscall, sys(10, quoted("a")), true),
			rec(record.TypeSyscall, sys(11, quoted("c")), false),
			rec(typePath, path(11), false),
			rec(typePath, path(10), true),
			rec(typeProctitle, path(10), true),
			rec(record.TypeEOE, eoe(10), true),
			rec(record.TypeEOE, eoe(11), false),
			rec(typePath, path(12), false),
		}},
		{"a keep event seen below the mark keeps its records above it", nil, []string{"a"}, []step{
			rec(record.TypeSyscall, sys(20, quoted("a")), true),
			fill(),
			rec(typePath, path(20), true),
			rec(record.TypeEOE, eoe(20), true),
			rec(typePath, path(21), false),
		}},
		{"a slot reused by a newer serial forgets the older event", nil, []string{"a"}, []step{
			fill(),
			rec(record.TypeSyscall, sys(5, quoted("a")), true),
			rec(record.TypeSyscall, sys(5+serialTableSize, quoted("c")), false),
			rec(record.TypeSyscall, sys(5+2*serialTableSize, quoted("a")), true),
			rec(typePath, path(5), false),
			rec(typePath, path(5+2*serialTableSize), true),
		}},
		{"a record without a header is not kept by key", nil, []string{"a"}, []step{
			fill(),
			rec(typePath, []byte(`item=0 name="/x"`), false),
			rec(typePath, path(0), false),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t)
			p, err := New(r, Options{Overflow: Drop, HighWaterPct: 75, KeepTypes: tc.keepTypes, KeepKeys: tc.keepKeys})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			var dropped uint64
			for i, s := range tc.steps {
				if s.fill {
					fillTo(t, r, r.Cap()*75/100)
					continue
				}
				if err := p.Push(s.typ, s.payload); err != nil {
					t.Fatalf("step %d: Push: %v", i, err)
				}
				if s.kept {
					want = append(want, string(s.payload))
				} else {
					dropped++
				}
				if got := p.Stats().Dropped; got != dropped {
					t.Fatalf("step %d (%s %.40q): %d dropped, want %d", i, record.TypeName(s.typ), s.payload, got, dropped)
				}
			}
			if got := drained(r); !slices.Equal(got, want) {
				t.Errorf("in the ring:\n%q\nwant:\n%q", got, want)
			}
		})
	}
}

// TestKeepKeysAgreeWithRateLimit pins the former disagreement between the
// two event-key matchers: keep_keys used to compare the raw key= value of
// SYSCALL records only, so keep_keys = a did not keep the events of a rule
// with -k a -k b (logged as hex) nor URINGOP events, while the rate limiter
// counted both under key a. Both now go through record.KeyIndex.
func TestKeepKeysAgreeWithRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		typ      uint16
		payload  []byte
		matches  bool // an event of key a
		wasWrong bool // the old keep test (SYSCALL and raw key == "a") got it wrong
	}{
		{"quoted", record.TypeSyscall, sys(1, quoted("a")), true, false},
		{"multi a,b", record.TypeSyscall, sys(1, multi("a", "b")), true, true},
		{"multi b,a", record.TypeSyscall, sys(1, multi("b", "a")), true, true},
		{"multi b,c", record.TypeSyscall, sys(1, multi("b", "c")), false, false},
		{"uringop", record.TypeURingOp, uring(1, quoted("a")), true, true},
		{"other key", record.TypeSyscall, sys(1, quoted("c")), false, false},
		{"no key", record.TypeSyscall, sys(1, "(null)"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := record.Key(tc.payload)
			old := tc.typ == record.TypeSyscall && string(raw) == "a"
			if (old != tc.matches) != tc.wasWrong {
				t.Fatalf("old keep test says %v for raw key %q: the case does not test what it says", old, raw)
			}

			// The limiter: which bucket counts the event.
			lim, err := ratelimit.New(ratelimit.Config{Rules: []ratelimit.Rule{{Key: "a", Rate: 1000, Burst: 1000}}})
			if err != nil {
				t.Fatal(err)
			}
			lim.Allow(fixedNow, tc.typ, tc.payload)
			st := lim.Stats()
			inA := st[1].Key == "a" && st[1].Allowed == 1

			// The overflow policy, above the high-water mark.
			r := newRing(t)
			p, err := New(r, Options{Overflow: Drop, HighWaterPct: 50, KeepKeys: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			fillTo(t, r, r.Cap()/2)
			if err := p.Push(tc.typ, tc.payload); err != nil {
				t.Fatal(err)
			}
			kept := p.Stats().Dropped == 0

			if inA != tc.matches || kept != tc.matches {
				t.Errorf("limiter counts it under key a: %v; overflow keeps it: %v; want both %v", inA, kept, tc.matches)
			}
		})
	}
}

// TestOverflowFull: with the ring completely full (high water 100%), drop
// counts a plain record and waits in Push for a keep record; block waits
// for every record. Nothing waiting is lost once the ring is drained.
func TestOverflowFull(t *testing.T) {
	for _, tc := range []struct {
		name    string
		action  OverflowAction
		steps   []step // pushed into the full ring; kept ones wait for room
		dropped uint64
	}{
		{"drop", Drop, []step{
			rec(typePath, path(1), false),
			rec(record.TypeConfigChange, configChange(2), true),
		}, 1},
		{"block", Block, []step{
			rec(typePath, path(1), true),
			rec(record.TypeSyscall, sys(2, quoted("c")), true),
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t)
			p, err := New(r, Options{Overflow: tc.action, HighWaterPct: 100, KeepTypes: []uint16{record.TypeConfigChange}})
			if err != nil {
				t.Fatal(err)
			}
			fillTo(t, r, r.Cap()+1)
			// Records not kept return at once; kept ones wait for room,
			// on another goroutine while this one drains.
			var waiting []step
			for _, s := range tc.steps {
				if s.kept {
					waiting = append(waiting, s)
				} else if err := p.Push(s.typ, s.payload); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				for _, s := range waiting {
					if err := p.Push(s.typ, s.payload); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			var got, want []string
			for _, s := range waiting {
				want = append(want, string(s.payload))
			}
			deadline := time.Now().Add(10 * time.Second)
			for finished := false; !finished; {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					finished = true
				default:
					if time.Now().After(deadline) {
						t.Fatal("Push did not return after the ring was drained")
					}
					r.Wait(10 * time.Millisecond)
				}
				got = append(got, drained(r)...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("drained %q, want %q", got, want)
			}
			if st := p.Stats(); st.Dropped != tc.dropped {
				t.Errorf("%d dropped, want %d", st.Dropped, tc.dropped)
			}
		})
	}
}

// TestOversized: a record the ring can never hold is counted, not an error,
// in both modes and for keep records.
func TestOversized(t *testing.T) {
	for _, action := range []OverflowAction{Block, Drop} {
		t.Run(action.String(), func(t *testing.T) {
			r := newRing(t)
			p, err := New(r, Options{Overflow: action, HighWaterPct: 75, KeepTypes: []uint16{record.TypeConfigChange}})
			if err != nil {
				t.Fatal(err)
			}
			big := append(configChange(1), make([]byte, r.MaxRecord())...)
			for _, typ := range []uint16{typePath, record.TypeConfigChange} {
				if err := p.Push(typ, big); err != nil {
					t.Fatal(err)
				}
			}
			fillTo(t, r, r.Cap()*75/100)
			if err := p.Push(record.TypeConfigChange, big); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Oversized != 3 || st.Dropped != 0 {
				t.Errorf("oversized %d, dropped %d; want 3, 0", st.Oversized, st.Dropped)
			}
		})
	}
}

func TestDropSummary(t *testing.T) {
	r := newRing(t)
	p, err := New(r, Options{Overflow: Drop, HighWaterPct: 10})
	if err != nil {
		t.Fatal(err)
	}
	fillTo(t, r, r.Cap()/10)
	for _, s := range []step{
		rec(record.TypeSyscall, sys(1, quoted("c")), false),
		rec(typePath, path(1), false),
		rec(record.TypeSyscall, sys(2, quoted("c")), false),
		rec(record.TypeURingOp, uring(3, multi("a", "b")), false),
		rec(record.TypeSyscall, sys(4, "(null)"), false),
		rec(record.TypeConfigChange, configChange(5), false),
	} {
		if err := p.Push(s.typ, s.payload); err != nil {
			t.Fatal(err)
		}
	}
	byType, byKey := p.DropSummary()
	wantType := map[string]uint64{"SYSCALL": 3, "PATH": 1, "URINGOP": 1, "CONFIG_CHANGE": 1}
	wantKey := map[string]uint64{"c": 2, multi("a", "b"): 1}
	if !mapsEqual(byType, wantType) || !mapsEqual(byKey, wantKey) {
		t.Errorf("by type %v, by key %v; want %v, %v", byType, byKey, wantType, wantKey)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNewRejects(t *testing.T) {
	r := newRing(t)
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Overflow: 7}, "pipeline: unknown overflow action 7"},
		{Options{Overflow: Drop, HighWaterPct: 0}, "pipeline: high water 0% is not in 1..100"},
		{Options{Overflow: Drop, HighWaterPct: 101}, "pipeline: high water 101% is not in 1..100"},
	} {
		if _, err := New(r, tc.o); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New without a ring succeeded")
	}
	if _, err := New(r, Options{Overflow: Block}); err != nil {
		t.Errorf("Block without a high-water mark: %v", err)
	}
}
