package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// pattern is the source of payload bytes: record seq uses
// pattern[seq%251:][:n] after its 8-byte sequence number, so content, length
// and order can all be checked by the consumer.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// record fills dst with the payload of record seq of length n.
func record(dst []byte, seq uint64, n int) []byte {
	dst = dst[:n]
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seq)
	k := copy(dst, s[:])
	copy(dst[k:], pattern[seq%251:])
	return dst
}

// checkRecord reports a mismatch between p and record seq of length n.
func checkRecord(t *testing.T, scratch []byte, seq uint64, n int, typ uint16, p []byte) bool {
	t.Helper()
	if typ != uint16(seq) {
		t.Errorf("record %d: type %d, want %d", seq, typ, uint16(seq))
		return false
	}
	if want := record(scratch, seq, n); !bytes.Equal(p, want) {
		t.Errorf("record %d: got %d bytes %x..., want %d bytes %x...",
			seq, len(p), head16(p), n, head16(want))
		return false
	}
	return true
}

func head16(p []byte) []byte { return p[:min(len(p), 16)] }

func mustNew(t testing.TB, size int) *Ring {
	t.Helper()
	r, err := New(size)
	if err != nil {
		t.Fatalf("New(%d): %v", size, err)
	}
	return r
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNew(t *testing.T) {
	f := func(size, wantCap int, wantErr bool) {
		t.Helper()
		r, err := New(size)
		if wantErr {
			if !errors.Is(err, ErrInvalidSize) {
				t.Errorf("New(%d) error = %v, want ErrInvalidSize", size, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("New(%d): %v", size, err)
		}
		if r.Cap() != wantCap || r.Len() != 0 || r.HighWater() != 0 || r.Closed() {
			t.Errorf("New(%d): Cap %d Len %d HighWater %d Closed %v, want Cap %d and empty",
				size, r.Cap(), r.Len(), r.HighWater(), r.Closed(), wantCap)
		}
		if want := wantCap/4 - headerSize; r.MaxRecord() != want {
			t.Errorf("New(%d): MaxRecord %d, want %d", size, r.MaxRecord(), want)
		}
	}
	f(-1, 0, true)
	f(0, 0, true)
	f(MaxSize+1, 0, true)
	f(1, MinSize, false)
	f(MinSize-1, MinSize, false)
	f(MinSize, MinSize, false)
	f(MinSize+1, 2*MinSize, false)
	f(3<<20, 4<<20, false)
	f(4<<20, 4<<20, false)
}

func TestTooLarge(t *testing.T) {
	for _, size := range []int{MinSize, 1 << 20} {
		r := mustNew(t, size)
		big := make([]byte, r.MaxRecord()+1)
		if ok, err := r.TryPush(1, big[:r.MaxRecord()]); !ok || err != nil {
			t.Fatalf("size %d: TryPush(MaxRecord=%d) = %v, %v; want true, nil", size, r.MaxRecord(), ok, err)
		}
		if ok, err := r.TryPush(1, big); ok || !errors.Is(err, ErrTooLarge) {
			t.Errorf("size %d: TryPush(%d) = %v, %v; want false, ErrTooLarge", size, len(big), ok, err)
		}
		if err := r.Push(1, big); !errors.Is(err, ErrTooLarge) {
			t.Errorf("size %d: Push(%d) = %v; want ErrTooLarge", size, len(big), err)
		}
		if n := r.Drain(0, func(uint16, []byte) {}); n != 1 {
			t.Errorf("size %d: Drain = %d, want 1", size, n)
		}
	}
}

// advanceTo pushes and drains filler records until the ring is empty with its
// write offset at off (a multiple of 8, not at a skip boundary).
func advanceTo(t *testing.T, r *Ring, off uint64) {
	t.Helper()
	for r.tail.Load()&r.mask != off {
		cur := r.tail.Load() & r.mask
		dist := (off - cur) & r.mask
		e := min(dist, entrySize(r.MaxRecord()))
		if dist-e != 0 && dist-e < headerSize {
			e -= headerSize // leave room for at least one more header-only entry
		}
		if ok, err := r.TryPush(0, make([]byte, e-headerSize)); !ok || err != nil {
			t.Fatalf("advanceTo(%d): filler TryPush = %v, %v", off, ok, err)
		}
		r.Drain(0, func(uint16, []byte) {})
	}
}

// TestSkipBoundary checks when a skip marker is and is not used.
func TestSkipBoundary(t *testing.T) {
	f := func(room uint64, payload int, wantAdvance uint64) {
		t.Helper()
		r := mustNew(t, MinSize)
		advanceTo(t, r, r.size-room)
		before := r.tail.Load()
		p := record(make([]byte, payload), 42, payload)
		if ok, err := r.TryPush(42, p); !ok || err != nil {
			t.Fatalf("room %d payload %d: TryPush = %v, %v", room, payload, ok, err)
		}
		if got := r.tail.Load() - before; got != wantAdvance {
			t.Errorf("room %d payload %d: tail advanced %d, want %d", room, payload, got, wantAdvance)
		}
		if r.Len() != int(wantAdvance) {
			t.Errorf("room %d payload %d: Len %d, want %d", room, payload, r.Len(), wantAdvance)
		}
		var got []byte
		if n := r.Drain(0, func(typ uint16, q []byte) { got = append(got, q...) }); n != 1 {
			t.Fatalf("room %d payload %d: Drain = %d, want 1", room, payload, n)
		}
		if !bytes.Equal(got, p) {
			t.Errorf("room %d payload %d: payload mismatch", room, payload)
		}
	}
	f(64, 56, 64)    // exact fit at the end: no marker
	f(64, 50, 64)    // fits with padding
	f(64, 57, 64+72) // one byte too many: marker skips 64 bytes
	f(8, 0, 8)       // header-only entry in the last 8 bytes
	f(8, 1, 8+16)    // skip of a lone header slot
	f(4096, 8000, 4096+8008)
}

// TestWrapAround pushes and drains random sizes in one goroutine, crossing
// the end of the buffer many times, and checks every record.
func TestWrapAround(t *testing.T) {
	r := mustNew(t, MinSize)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []func() int{
		func() int { return rng.IntN(64) },
		func() int { return rng.IntN(1024) },
		func() int { return rng.IntN(r.MaxRecord() + 1) },
		func() int { return r.MaxRecord() - rng.IntN(16) },
	}
	lens := make(map[uint64]int) // seq -> payload length, pushed not yet drained
	buf := make([]byte, r.MaxRecord())
	scratch := make([]byte, r.MaxRecord())
	var pushed, drained, skips uint64
	for round := 0; round < 3000; round++ {
		for {
			n := sizes[rng.IntN(len(sizes))]()
			tail := r.tail.Load()
			off := tail & r.mask
			wrap := off+entrySize(n) > r.size
			ok, err := r.TryPush(uint16(pushed), record(buf, pushed, n))
			if err != nil {
				t.Fatalf("TryPush(%d bytes): %v", n, err)
			}
			if !ok {
				need := entrySize(n)
				if wrap {
					need += r.size - off
				}
				if free := r.size - uint64(r.Len()); free >= need {
					t.Fatalf("TryPush(%d bytes) = false with %d bytes free, %d needed", n, free, need)
				}
				break
			}
			if wrap {
				skips++
			}
			lens[pushed] = n
			pushed++
			if rng.IntN(8) == 0 {
				break // drain with the ring only partly full
			}
		}
		maxBytes := []int{0, 1, 500, 20000}[rng.IntN(4)]
		payload, last := 0, 0
		n := r.Drain(maxBytes, func(typ uint16, p []byte) {
			last = len(p)
			if cap(p) != len(p) {
				t.Errorf("record %d: cap(p) %d != len(p) %d", drained, cap(p), len(p))
			}
			checkRecord(t, scratch, drained, lens[drained], typ, p)
			payload += len(p)
			delete(lens, drained)
			drained++
		})
		if t.Failed() {
			t.FailNow()
		}
		if n == 0 && pushed != drained {
			t.Fatalf("Drain = 0 with %d records pending", pushed-drained)
		}
		if maxBytes > 0 && n > 1 && payload-last >= maxBytes {
			t.Fatalf("Drain(%d) handed out %d records, %d bytes: did not stop at the limit", maxBytes, n, payload)
		}
		if (maxBytes <= 0 || payload < maxBytes) && drained != pushed {
			t.Fatalf("Drain(%d) stopped after %d bytes with %d records pending", maxBytes, payload, pushed-drained)
		}
	}
	for r.Drain(0, func(typ uint16, p []byte) {
		checkRecord(t, scratch, drained, lens[drained], typ, p)
		drained++
	}) > 0 {
	}
	if drained != pushed || r.Len() != 0 {
		t.Fatalf("drained %d of %d records, Len %d", drained, pushed, r.Len())
	}
	if wraps := r.tail.Load() / r.size; wraps < 100 || skips < 100 {
		t.Fatalf("only %d wraps and %d skip markers; test does not exercise wrap-around", wraps, skips)
	}
	t.Logf("%d records, %d wraps, %d skip markers", pushed, r.tail.Load()/r.size, skips)
}

func TestDrainMaxBytes(t *testing.T) {
	f := func(sizes []int, maxBytes int, want []int) {
		t.Helper()
		r := mustNew(t, MinSize)
		for i, n := range sizes {
			if ok, err := r.TryPush(uint16(i), make([]byte, n)); !ok || err != nil {
				t.Fatalf("TryPush(%d) = %v, %v", n, ok, err)
			}
		}
		for _, w := range want {
			if n := r.Drain(maxBytes, func(uint16, []byte) {}); n != w {
				t.Errorf("sizes %v maxBytes %d: Drain = %d, want sequence %v", sizes, maxBytes, n, want)
				return
			}
		}
	}
	f([]int{100, 100, 100, 100, 100}, 250, []int{3, 2, 0})
	f([]int{100, 100, 100, 100, 100}, 0, []int{5, 0})
	f([]int{100, 100, 100, 100, 100}, -1, []int{5, 0})
	f([]int{100, 100, 100}, 1, []int{1, 1, 1, 0})
	f([]int{0, 0, 0}, 1, []int{3, 0}) // empty payloads never reach the limit
	f([]int{5000, 10}, 100, []int{1, 1, 0})
	f([]int{}, 100, []int{0})
}

// fillUniform fills an empty ring completely with records whose entry size
// divides Cap, returning how many were pushed.
func fillUniform(t *testing.T, r *Ring, payload int) int {
	t.Helper()
	n := 0
	for {
		ok, err := r.TryPush(uint16(n), record(make([]byte, payload), uint64(n), payload))
		if err != nil {
			t.Fatalf("TryPush: %v", err)
		}
		if !ok {
			break
		}
		n++
	}
	if r.Len() != r.Cap() {
		t.Fatalf("full ring: Len %d, want Cap %d", r.Len(), r.Cap())
	}
	return n
}

func TestFullRingPushBlocks(t *testing.T) {
	r := mustNew(t, MinSize)
	n := fillUniform(t, r, 1016) // 1024-byte entries
	if n != MinSize/1024 {
		t.Fatalf("pushed %d records into a full ring, want %d", n, MinSize/1024)
	}
	if ok, err := r.TryPush(0, nil); ok || err != nil {
		t.Fatalf("TryPush(empty) on full ring = %v, %v; want false, nil", ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Push(uint16(n), record(make([]byte, 1016), uint64(n), 1016)) }()
	eventually(t, "producer to park", func() bool { return r.prodParked.Load() == 1 })
	// Parked on a full ring, Push has not returned. (Had it returned
	// anyway after parking, its result or a missing or overwritten
	// record shows after the Drain below.)
	select {
	case err := <-done:
		t.Fatalf("Push on full ring returned %v before any Drain", err)
	default:
	}
	if r.Len() != r.Cap() {
		t.Fatalf("Len %d while the producer is parked, want Cap %d", r.Len(), r.Cap())
	}
	scratch := make([]byte, 1016)
	seq := uint64(0)
	check := func(typ uint16, p []byte) { checkRecord(t, scratch, seq, 1016, typ, p); seq++ }
	if got := r.Drain(1, check); got != 1 {
		t.Fatalf("Drain(1) = %d, want 1", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Push after Drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Push still blocked after Drain freed space")
	}
	if got := r.Drain(0, check); got != n {
		t.Fatalf("Drain = %d, want %d", got, n)
	}
	if r.Len() != 0 || r.HighWater() != r.Cap() {
		t.Fatalf("Len %d HighWater %d, want 0 and %d", r.Len(), r.HighWater(), r.Cap())
	}
}

func TestCloseWakesPush(t *testing.T) {
	r := mustNew(t, MinSize)
	n := fillUniform(t, r, 1016)
	done := make(chan error, 1)
	go func() { done <- r.Push(1, make([]byte, 1016)) }()
	eventually(t, "producer to park", func() bool { return r.prodParked.Load() == 1 })
	r.Close()
	r.Close() // idempotent
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Push after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Push")
	}
	if got := r.Drain(0, func(uint16, []byte) {}); got != n {
		t.Fatalf("Drain after Close = %d, want %d", got, n)
	}
}

func TestCloseWakesWait(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Hour} {
		r := mustNew(t, MinSize)
		done := make(chan bool, 1)
		go func() { done <- r.Wait(timeout) }()
		eventually(t, "consumer to park", func() bool { return r.consParked.Load() == 1 })
		r.Close()
		select {
		case ok := <-done:
			if ok {
				t.Fatalf("Wait(%v) on closed empty ring = true", timeout)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Close did not wake a blocked Wait(%v)", timeout)
		}
	}
}

func TestPushWakesWait(t *testing.T) {
	r := mustNew(t, MinSize)
	done := make(chan bool, 1)
	go func() { done <- r.Wait(0) }()
	eventually(t, "consumer to park", func() bool { return r.consParked.Load() == 1 })
	if ok, err := r.TryPush(7, []byte("x")); !ok || err != nil {
		t.Fatalf("TryPush = %v, %v", ok, err)
	}
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait after push = false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TryPush did not wake a blocked Wait")
	}
}

func TestDrainAfterClose(t *testing.T) {
	r := mustNew(t, MinSize)
	for i := range 10 {
		if err := r.Push(uint16(i), record(make([]byte, 100), uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if !r.Closed() {
		t.Fatal("Closed() = false after Close")
	}
	if ok, err := r.TryPush(0, nil); ok || !errors.Is(err, ErrClosed) {
		t.Fatalf("TryPush after Close = %v, %v; want false, ErrClosed", ok, err)
	}
	if err := r.Push(0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close = %v, want ErrClosed", err)
	}
	if !r.Wait(0) {
		t.Fatal("Wait on closed ring with records = false")
	}
	scratch := make([]byte, 100)
	seq := uint64(0)
	if n := r.Drain(0, func(typ uint16, p []byte) { checkRecord(t, scratch, seq, 100, typ, p); seq++ }); n != 10 {
		t.Fatalf("Drain after Close = %d, want 10", n)
	}
	if r.Wait(0) {
		t.Fatal("Wait on closed empty ring = true")
	}
	if n := r.Drain(0, func(uint16, []byte) {}); n != 0 {
		t.Fatalf("second Drain = %d, want 0", n)
	}
}

func TestHighWater(t *testing.T) {
	r := mustNew(t, MinSize)
	push := func(k int) {
		t.Helper()
		for range k {
			if ok, err := r.TryPush(0, make([]byte, 1016)); !ok || err != nil {
				t.Fatalf("TryPush = %v, %v", ok, err)
			}
		}
	}
	drain := func() { r.Drain(0, func(uint16, []byte) {}) }
	f := func(wantLen, wantHW int) {
		t.Helper()
		if r.Len() != wantLen || r.HighWater() != wantHW {
			t.Fatalf("Len %d HighWater %d, want %d and %d", r.Len(), r.HighWater(), wantLen, wantHW)
		}
	}
	push(3)
	f(3072, 3072)
	drain()
	f(0, 3072)
	push(2)
	f(2048, 3072) // cached head is stale here; HighWater must not overshoot
	push(2)
	f(4096, 4096)
	drain()
	push(1)
	f(1024, 4096)
}

func TestWaitTimeout(t *testing.T) {
	r := mustNew(t, MinSize)
	for range 2 { // the second run reuses the timer
		start := time.Now()
		if r.Wait(30 * time.Millisecond) {
			t.Fatal("Wait on empty ring = true")
		}
		if d := time.Since(start); d < 30*time.Millisecond || d > 5*time.Second {
			t.Fatalf("Wait(30ms) returned after %v", d)
		}
	}
	if ok, err := r.TryPush(1, []byte("a")); !ok || err != nil {
		t.Fatalf("TryPush = %v, %v", ok, err)
	}
	start := time.Now()
	if !r.Wait(time.Hour) {
		t.Fatal("Wait with a record available = false")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait with a record available took %v", d)
	}
	r.Drain(0, func(uint16, []byte) {})
	// The timer was stopped early above; a stale expiry must not end this
	// wait before its own timeout.
	start = time.Now()
	if r.Wait(20*time.Millisecond) || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Wait(20ms) after an early return: returned early after %v", time.Since(start))
	}
}

// TestConcurrent streams many records of random sizes through a small ring
// between two goroutines and checks exact count, order and content. The
// consumer waits without timeout, so a lost wakeup hangs the test.
func TestConcurrent(t *testing.T) {
	total := uint64(2_000_000)
	if testing.Short() || raceEnabled {
		total = 150_000 // the race detector slows this ~30x
	}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		slow    bool // consumer yields often, so the producer parks
	}{
		{"fast/forever", 0, false},
		{"slow/forever", 0, true},
		{"fast/timeout", 100 * time.Microsecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, MinSize)
			sizeOf := func(seq uint64) int {
				x := seq * 0x9E3779B97F4A7C15
				if x>>60 == 0 { // 1 in 16 is large, forcing skip markers
					return int(x>>32) % (r.MaxRecord() + 1)
				}
				return int(x>>32) % 200
			}
			type result struct {
				n   uint64
				err string
			}
			res := make(chan result, 1)
			go func() {
				scratch := make([]byte, r.MaxRecord())
				var seq uint64
				var bad string
				fn := func(typ uint16, p []byte) {
					if bad != "" {
						return
					}
					want := record(scratch, seq, sizeOf(seq))
					if typ != uint16(seq) || !bytes.Equal(p, want) {
						bad = "record " + itoa(seq) + " mismatched (type " + itoa(uint64(typ)) + ", len " + itoa(uint64(len(p))) + ")"
					}
					seq++
				}
				for {
					if !r.Wait(tc.timeout) {
						if r.Closed() && r.Len() == 0 {
							break
						}
						continue
					}
					if tc.slow && seq%7 == 0 {
						runtime.Gosched()
					}
					r.Drain(int(seq%5000), fn)
				}
				res <- result{seq, bad}
			}()
			buf := make([]byte, r.MaxRecord())
			for seq := uint64(0); seq < total; seq++ {
				var err error
				if seq%3 == 0 {
					var ok bool
					for !ok && err == nil {
						if ok, err = r.TryPush(uint16(seq), record(buf, seq, sizeOf(seq))); !ok && err == nil {
							err = r.Push(uint16(seq), record(buf, seq, sizeOf(seq)))
							ok = true
						}
					}
				} else {
					err = r.Push(uint16(seq), record(buf, seq, sizeOf(seq)))
				}
				if err != nil {
					t.Fatalf("Push %d: %v", seq, err)
				}
			}
			r.Close()
			select {
			case got := <-res:
				if got.err != "" {
					t.Fatal(got.err)
				}
				if got.n != total {
					t.Fatalf("consumer got %d records, want %d", got.n, total)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("consumer hung (lost wakeup?): Len %d", r.Len())
			}
			if hw := r.HighWater(); hw <= 0 || hw > r.Cap() {
				t.Fatalf("HighWater %d out of (0, %d]", hw, r.Cap())
			}
		})
	}
}

// TestPingPong bounces one record at a time between two rings, so that each
// consumer parks in Wait before almost every record: a missed wakeup hangs it.
func TestPingPong(t *testing.T) {
	rounds := 100_000
	if raceEnabled {
		rounds = 20_000
	}
	ab, ba := mustNew(t, MinSize), mustNew(t, MinSize)
	errc := make(chan string, 1)
	go func() {
		var got uint16
		fn := func(typ uint16, _ []byte) { got = typ }
		for ab.Wait(0) {
			ab.Drain(0, fn)
			if err := ba.Push(got, nil); err != nil {
				errc <- err.Error()
				return
			}
		}
		ba.Close()
		errc <- ""
	}()
	done := make(chan struct{})
	var lastErr string
	go func() {
		defer close(done)
		var got uint16
		fn := func(typ uint16, _ []byte) { got = typ }
		for i := range rounds {
			if err := ab.Push(uint16(i), nil); err != nil {
				lastErr = err.Error()
				return
			}
			if !ba.Wait(0) {
				lastErr = "ba closed early"
				return
			}
			if n := ba.Drain(0, fn); n != 1 || got != uint16(i) {
				lastErr = "bad echo"
				return
			}
		}
		ab.Close()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("ping-pong hung (lost wakeup): ab Len %d, ba Len %d", ab.Len(), ba.Len())
	}
	if lastErr != "" {
		t.Fatal(lastErr)
	}
	if e := <-errc; e != "" {
		t.Fatal(e)
	}
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		if v /= 10; v == 0 {
			return string(b[i:])
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	r := mustNew(t, MinSize)
	p := make([]byte, 200)
	var sink int
	fn := func(typ uint16, q []byte) { sink += len(q) + int(typ) }
	f := func(name string, runs int, op func()) {
		t.Helper()
		if a := testing.AllocsPerRun(runs, op); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, a)
		}
	}
	f("TryPush+Drain", 1000, func() { r.TryPush(1, p); r.Drain(0, fn) })
	f("Push+Drain", 1000, func() { _ = r.Push(1, p); r.Drain(0, fn) })
	f("Push+Wait+Drain", 1000, func() { _ = r.Push(1, p); r.Wait(time.Second); r.Drain(0, fn) })
	f("Wait timeout", 5, func() { r.Wait(time.Microsecond) })
	_ = sink
}

// With DeferWakeups, a push does not wake a parked consumer; Wake does, and
// a Push that finds the ring full wakes it before parking.
func TestDeferWakeups(t *testing.T) {
	r, err := New(MinSize)
	if err != nil {
		t.Fatal(err)
	}
	r.DeferWakeups()
	// With the consumer parked, a deferred push leaves no wake-up token
	// (the consumer's only way out of Wait(0)); Wake leaves one. The
	// consumer is only marked parked here, so that nothing can take the
	// token before it is looked at.
	r.consParked.Store(1)
	if err := r.Push(1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if len(r.consWake) != 0 {
		t.Fatal("a deferred push woke the consumer")
	}
	r.Wake()
	if len(r.consWake) != 1 {
		t.Fatal("Wake did not signal the parked consumer")
	}
	<-r.consWake
	r.consParked.Store(0)
	r.Drain(0, func(uint16, []byte) {})
	// A consumer really parked wakes on Wake after a deferred push.
	woke := make(chan bool, 1)
	go func() { woke <- r.Wait(0) }()
	eventually(t, "the consumer to park", func() bool { return r.consParked.Load() == 1 })
	if err := r.Push(1, []byte("y")); err != nil {
		t.Fatal(err)
	}
	r.Wake()
	select {
	case ok := <-woke:
		if !ok {
			t.Fatal("Wait returned false with a record available")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wake did not wake the consumer")
	}
	r.Drain(0, func(uint16, []byte) {})

	// Fill the ring with deferred pushes while the consumer is parked: the
	// producer's Push on the full ring must wake it, or both would wait
	// forever.
	done := make(chan int)
	go func() {
		n := 0
		for r.Wait(0) {
			n += r.Drain(0, func(uint16, []byte) {})
		}
		done <- n
	}()
	payload := make([]byte, 1000)
	const count = 1000 // about 16 ring's worth
	for i := 0; i < count; i++ {
		if err := r.Push(1, payload); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	select {
	case n := <-done:
		if n != count {
			t.Fatalf("drained %d, want %d", n, count)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("producer and consumer deadlocked with deferred wake-ups")
	}
}

// TestKickEndsWait: Kick ends a Wait parked on an empty ring, and a Kick
// before Wait makes that Wait return at once; neither leaves a stale kick.
func TestKickEndsWait(t *testing.T) {
	r, err := New(MinSize)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- r.Wait(0) }()
	r.Kick()
	select {
	case got := <-done:
		if got {
			t.Fatal("Wait after Kick on an empty ring reported a record")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Kick did not end Wait")
	}
	r.Kick()
	if r.Wait(0) {
		t.Fatal("Wait after an earlier Kick reported a record")
	}
	// The kick was consumed: a Wait with a timeout now times out.
	if r.Wait(time.Millisecond) {
		t.Fatal("Wait on an empty ring reported a record")
	}
	if ok, err := r.TryPush(1, []byte("x")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	r.Kick()
	if !r.Wait(0) {
		t.Fatal("Wait with a record available after Kick reported none")
	}
}

// TestDrainWhile: the record for which more returns false is handed out and
// released; the rest stay for the next drain, in order.
func TestDrainWhile(t *testing.T) {
	r, err := New(MinSize)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if ok, err := r.TryPush(uint16(i), []byte{byte(i)}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	var got []byte
	n := r.DrainWhile(func(typ uint16, p []byte) bool {
		got = append(got, p[0])
		return len(got) < 4
	})
	if n != 4 || string(got) != "\x00\x01\x02\x03" {
		t.Fatalf("first DrainWhile: n %d, got %v", n, got)
	}
	got = got[:0]
	n = r.DrainWhile(func(typ uint16, p []byte) bool {
		if uint16(p[0]) != typ {
			t.Errorf("type %d with payload %d", typ, p[0])
		}
		got = append(got, p[0])
		return true
	})
	if n != 6 || string(got) != "\x04\x05\x06\x07\x08\x09" || r.Len() != 0 {
		t.Fatalf("second DrainWhile: n %d, got %v, Len %d", n, got, r.Len())
	}
	if n := r.DrainWhile(func(uint16, []byte) bool { return true }); n != 0 {
		t.Fatalf("DrainWhile on an empty ring: %d", n)
	}
}
