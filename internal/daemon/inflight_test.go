package daemon

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/ratelimit"
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

// A shared ring's space comes back only once its records are written; a
// ring full of records that are all left out (here: rate-limited) must
// still make room: the drain loop releases them when nothing is left to
// write, instead of the reader waiting for a frame that never comes.
func TestSharedRingAllLeftOut(t *testing.T) {
	k := kernelFor(t, 8192)
	// Only this test's rule: other records (the machine's rules) would be
	// written, and their frames would release the ring's space anyway.
	if _, err := k.Conn().DeleteAllRules(); err != nil {
		t.Fatal(err)
	}
	key := k.Key("leftout")
	rule(k, "getppid", key)
	cfg := config.Default()
	cfg.RingSize = 64 << 10 // about 300 records
	cfg.BacklogLimit = 8192
	cfg.KernelBackpressure = "wait" // a stalled reader stalls the load: no loss to hide it
	cfg.Limits.Rules = []ratelimit.Rule{{Key: key, Rate: 0.001, Burst: 1}}
	r := start(t, k, cfg, Options{})
	const events = 20000
	done := make(chan struct{})
	t0 := time.Now()
	go func() { load(t, fmt.Sprintf("getppid:%d:0", events)); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the load did not finish in 60 s: the reader waits for ring space\n%s", r.log.String())
	}
	// The load ends once its records are queued (the socket holds them
	// all); the stop reads and handles every one of them.
	st := r.stop(t)
	took := time.Since(t0)
	if took > 30*time.Second {
		t.Errorf("%d events took %v through the ring: the reader waited for ring space", events, took.Round(time.Millisecond))
	}
	written := count(r.logText(t), "type=SYSCALL ", `key="`+key+`"`)
	if suppressed := st.RateLimitedByKey[key]; uint64(events-written)*3 != suppressed || written > 2 {
		t.Fatalf("%d events written, %d records suppressed; want at most 2 written and the rest (x3) suppressed", written, suppressed)
	}
	t.Logf("%d events through a 64 KiB shared ring in %v, %d written; ring high water %d of %d; %d records in %d frames, %d self", events, took.Round(time.Millisecond), written, st.RingHighWater, st.RingCapacity, st.RecordsWritten, st.Batches, st.SelfRecords)
}
