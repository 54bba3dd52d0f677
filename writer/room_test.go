package writer

import (
	"testing"
	"time"
)

// TestRoom: Room is true while Append cannot block, and false exactly when
// every pooled batch is in flight: with Flush "data" and fsyncs held, the
// written batches wait for their fsync and the pool runs dry.
func TestRoom(t *testing.T) {
	gate := make(chan struct{})
	ev := &events{}
	cfg := Config{Dir: t.TempDir(), LogGroup: -1, Notify: ev.notify, Compression: "none", BatchBytes: 4 << 10,
		Flush: FlushData, CheckInterval: time.Hour}
	s, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeFS{dir: cfg.Dir, capacity: 1 << 30, syncGate: gate}
	s.env = fs.env(newFakeClock())
	w, err := openSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(gate); w.Close() }()

	payload := make([]byte, 1000)
	for i := range payload {
		payload[i] = 'x'
	}
	if !w.Room(len(payload)) {
		t.Fatal("Room is false on a new writer")
	}
	// Each Flush seals one batch; with fsyncs held none comes back. Room
	// must turn false before the pool (4 batches, Compression "none") is
	// exhausted, and Append must not have blocked while it was true.
	sealed := 0
	for w.Room(len(payload)) {
		if sealed > 16 {
			t.Fatal("Room still true after 16 batches held by fsyncs")
		}
		if err := w.Append(1300, payload); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		sealed++
	}
	if sealed != s.poolSize {
		t.Errorf("Room turned false after %d batches, want the pool's %d", sealed, s.poolSize)
	}
	if w.Room(len(payload)) {
		t.Fatal("Room true again with every batch held")
	}
}

// Settled: not while a batch is open or a sealed one is not back from the
// appender; then the position of the last At, also for records left out
// after the last batch.
func TestSettled(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), FlushInterval: time.Hour, FsyncInterval: time.Hour}
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if m, ok := w.Settled(); !ok || m != 0 {
		t.Fatalf("a new writer: Settled %d, %v", m, ok)
	}
	w.At(0, 64)
	w.Append(1300, []byte("audit(1.000:1): a"))
	if _, ok := w.Settled(); ok {
		t.Fatal("settled with a batch open")
	}
	w.Flush()
	w.At(64, 128) // left out
	w.At(128, 128)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, ok := w.Settled()
		if ok {
			if m != 128 {
				t.Fatalf("settled at %d, want 128", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not settled 10 s after the flush")
		}
		time.Sleep(time.Millisecond)
	}
}
