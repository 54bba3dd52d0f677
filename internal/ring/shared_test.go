package ring

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// A shared ring adopted through a second mapping of its memfd (as the next
// process does after a kill) hands out exactly the records not yet
// released, in order, also across the buffer's wrap, and its producer
// does not reuse unreleased space.
func TestSharedAdoptSeesUnwritten(t *testing.T) {
	r, err := NewShared("ring-test", MinSize, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Extra()) != 4096 {
		t.Fatalf("extra memory of %d bytes, want 100 rounded to a page", len(r.Extra()))
	}
	copy(r.Extra(), "the reader's receive area")
	rec := func(i int) []byte { return fmt.Appendf(nil, "record %d %s", i, bytes.Repeat([]byte{'x'}, i%300)) }
	// Fill and drain past the wrap, releasing as a writer would: up to
	// the record before the last drained one.
	next, released, drained := 0, 0, 0
	var marks []uint64
	fill := func() { // push until the ring is full
		for {
			ok, err := r.TryPush(uint16(next%7), rec(next))
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			next++
		}
	}
	for round := 0; round < 40; round++ {
		fill()
		marks = marks[:0]
		r.Drain(8<<10, func(typ uint16, p []byte) {
			_, end := r.Current()
			marks = append(marks, end)
		})
		drained += len(marks)
		if len(marks) > 1 {
			r.Release(marks[len(marks)-2])
			released = drained - 1
		}
	}
	// Fill the ring and drain all of it without releasing: the producer
	// must not overwrite what is drained but not released.
	fill()
	marks = marks[:0]
	r.Drain(0, func(typ uint16, p []byte) {
		_, end := r.Current()
		marks = append(marks, end)
	})
	if ok, _ := r.TryPush(1, rec(next)); ok {
		t.Fatal("a push into space drained but not released succeeded")
	}
	r.SetPending(Pending{Segment: 3, Off: 100, End: 200, Mark: marks[len(marks)-1]})

	fd, err := unix.FcntlInt(uintptr(r.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Adopt(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unmap()
	if x := a.Extra(); string(x[:25]) != "the reader's receive area" {
		t.Errorf("extra memory after Adopt: %q", x[:25])
	}
	if !a.Holds(uint16(released%7), rec(released)) || a.Holds(1, rec(next)) {
		t.Error("Holds does not find the first unreleased record, or finds one never pushed")
	}
	if p := a.LastPending(); p.Segment != 3 || p.Off != 100 || p.End != 200 || p.Mark != marks[len(marks)-1] {
		t.Errorf("pending %+v", p)
	}
	got := released
	a.Drain(0, func(typ uint16, p []byte) {
		if want := rec(got); typ != uint16(got%7) || !bytes.Equal(p, want) {
			t.Fatalf("record %d: type %d %q, want %d %q", got, typ, p, got%7, want)
		}
		got++
	})
	if got != next {
		t.Errorf("adopted ring handed out records %d..%d, want up to %d", released, got, next)
	}
	// Rewind: only the records after the position come again (and it is
	// stored in the shared header).
	c, err := Adopt(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rewind(marks[2]); err != nil {
		t.Fatal(err)
	}
	if n := c.Drain(0, func(uint16, []byte) {}); n != next-released-4 {
		t.Errorf("after Rewind past 4 records (the one drained last round, 3 of the last drain) %d records, want %d", n, next-released-4)
	}
	b, err := Adopt(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Rewind(marks[len(marks)-1]); err != nil {
		t.Fatal(err)
	}
	if n := b.Drain(0, func(uint16, []byte) {}); n != 0 {
		t.Errorf("after Rewind to the last record's end %d records, want 0", n)
	}
	if err := b.Rewind(marks[len(marks)-1] + 8); err == nil {
		t.Error("Rewind to a position inside a record succeeded")
	}
	r.Unmap()
}

// Adopt refuses what is not a shared ring, and a ring whose records do not
// hold together.
func TestAdoptRefuses(t *testing.T) {
	fd, err := unix.MemfdCreate("not-a-ring", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, sharedHeader+MinSize)
	if _, err := Adopt(fd); !errors.Is(err, ErrNotRing) {
		t.Errorf("unsealed memfd: %v", err)
	}
	r, err := NewShared("ring-test", MinSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
	r.TryPush(1, []byte("hello"))
	r.shared.mem[sharedHeader] = 0xff // length 255 + ... still within max: make it absurd
	r.shared.mem[sharedHeader+3] = 0x7f
	if _, err := Adopt(r.Fd()); !errors.Is(err, ErrNotRing) {
		t.Errorf("damaged record: %v", err)
	}
}

// BenchmarkPushDrainShared is BenchmarkPushDrain with a shared ring whose
// consumer releases the space after each drain (as the writer does after
// each frame: one atomic store per batch, not per record).
func BenchmarkPushDrainShared(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			r, err := NewShared("ring-bench", size, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Unmap()
			benchPushTo(b, r, func() int {
				var n int
				var end uint64
				fn := func(uint16, []byte) { n++; _, end = r.Current() }
				for {
					// Wait returns false when the parked producer kicks
					// it: nothing to drain, but space to release.
					ok := r.Wait(0)
					r.Drain(0, fn)
					r.Release(end)
					if !ok && r.Closed() && r.Len() == 0 {
						return n
					}
				}
			})
		})
	}
}
