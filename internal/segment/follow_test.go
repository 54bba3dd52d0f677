package segment_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Follow prints what a real writer appends, across rotations, in order and
// exactly once, until its context is cancelled; with a filter, only the
// selected lines.
func TestFollowRealWriter(t *testing.T) {
	dir := t.TempDir()
	recs, lines := captured(t)
	w := openWriter(t, dir)
	defer w.Close()
	appendWait(t, w, recs[:100], 100)

	_, pick, _ := record.LineHeader([]byte(lines[900]))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var all, sel syncBuffer
	done := make(chan error, 2)
	go func() {
		var r segment.Reader
		done <- r.Follow(ctx, &all, dir, 20*time.Millisecond)
	}()
	go func() {
		r := segment.Reader{Filter: segment.Filter{SerialMin: pick, SerialMax: pick}}
		done <- r.Follow(ctx, &sel, dir, 20*time.Millisecond)
	}()
	want := func(n int) string { return strings.Join(lines[:n], "") }
	waitFor(t, "the first 100 records", func() bool { return all.String() == want(100) })

	n := uint64(100)
	for i, end := range []int{400, 700, 1000, len(recs)} {
		appendWait(t, w, recs[n:end], uint64(end))
		n = uint64(end)
		if i%2 == 0 {
			w.Rotate()
			waitFor(t, "a rotation", func() bool { return w.Stats().Segments >= uint64(i/2+2) })
		}
		waitFor(t, "the records appended", func() bool { return all.String() == want(end) })
	}
	if got := all.String(); got != want(len(lines)) {
		t.Fatalf("followed %d bytes, want %d", len(got), len(want(len(lines))))
	}
	var wantSel strings.Builder
	for _, l := range lines {
		if _, s, ok := record.LineHeader([]byte(l)); ok && s == pick {
			wantSel.WriteString(l)
		}
	}
	waitFor(t, "the selected records", func() bool { return sel.String() == wantSel.String() })
	segs, _ := segment.List(dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments: the test did not rotate", len(segs))
	}
	cancel()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Follow did not return after its context was cancelled")
		}
	}
}
