package topk

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func entries(s *Sketch) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range s.AppendEntries(nil) {
		if _, dup := m[e.Item]; dup {
			panic("item twice in the sketch: " + e.Item)
		}
		m[e.Item] = e
	}
	return m
}

// Below k distinct items, every count is exact.
func TestExactBelowK(t *testing.T) {
	s := New(8)
	want := map[string]uint64{}
	for i := range 1000 {
		k := fmt.Sprintf("item-%d", i%7)
		s.Add([]byte(k))
		want[k]++
	}
	got := entries(s)
	if len(got) != 7 || s.Full() {
		t.Fatalf("%d entries, full %v; want 7, not full", len(got), s.Full())
	}
	for k, n := range want {
		if e := got[k]; e.Count != n || e.Err != 0 {
			t.Errorf("%s: count %d err %d, want %d err 0", k, e.Count, e.Err, n)
		}
	}
	l := s.AppendEntries(nil)
	for i := 1; i < len(l); i++ {
		if l[i].Count > l[i-1].Count {
			t.Fatalf("entries not sorted by count: %v", l)
		}
	}
}

// With many more distinct items than slots, heavy hitters are kept, their
// true count lies in [Count-Err, Count], and counts sum to the stream's
// length (space-saving's invariant).
func TestHeavyHittersUnderChurn(t *testing.T) {
	s := New(16)
	r := rand.New(rand.NewPCG(1, 2))
	truth := map[string]uint64{}
	var total uint64
	for range 200000 {
		var k string
		switch x := r.IntN(100); {
		case x < 30:
			k = "/usr/bin/true"
		case x < 45:
			k = "/usr/bin/bash"
		case x < 50:
			k = "/usr/sbin/cron"
		default:
			k = fmt.Sprintf("/tmp/x%d", r.IntN(50000)) // a long tail
		}
		s.Add([]byte(k))
		truth[k]++
		total++
	}
	got := entries(s)
	var sum uint64
	for k, e := range got {
		sum += e.Count
		if tc := truth[k]; tc > e.Count || tc < e.Count-e.Err {
			t.Errorf("%s: true %d not in [%d, %d]", k, tc, e.Count-e.Err, e.Count)
		}
	}
	if sum != total {
		t.Errorf("counts sum to %d, want %d", sum, total)
	}
	for _, k := range []string{"/usr/bin/true", "/usr/bin/bash", "/usr/sbin/cron"} {
		if _, ok := got[k]; !ok {
			t.Errorf("heavy hitter %s evicted; entries %v", k, s.AppendEntries(nil))
		}
	}
	if l := s.AppendEntries(nil); l[0].Item != "/usr/bin/true" || l[0].Err != 0 {
		t.Errorf("top entry %+v, want /usr/bin/true with no error", l[0])
	}
}

// An evicted slot's next item inherits its count as error, and a new
// tenure; the long item is cut to MaxItem.
func TestEvictionAndTenure(t *testing.T) {
	s := New(2)
	s.AddN([]byte("a"), 5)
	s.AddN([]byte("b"), 3)
	tb := entries(s)["b"].Tenure
	long := make([]byte, MaxItem+10)
	for i := range long {
		long[i] = 'x'
	}
	s.Add(long)
	got := entries(s)
	if _, ok := got["b"]; ok {
		t.Fatalf("b not evicted: %v", got)
	}
	e, ok := got[string(long[:MaxItem])]
	if !ok || e.Count != 4 || e.Err != 3 || e.Tenure == tb {
		t.Fatalf("new entry %+v (found %v), want count 4 err 3 and a new tenure", e, ok)
	}
	s.Add([]byte("b"))
	if e := entries(s)["b"]; e.Count != 5 || e.Err != 4 {
		t.Fatalf("b back: %+v, want count 5 err 4", e)
	}
	if a := entries(s)["a"]; a.Count != 5 || a.Err != 0 {
		t.Fatalf("a: %+v", a)
	}
}

// Many evictions leave the table consistent (tombstones rebuilt): every
// slot's item is found again and counted in place.
func TestTableAfterManyEvictions(t *testing.T) {
	s := New(4)
	for i := range 10000 {
		s.Add([]byte(fmt.Sprint(i)))
	}
	before := entries(s)
	for k := range before {
		s.Add([]byte(k))
	}
	after := entries(s)
	if len(after) != 4 {
		t.Fatalf("%d entries", len(after))
	}
	for k, e := range before {
		if after[k].Count != e.Count+1 || after[k].Tenure != e.Tenure {
			t.Errorf("%s: %+v then %+v", k, e, after[k])
		}
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	s := New(64)
	items := make([][]byte, 1000)
	for i := range items {
		items[i] = []byte(fmt.Sprintf("/usr/lib/x/%d", i))
	}
	i := 0
	if n := testing.AllocsPerRun(10000, func() { s.Add(items[i%len(items)]); i++ }); n != 0 {
		t.Fatalf("Add allocates %v times", n)
	}
}

func BenchmarkAddHit(b *testing.B) {
	s := New(64)
	item := []byte("/usr/bin/true")
	b.ReportAllocs()
	for b.Loop() {
		s.Add(item)
	}
}

func BenchmarkAddChurn(b *testing.B) {
	s := New(64)
	items := make([][]byte, 4096)
	for i := range items {
		items[i] = []byte(fmt.Sprintf("/usr/lib/x/%d", i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(items[i&4095])
		i++
	}
}
