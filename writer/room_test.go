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
