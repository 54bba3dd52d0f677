package writer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a manual clock: time moves only on Advance, which fires
// the timers and tickers that are due (a tick is dropped when the
// previous one was not read, as with time.Ticker).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1732564000000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer() timer { return c.add(0, false) }

func (c *fakeClock) NewTicker(d time.Duration) ticker { return c.add(d, true) }

func (c *fakeClock) add(period time.Duration, active bool) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1), period: period, at: c.now.Add(period), active: active}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d and fires what is due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.active || t.at.After(c.now) {
			continue
		}
		select {
		case t.c <- c.now:
		default:
		}
		if t.period > 0 {
			for !t.at.After(c.now) {
				t.at = t.at.Add(t.period)
			}
		} else {
			t.active = false
		}
	}
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	period time.Duration // tickers only
	at     time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	t.at, t.active = t.clk.now.Add(d), true
	t.clk.mu.Unlock()
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	t.active = false
	t.clk.mu.Unlock()
}

// fakeFS is a file system of a given capacity over a real directory: the
// space used is the size of the files in the directory, a write that does
// not fit writes what fits and fails with ENOSPC (as a full disk does),
// and errors can be injected into writes and fsyncs, and the open
// segment's link count.
type fakeFS struct {
	dir string

	mu       sync.Mutex
	capacity int64
	writeErr error // every write fails with it, writing nothing
	syncErr  error // every fsync fails with it
	unlinked bool  // the open segments report 0 links
	syncs    int
	// syncGate, if set before Open, holds every fsync until it is closed.
	syncGate chan struct{}
}

func (fs *fakeFS) set(f func(fs *fakeFS)) {
	fs.mu.Lock()
	f(fs)
	fs.mu.Unlock()
}

// used returns the bytes in the directory's files.
func (fs *fakeFS) used() int64 {
	ents, _ := os.ReadDir(fs.dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// fill makes the file system leave about leave bytes free; the returned
// function gives the space back.
func (fs *fakeFS) fill(leave int64) (undo func()) {
	fs.mu.Lock()
	old := fs.capacity
	fs.capacity = fs.used() + leave
	fs.mu.Unlock()
	return func() { fs.set(func(fs *fakeFS) { fs.capacity = old }) }
}

func (fs *fakeFS) env(clk *fakeClock) *env {
	return &env{
		clock: clk,
		create: func(path string, logGroup int, compressed bool, onSync func(int64)) (segFile, int64, error) {
			fs.mu.Lock()
			full := fs.used()+64 > fs.capacity
			fs.mu.Unlock()
			if full {
				return nil, 0, fmt.Errorf("writer: create segment %q: %w", path, &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC})
			}
			f, size, err := createSegment(path, logGroup, compressed, onSync)
			if err != nil {
				return nil, 0, err
			}
			return &fakeFile{fs: fs, f: f}, size, nil
		},
		statfs: func(_ *os.File, _ segFile) (int64, int64, error) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			return fs.capacity - fs.used(), fs.capacity, nil
		},
	}
}

type fakeFile struct {
	fs *fakeFS
	f  *os.File
}

func (f *fakeFile) Write(p []byte) (int, error) {
	fs := f.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.writeErr != nil {
		return 0, &os.PathError{Op: "write", Path: f.f.Name(), Err: fs.writeErr}
	}
	if room := fs.capacity - fs.used(); int64(len(p)) > room {
		n, _ := f.f.Write(p[:max(room, 0)])
		return n, &os.PathError{Op: "write", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	return f.f.Write(p)
}

func (f *fakeFile) Truncate(size int64) error { return f.f.Truncate(size) }

func (f *fakeFile) Sync(bool) (int64, error) {
	fs := f.fs
	if fs.syncGate != nil {
		<-fs.syncGate
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.syncs++
	if fs.syncErr != nil {
		return 0, &os.PathError{Op: "fdatasync", Path: f.f.Name(), Err: fs.syncErr}
	}
	return 0, nil
}

func (f *fakeFile) Links() (uint64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.unlinked {
		return 0, nil
	}
	return 1, nil
}

func (f *fakeFile) Close() error { return f.f.Close() }

// fakeDisk is a Writer on a fakeFS of 8 MiB with a manual clock, and the
// means to drive it: ticks of the check and waits on what they change.
type fakeDisk struct {
	fs  *fakeFS
	clk *fakeClock
	tr  *tracer
	w   *Writer
}

// openFake opens a Writer on a fresh fake disk of capacity bytes. The
// defaults are those of diskFullWriter.
func openFake(t *testing.T, capacity int64, cfg Config) (*fakeDisk, *events) {
	t.Helper()
	ev := &events{}
	cfg.Dir, cfg.LogGroup, cfg.Notify = filepath.Join(t.TempDir(), "log"), -1, ev.notify
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 64 << 10
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 5 * time.Millisecond
	}
	if cfg.FsyncInterval == 0 {
		cfg.FsyncInterval = 20 * time.Millisecond
	}
	s, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDisk{fs: &fakeFS{dir: cfg.Dir, capacity: capacity}, clk: newFakeClock(), tr: &tracer{}}
	s.env, s.trace = d.fs.env(d.clk), d.tr.add
	if d.w, err = openSettings(s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.w.Close() })
	return d, ev
}

// check advances the clock by one CheckInterval and waits until the
// appender has run the check it fires: what the check does is done when
// it returns.
func (d *fakeDisk) check(t testing.TB) {
	t.Helper()
	n := d.tr.count(traceCheck)
	d.clk.Advance(d.w.s.CheckInterval)
	waitFor(t, "a periodic check", func() bool { return d.tr.count(traceCheck) > n })
}

// checkUntil runs checks until cond holds (at most 1000).
func (d *fakeDisk) checkUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		d.check(t)
	}
	t.Fatalf("%s: not after 1000 checks", what)
}
