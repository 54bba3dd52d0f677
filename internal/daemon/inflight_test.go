package daemon

import (
	"fmt"
	"os"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/writer"
)

// markLog records the writer's frame marks.
type markLog struct {
	pending []ring.Pending
	written chan uint64
}

func (m *markLog) Pending(seq uint64, off, end int64, mark uint64) {
	m.pending = append(m.pending, ring.Pending{Segment: seq, Off: off, End: end, Mark: mark})
}
func (m *markLog) Written(mark uint64) { m.written <- mark }

// The decision an adopting process takes about the previous process's
// last frame, against real segment files the writer wrote: whole (its
// records are not written again), torn by the kill (cut within the frame)
// and absent (the write never happened) both mean writing them again.
func TestPendingFrameOnDisk(t *testing.T) {
	for _, comp := range []config.Compression{config.CompressionZstd, config.CompressionNone} {
		t.Run(string(comp), func(t *testing.T) {
			dir := t.TempDir()
			cfg := config.Default()
			cfg.LogDir, cfg.Compression = dir, comp
			wc, err := cfg.Writer(nil)
			if err != nil {
				t.Fatal(err)
			}
			m := &markLog{written: make(chan uint64, 16)}
			wc.Marks = m
			w, err := writer.Open(wc)
			if err != nil {
				t.Fatal(err)
			}
			pos := uint64(0)
			for frame := 0; frame < 2; frame++ {
				for i := 0; i < 200; i++ {
					p := fmt.Appendf(nil, "audit(1700000000.%03d:%d): pid=%d frame=%d", i, 1000+frame*200+i, i, frame)
					w.At(pos, pos+64)
					pos += 64
					if err := w.Append(1300, p); err != nil {
						t.Fatal(err)
					}
				}
				w.Flush()
				if got := <-m.written; got != pos {
					t.Fatalf("frame %d written with mark %d, want %d", frame, got, pos)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if len(m.pending) != 2 {
				t.Fatalf("%d pending marks, want 2: %+v", len(m.pending), m.pending)
			}
			last := m.pending[1]
			if last.Off != m.pending[0].End || last.Mark != pos {
				t.Fatalf("pending marks %+v", m.pending)
			}
			on, path, err := frameOnDisk(dir, last)
			if err != nil || !on {
				t.Fatalf("whole frame in %s: on disk %v, %v; want true", path, on, err)
			}
			// The index trailer Close wrote after the frame does not matter;
			// now cut the file as a kill during the write would.
			if err := os.Truncate(path, last.Off+(last.End-last.Off)/2); err != nil {
				t.Fatal(err)
			}
			if on, _, err := frameOnDisk(dir, last); err != nil || on {
				t.Errorf("torn frame: on disk %v, %v; want false", on, err)
			}
			if err := os.Truncate(path, last.Off); err != nil {
				t.Fatal(err)
			}
			if on, _, err := frameOnDisk(dir, last); err != nil || on {
				t.Errorf("absent frame: on disk %v, %v; want false", on, err)
			}
			// The first frame is still whole.
			if on, _, err := frameOnDisk(dir, m.pending[0]); err != nil || !on {
				t.Errorf("first frame: on disk %v, %v; want true", on, err)
			}
			other := last
			other.Segment += 5
			if on, _, err := frameOnDisk(dir, other); err != nil || on {
				t.Errorf("a segment that is not there: on disk %v, %v; want false", on, err)
			}
		})
	}
}
