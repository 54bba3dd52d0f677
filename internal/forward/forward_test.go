package forward

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/writer"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

func catDir(t *testing.T, dir string) string {
	t.Helper()
	paths, err := segment.Select(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := segment.Cat(&b, paths...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeLog appends n records with serials from first on.
func writeLog(t *testing.T, w *writer.Writer, first, n int) {
	t.Helper()
	for i := range n {
		s := first + i
		p := fmt.Sprintf("audit(1700000000.%03d:%d): pid=%d uid=0 comm=\"x\" exe=\"/usr/bin/x\" key=\"fwd\"", s%1000, s, s)
		if err := w.Append(1300, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *running) stop() { r.cancel(); <-r.done }

func run(f func(ctx context.Context) error) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); f(ctx) }()
	return r
}

func newForwarder(t *testing.T, srv *audittest.NATS, dir, host string, logf func(string, ...any)) *Forwarder {
	t.Helper()
	conn := ConnOptions{URL: srv.URL()}
	f, err := New(Config{Dir: dir, Host: host, BootID: "boot-1", Interval: 10 * time.Millisecond, Logf: logf,
		Dial: func(ctx context.Context) (Sink, error) {
			return NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 1)
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitFor polls cond every 20ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForwardCollectRotating: frames of rotating segments (closed and
// open) reach the collector's directory identical to the source log, with
// the server killed and restarted in the middle and the forwarder
// restarted from its cursor.
func TestForwardCollectRotating(t *testing.T) {
	srv := audittest.StartNATS(t)
	dir := filepath.Join(t.TempDir(), "log")
	out := filepath.Join(t.TempDir(), "central")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, BatchBytes: 8 << 10, MaxSegmentBytes: 64 << 10, FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	logf := func(f string, a ...any) { logMu.Lock(); t.Logf(f, a...); logMu.Unlock() }
	col := NewCollector(CollectConfig{Conn: ConnOptions{URL: srv.URL()}, Dir: out, Logf: logf})
	cr := run(col.Run)
	defer cr.stop()
	fw := newForwarder(t, srv, dir, "host-a.example", logf)
	fr := run(fw.Run)

	writeLog(t, w, 1, 5000)
	w.Flush()
	waitFor(t, 20*time.Second, "the first records forwarded", func() bool { return fw.Stats().Records >= 5000 })
	// Server down: the writer goes on, the forwarder waits.
	srv.Stop()
	writeLog(t, w, 5001, 5000)
	w.Flush()
	time.Sleep(300 * time.Millisecond) // some failed attempts while it is down
	// The forwarder restarts (its cursor), then the server comes back.
	fr.stop()
	fw = newForwarder(t, srv, dir, "host-a.example", logf)
	fr = run(fw.Run)
	srv.Start()
	writeLog(t, w, 10001, 5000)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := catDir(t, dir)
	hostDir := filepath.Join(out, "host-a.example")
	waitFor(t, 30*time.Second, "the collector to have every frame", func() bool {
		return fw.Stats().LagBytes <= int64(segment.TrailerSize) && col.Stats().Records >= 15000
	})
	fr.stop()
	got := catDir(t, hostDir)
	if got != want {
		t.Fatalf("collected log differs: %d bytes, source %d bytes; collect stats %+v", len(got), len(want), col.Stats())
	}
	if n := strings.Count(got, "\n"); n != 15000 {
		t.Fatalf("%d lines collected, want 15000", n)
	}
	st := fw.Stats()
	t.Logf("forwarder: %+v; collector: %+v", st, col.Stats())
	if st.Cursor.Lost != 0 {
		t.Errorf("lost %d", st.Cursor.Lost)
	}
}

// TestRetentionLossCounted: with the server unreachable, retention
// deletes segments the forwarder never sent: their records are counted
// as lost (cause forward), exactly, and the cursor moves past them.
func TestRetentionLossCounted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	var fw *Forwarder
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, BatchBytes: 4 << 10, MaxSegmentBytes: 16 << 10,
		FsyncInterval: time.Millisecond, MaxLogFileAction: writer.Action{Kind: writer.ActionRotate}, NumLogs: 2,
		BeforeDelete: func(p string) { fw.BeforeDelete(p) }})
	if err != nil {
		t.Fatal(err)
	}
	fw, err = New(Config{Dir: dir, Host: "h", BootID: "b", Interval: 10 * time.Millisecond,
		Dial: func(ctx context.Context) (Sink, error) { return nil, fmt.Errorf("no server") }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := run(fw.Run)
	defer r.stop()
	writeLog(t, w, 1, 20000)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	kept := strings.Count(catDir(t, dir), "\n")
	if kept >= 20000 {
		t.Fatalf("retention deleted nothing (%d records kept)", kept)
	}
	if got := fw.Lost(); got != uint64(20000-kept) {
		t.Fatalf("Lost = %d, want %d (20000 written, %d kept)", got, 20000-kept, kept)
	}
}

// TestCollectorsShareTheWork: two collectors with the same durable name
// on the same directory, two hosts forwarding: each host's directory is
// its log, whatever collector wrote which frame.
func TestCollectorsShareTheWork(t *testing.T) {
	srv := audittest.StartNATS(t)
	out := filepath.Join(t.TempDir(), "central")
	var cols []*Collector
	for range 2 {
		c := NewCollector(CollectConfig{Conn: ConnOptions{URL: srv.URL()}, Dir: out, Batch: 16, Logf: t.Logf})
		cols = append(cols, c)
		r := run(c.Run)
		defer r.stop()
	}
	var dirs []string
	var fws []*Forwarder
	for i, host := range []string{"alpha", "beta"} {
		dir := filepath.Join(t.TempDir(), "log")
		w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, BatchBytes: 4 << 10, MaxSegmentBytes: 32 << 10, FsyncInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		writeLog(t, w, 1+i*100000, 8000)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fw := newForwarder(t, srv, dir, host, t.Logf)
		r := run(fw.Run)
		defer r.stop()
		dirs, fws = append(dirs, dir), append(fws, fw)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n uint64
		for _, c := range cols {
			n += c.Stats().Records
		}
		if fws[0].Stats().Records == 8000 && fws[1].Stats().Records == 8000 && n >= 16000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: forwarders %+v, %+v; collectors %+v, %+v", fws[0].Stats(), fws[1].Stats(), cols[0].Stats(), cols[1].Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, host := range []string{"alpha", "beta"} {
		if got, want := catDir(t, filepath.Join(out, host)), catDir(t, dirs[i]); got != want {
			t.Errorf("%s: collected %d bytes, the log has %d", host, len(got), len(want))
		}
	}
	a, b := cols[0].Stats(), cols[1].Stats()
	t.Logf("collector 1: %+v; collector 2: %+v", a, b)
	if a.Frames == 0 || b.Frames == 0 {
		t.Errorf("one collector did all the work (%d and %d frames)", a.Frames, b.Frames)
	}
}

// TestClusterNodeKilled: a three-node JetStream cluster, an R3 stream,
// records written at about 20,000/s while the forwarder and the
// collector run; one node is killed in the middle: the one both are
// connected to (they are given its URL only and find the others from its
// cluster announcements), so the forwarder's publishes and the
// collector's deliveries in flight are both cut. Every record reaches the
// collector's directory, once, in order.
func TestClusterNodeKilled(t *testing.T) {
	srvs := audittest.StartNATSCluster(t, 3)
	victim := srvs[0]
	conn := ConnOptions{URL: victim.URL()}
	// The meta leader takes a few seconds: create the R3 stream once it
	// can be.
	var sink Sink
	waitFor(t, 30*time.Second, "the R3 stream created", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 3)
		if err == nil {
			sink = s
		}
		return err == nil
	})
	sink.Close()
	dir := filepath.Join(t.TempDir(), "log")
	out := filepath.Join(t.TempDir(), "central")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, BatchBytes: 16 << 10, MaxSegmentBytes: 256 << 10, FsyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	col := NewCollector(CollectConfig{Conn: conn, Dir: out, Logf: t.Logf})
	cr := run(col.Run)
	defer cr.stop()
	var dialed atomic.Pointer[jsSink]
	fw, err := New(Config{Dir: dir, Host: "node-test", BootID: "b", Interval: 20 * time.Millisecond, Logf: t.Logf,
		Dial: func(ctx context.Context) (Sink, error) {
			s, err := NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 3)
			if err == nil {
				dialed.Store(s.(*jsSink))
			}
			return s, err
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr := run(fw.Run)
	defer fr.stop()
	// 6 s at ~20,000 records/s; after 2 s the node the forwarder is
	// connected to is killed.
	const total = 120000
	start := time.Now()
	killed := false
	for i := 0; i < total; i += 200 {
		writeLog(t, w, i+1, 200)
		w.Tick(time.Now())
		if !killed && time.Since(start) > 2*time.Second {
			if s := dialed.Load(); s == nil || s.nc.ConnectedUrl() != victim.URL() {
				t.Fatalf("the forwarder is not connected to %s", victim.URL())
			}
			t.Logf("killing %s", victim.URL())
			victim.Stop()
			killed = true
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+200) * time.Second / 20000)))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "every record collected", func() bool { return col.Stats().Records >= total })
	got, want := catDir(t, filepath.Join(out, "node-test")), catDir(t, dir)
	if got != want {
		t.Fatalf("collected %d bytes (%d lines), the log has %d (%d lines)", len(got), strings.Count(got, "\n"), len(want), strings.Count(want, "\n"))
	}
	t.Logf("forwarder %+v; collector %+v", fw.Stats(), col.Stats())
}

// TestPlainSegmentSkipped: a segment written with compression = none
// before the log switched to zstd cannot be sent as frames: its records
// are counted as lost, and the zstd segments after it are forwarded.
func TestPlainSegmentSkipped(t *testing.T) {
	srv := audittest.StartNATS(t)
	dir := filepath.Join(t.TempDir(), "log")
	for i, comp := range []string{"none", ""} {
		w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, Compression: comp, FsyncInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		writeLog(t, w, 1+i*1000, 1000)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fw := newForwarder(t, srv, dir, "h", t.Logf)
	r := run(fw.Run)
	defer r.stop()
	waitFor(t, 10*time.Second, "the zstd segment forwarded", func() bool { return fw.Stats().Cursor.Records >= 1000 })
	if st := fw.Stats(); st.Cursor.Lost != 1000 || st.Cursor.Records != 1000 {
		t.Fatalf("lost %d, forwarded %d; want 1000 and 1000", st.Cursor.Lost, st.Cursor.Records)
	}
}

// TestCredentials: a server that wants a user and password, or an nkey:
// the wrong password forwards nothing (and says why), the right one and
// the nkey seed file forward.
func TestCredentials(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	tmp := t.TempDir()
	seedFile := filepath.Join(tmp, "user.nk")
	conf := filepath.Join(tmp, "auth.conf")
	os.WriteFile(seedFile, seed, 0o600)
	os.WriteFile(conf, []byte(fmt.Sprintf("authorization {\n  users = [\n    {user: fwd, password: s3cret}\n    {nkey: %s}\n  ]\n}\n", pub)), 0o600)
	srv := audittest.StartNATS(t, "-c", conf)
	dir := filepath.Join(t.TempDir(), "log")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writeLog(t, w, 1, 100)
	w.Close()
	for _, tc := range []struct {
		name string
		conn ConnOptions
		ok   bool
	}{
		{"wrong password", ConnOptions{User: "fwd", Password: "guess"}, false},
		{"user and password", ConnOptions{User: "fwd", Password: "s3cret"}, true},
		{"nkey seed", ConnOptions{NKeySeed: seedFile}, true},
	} {
		conn := tc.conn
		conn.URL = srv.URL()
		cursor := filepath.Join(t.TempDir(), "cursor")
		f, err := New(Config{Dir: dir, Cursor: cursor, Host: "h", BootID: "b", Interval: 10 * time.Millisecond,
			Dial: func(ctx context.Context) (Sink, error) {
				return NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 1)
			}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := run(f.Run)
		if tc.ok {
			waitFor(t, 10*time.Second, tc.name+": records forwarded", func() bool { return f.Stats().Cursor.Records == 100 })
		} else {
			waitFor(t, 15*time.Second, tc.name+": the error", func() bool { return f.Stats().LastErr != "" })
			if st := f.Stats(); st.Cursor.Records != 0 || !strings.Contains(strings.ToLower(st.LastErr), "authorization") {
				t.Errorf("%s: %d records forwarded, last error %q", tc.name, st.Cursor.Records, st.LastErr)
			}
		}
		r.stop()
	}
}

// TestWakesOnWrite: with a poll interval of a minute, frames appended to
// the live segment are forwarded within a second: the forwarder waits
// for the log directory's changes (inotify), not for its poll.
func TestWakesOnWrite(t *testing.T) {
	srv := audittest.StartNATS(t)
	dir := filepath.Join(t.TempDir(), "log")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	conn := ConnOptions{URL: srv.URL()}
	f, err := New(Config{Dir: dir, Host: "h", BootID: "b", Interval: time.Minute,
		Dial: func(ctx context.Context) (Sink, error) {
			return NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 1)
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := run(f.Run)
	defer r.stop()
	for round := 1; round <= 3; round++ {
		time.Sleep(200 * time.Millisecond) // idle: the forwarder waits
		writeLog(t, w, round*100, 100)
		w.Flush()
		start := time.Now()
		waitFor(t, 5*time.Second, "the frame forwarded", func() bool { return f.Stats().Cursor.Records == uint64(100*round) })
		if d := time.Since(start); d > time.Second {
			t.Fatalf("round %d: forwarded %v after the write", round, d)
		}
	}
}

// TestPredecessorLostInFlight: the first frames are delivered to a
// collector whose connection dies before it acknowledges them (a server
// killed under it), so the server delivers them again only after
// AckWait. The frames after them, delivered at once to the next
// collector and put back every holdFor, must wait for them and not be
// written over a gap (which CI saw once: four gaps after a cluster node
// was killed).
func TestPredecessorLostInFlight(t *testing.T) {
	srv := audittest.StartNATS(t)
	dir := filepath.Join(t.TempDir(), "log")
	out := filepath.Join(t.TempDir(), "central")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, BatchBytes: 4 << 10, FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const total = 3000
	writeLog(t, w, 1, total)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fw := newForwarder(t, srv, dir, "h", t.Logf)
	fr := run(fw.Run)
	waitFor(t, 20*time.Second, "every record forwarded", func() bool { return fw.Stats().Cursor.Records >= total })
	fr.stop()
	if n := fw.Stats().Cursor.Frames; n < 10 {
		t.Fatalf("only %d frames: the test needs frames after the lost ones", n)
	}

	const ack, hold = 8 * time.Second, 200 * time.Millisecond
	short := func(c *Collector) *Collector { c.ackWait, c.holdFor = ack, hold; return c }
	// The collector that dies: fetches the first three frames and never
	// acknowledges them.
	thief := short(NewCollector(CollectConfig{Conn: ConnOptions{URL: srv.URL()}, Dir: out}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, cons, err := thief.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stolen := 0
	for range batch.Messages() {
		stolen++
	}
	nc.Close()
	if stolen != 3 {
		t.Fatalf("fetched %d messages, want 3", stolen)
	}
	start := time.Now()

	var mu sync.Mutex
	var gaps []string
	logf := func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if s := fmt.Sprintf(f, a...); strings.Contains(s, "gap") {
			gaps = append(gaps, s)
		}
		t.Logf(f, a...)
	}
	col := short(NewCollector(CollectConfig{Conn: ConnOptions{URL: srv.URL()}, Dir: out, Logf: logf}))
	cr := run(col.Run)
	defer cr.stop()
	waitFor(t, 3*ack, "every record collected", func() bool { return col.Stats().Records >= total })
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) > 0 {
		t.Fatalf("written over a gap: %q", gaps)
	}
	if got, want := catDir(t, filepath.Join(out, "h")), catDir(t, dir); got != want {
		t.Fatalf("collected %d bytes, the log has %d", len(got), len(want))
	}
	st := col.Stats()
	t.Logf("all collected %v after the first delivery was lost (AckWait %v); %+v", time.Since(start).Round(time.Millisecond), ack, st)
	if time.Since(start) < ack-time.Second || st.Waits == 0 {
		t.Fatalf("collected in %v with %d waits: the lost frames were not waited for", time.Since(start), st.Waits)
	}
}
