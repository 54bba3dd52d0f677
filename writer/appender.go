package writer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// appender is the single goroutine that owns the segment file: it takes
// batches in seal order, waits for each one's frame, writes it with one
// write(2), fsyncs on the group-commit timer, and rotates segments.
type appender struct {
	w      *Writer
	f      *os.File // nil after a failed rotation
	path   string
	seq    uint64 // sequence number of the current segment
	size   int64  // bytes in the current segment
	frames int    // frames written to the current segment
	dirty  bool   // written since the last fsync
	timer  *time.Timer
	armed  bool
}

func newAppender(w *Writer, f *os.File, path string, seq uint64, size int64) *appender {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &appender{w: w, f: f, path: path, seq: seq, size: size, timer: t}
}

func (a *appender) run() {
	w := a.w
	defer close(w.appDone)
	for {
		select {
		case b, ok := <-w.order:
			if !ok {
				a.finish()
				return
			}
			<-b.done
			a.write(b)
			b.reset()
			w.free <- b
			if w.rotateReq.Load() {
				a.requestedRotation()
			}
		case <-a.timer.C:
			a.armed = false
			a.sync()
		case <-w.wake:
			a.requestedRotation()
		}
	}
}

func (a *appender) failed() bool { return a.w.err.Load() != nil || a.f == nil }

// write appends b's frame (or plain text) to the segment.
func (a *appender) write(b *batch) {
	w := a.w
	if b.err != nil {
		w.setErr(fmt.Errorf("writer: batch %d for %q: %w", b.seq, a.path, b.err))
	}
	if a.failed() {
		w.c.lost.Add(uint64(b.records))
		return
	}
	data := b.text
	if w.s.zstd {
		data = b.out
	}
	n, err := a.f.Write(data)
	if err != nil {
		// err is an *os.PathError: it names the file.
		w.setErr(fmt.Errorf("writer: write frame of %d bytes (batch %d) at offset %d: %w",
			len(data), b.seq, a.size, err))
		w.c.lost.Add(uint64(b.records))
		if n > 0 {
			// Best effort: drop the partial frame so that the segment
			// stays a sequence of whole frames.
			_ = a.f.Truncate(a.size)
		}
		return
	}
	a.size += int64(n)
	a.frames++
	a.dirty = true
	w.c.records.Add(uint64(b.records))
	w.c.batches.Add(1)
	w.c.bytesIn.Add(uint64(len(b.text)))
	w.c.bytesOut.Add(uint64(n))
	if b.hasTS {
		ms := time.Now().UnixMilli() - b.firstMs
		w.c.latency.observe(time.Duration(ms) * time.Millisecond)
	}
	switch {
	case w.s.FsyncInterval == 0:
		a.sync()
	case !a.armed:
		a.timer.Reset(w.s.FsyncInterval)
		a.armed = true
	}
	if a.size > w.s.MaxSegmentBytes {
		a.rotate()
	}
}

// sync fsyncs the segment if it was written since the last fsync.
func (a *appender) sync() {
	if !a.dirty || a.f == nil {
		return
	}
	a.dirty = false
	nanos, err := fdatasync(a.f)
	a.w.c.fsynced(nanos)
	if err != nil {
		a.w.setErr(fmt.Errorf("writer: fsync %q: %w", a.path, err))
	}
}

func (a *appender) requestedRotation() {
	if a.w.rotateReq.Swap(false) && a.frames > 0 && !a.failed() {
		a.rotate()
	}
}

// rotate fsyncs and closes the current segment and creates the next one.
func (a *appender) rotate() {
	w := a.w
	a.closeSegment()
	if w.err.Load() != nil {
		return
	}
	a.seq++
	path := filepath.Join(w.s.Dir, segmentName(a.seq, w.s.zstd))
	f, size, err := createSegment(path, w.s.LogGroup, w.s.zstd, w.c.fsynced)
	if err != nil {
		w.setErr(err)
		return
	}
	w.c.segments.Add(1)
	w.c.bytesOut.Add(uint64(size))
	a.f, a.path, a.size, a.frames = f, path, size, 0
}

// closeSegment fsyncs (always: also covers data written before a failed
// fsync was reported) and closes the current segment.
func (a *appender) closeSegment() {
	if a.f == nil {
		return
	}
	a.timer.Stop()
	a.armed = false
	a.dirty = true
	a.sync()
	if err := a.f.Close(); err != nil {
		a.w.setErr(fmt.Errorf("writer: close %q: %w", a.path, err))
	}
	a.f = nil
}

// finish runs when Close has closed the order channel and every batch has
// been written: final fsync of the file and of the directory.
func (a *appender) finish() {
	a.closeSegment()
	nanos, err := syncDir(a.w.s.Dir)
	a.w.c.fsynced(nanos)
	if err != nil {
		a.w.setErr(err)
	}
}
