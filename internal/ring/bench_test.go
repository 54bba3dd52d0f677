package ring

import (
	"testing"
	"time"
)

// BenchmarkPushDrain measures the two-goroutine hand-off of 200-byte records:
// the benchmark goroutine pushes (parking when full), a consumer goroutine
// waits and drains. One op is one record.
func BenchmarkPushDrain(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			r := mustNew(b, size)
			benchPushTo(b, r, func() int {
				var n int
				fn := func(uint16, []byte) { n++ }
				for r.Wait(0) {
					r.Drain(0, fn)
				}
				return n
			})
		})
	}
}

// benchPushTo pushes b.N 200-byte records into r (parking when full)
// while consume, on a goroutine of its own, drains r until it is closed
// and empty and returns the records it got.
func benchPushTo(b *testing.B, r *Ring, consume func() int) {
	p := make([]byte, 200)
	done := make(chan int)
	go func() { done <- consume() }()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Push(uint16(i), p); err != nil {
			b.Fatal(err)
		}
	}
	r.Close()
	if n := <-done; n != b.N {
		b.Fatalf("consumer got %d records, want %d", n, b.N)
	}
}

// BenchmarkPushDrainSameGoroutine measures one TryPush and one Drain of a
// 200-byte record in a single goroutine: the cost of framing and the two
// atomic stores without any cross-core traffic.
func BenchmarkPushDrainSameGoroutine(b *testing.B) {
	r := mustNew(b, MinSize)
	p := make([]byte, 200)
	var sum int
	fn := func(_ uint16, q []byte) { sum += len(q) }
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, err := r.TryPush(1, p); !ok || err != nil {
			b.Fatalf("TryPush = %v, %v", ok, err)
		}
		r.Drain(0, fn)
	}
	if sum != b.N*len(p) {
		b.Fatalf("drained %d bytes, want %d", sum, b.N*len(p))
	}
}

// BenchmarkWaitTimeout measures a Wait that times out (timer reuse).
func BenchmarkWaitTimeout(b *testing.B) {
	r := mustNew(b, MinSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r.Wait(time.Nanosecond) {
			b.Fatal("Wait on empty ring = true")
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return itoa(uint64(n>>20)) + "MiB"
	}
	return itoa(uint64(n>>10)) + "KiB"
}
