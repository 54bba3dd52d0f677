package writer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/enrich"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/klauspost/compress/zstd"
)

// Writer turns audit records into segment files.
//
// Concurrency contract: Append, Tick, Flush and Close must be called from
// one goroutine (the drain loop), never concurrently. Rotate, Resume,
// Stats, Err and LastRepair may be called from any goroutine at any time,
// also after Close. Internally, Workers compressor goroutines, one
// appender goroutine and its syncer goroutine run between Open and Close;
// they share batches with the drain goroutine only through channels.
// Config.Notify is called on the appender goroutine.
//
// Backpressure: batches come from a fixed pool (2*Workers+2 of them, 4 for
// Compression "none"). When every batch is being compressed, waits to be
// written or (Flush "data" and "sync") waits for its fsync, Append blocks
// until the appender frees one; Tick and Flush never block. Disk errors
// never block nor fail Append: the configured actions apply and the
// records not written are counted (Stats.RecordsNotWritten).
type Writer struct {
	s     settings
	fmt   *formatter
	enr   *enrich.Enricher // Format enriched: used by Append only (drain goroutine)
	sfx   []byte           // the enriched suffix of the record being appended
	clock clock

	// Owned by the drain goroutine.
	// small: the last batch sealed was smaller than minFrame (the rate is
	// low), so Tick may keep the next one open longer.
	small   bool
	cur     *batch
	nextSeq uint64
	// markBefore and markAfter are the input positions of At: the
	// records before markBefore are handled, the next Append ends at
	// markAfter.
	markBefore, markAfter uint64
	closed                bool
	closeErr              error

	free  chan *batch // free list
	work  chan *batch // to compressors (zstd only)
	order chan *batch // to the appender, in seal order
	wake  chan struct{}

	encoders []*zstd.Encoder
	workers  sync.WaitGroup
	app      *appender
	appDone  chan struct{}

	rotateReq chan chan error // to the appender: rotate now, reply with the result
	resumeReq atomic.Bool
	err       atomic.Pointer[error]
	c         counters
	repair    segment.RepairReport
}

// Open repairs the torn tail of the highest-numbered existing segment in
// cfg.Dir (see segment.Repair), creates a new segment numbered after the highest
// sequence number present (never reusing one) and starts the pipeline.
// The Writer holds an exclusive flock on cfg.Dir until Close: a second Open
// of the same directory fails with ErrDirLocked.
func Open(cfg Config) (*Writer, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return openSettings(s)
}

func openSettings(s settings) (*Writer, error) {
	if err := ensureDir(s.Dir, s.LogGroup); err != nil {
		return nil, err
	}
	lock, err := lockDir(s.Dir)
	if err != nil {
		return nil, err
	}
	w, err := open(s, lock)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return w, nil
}

func open(s settings, lock *os.File) (*Writer, error) {
	segs, maxSeq, found, err := segment.ScanDir(s.Dir)
	if err != nil {
		return nil, err
	}
	e := osEnv()
	if s.env != nil {
		e = *s.env
	}
	w := &Writer{
		s:         s,
		clock:     e.clock,
		fmt:       newFormatter(s.Node),
		free:      make(chan *batch, s.poolSize),
		work:      make(chan *batch, s.poolSize),
		order:     make(chan *batch, s.poolSize),
		wake:      make(chan struct{}, 1),
		rotateReq: make(chan chan error),
		appDone:   make(chan struct{}),
		small:     true,
	}
	w.c.free.Store(-1)
	if s.enriched {
		opts := s.enrich
		opts.Node = s.Node
		w.enr = enrich.New(opts)
		w.sfx = make([]byte, 0, 1024)
	}
	if len(segs) > 0 {
		rep, err := segment.Repair(filepath.Join(s.Dir, segs[len(segs)-1].Name))
		if err != nil {
			return nil, fmt.Errorf("writer: open %q: %w", s.Dir, err)
		}
		w.repair = rep
	}
	next := uint64(1)
	if found {
		next = maxSeq + 1
	}
	for range s.Workers {
		enc, err := newEncoder(s.level)
		if err != nil {
			w.closeEncoders()
			return nil, err
		}
		w.encoders = append(w.encoders, enc)
	}
	var outCap int
	if s.zstd {
		outCap = w.encoders[0].MaxEncodedSize(s.BatchBytes)
	}
	for range s.poolSize {
		w.free <- &batch{
			text: mappedBuf(s.BatchBytes),
			out:  mappedBuf(outCap),
			done: make(chan struct{}, 1),
		}
	}
	path := segment.Path(s.Dir, next, s.zstd)
	f, size, err := e.create(path, s.LogGroup, s.zstd, w.c.fsynced)
	if err != nil {
		w.closeEncoders()
		return nil, err
	}
	w.c.segments.Add(1)
	w.c.bytesOut.Add(uint64(size))
	w.app = newAppender(w, e, lock, f, path, next, size)
	for _, enc := range w.encoders {
		w.workers.Add(1)
		go w.compressLoop(enc)
	}
	go w.app.run()
	return w, nil
}

func (w *Writer) closeEncoders() {
	for _, enc := range w.encoders {
		enc.Close()
	}
	w.encoders = nil
}

// Append formats one record into the current batch; payload is only read
// during the call. When the batch is full it is sealed and handed to the
// compressors. Append makes no allocation, system call or lock per record;
// it blocks only when every pooled batch is in flight (backpressure). It
// returns ErrClosed after Close, and otherwise nil: a record that cannot
// be written (disk full, disk error, suspended) is counted in
// Stats.RecordsNotWritten and reported in the log by a notice.
func (w *Writer) Append(typ uint16, payload []byte) error {
	if w.closed {
		return ErrClosed
	}
	var suffix []byte
	if w.enr != nil {
		// First, so that the batch is sealed only if the whole line does
		// not fit. The enricher reads the record as auditd gets it.
		w.sfx = w.enr.Append(w.sfx[:0], typ, payload)
		suffix = w.sfx
	}
	for len(payload) > 0 && (payload[len(payload)-1] == '\n' || payload[len(payload)-1] == 0) {
		payload = payload[:len(payload)-1]
	}
	need := w.fmt.maxLen(typ, len(payload))
	need += len(suffix)
	b := w.cur
	if b != nil && len(b.text)+need > w.s.BatchBytes {
		w.seal(w.markBefore)
		b = nil
	}
	if b == nil {
		b = <-w.free
		w.cur = b
	}
	start := len(b.text)
	if w.enr != nil {
		b.text = w.fmt.appendEnriched(b.text, typ, payload, suffix)
	} else {
		b.text = w.fmt.appendLine(b.text, typ, payload)
	}
	// The index counts what a reader of the line finds (ScanIndex and
	// CatFiltered use the same LineHeader).
	ms, serial, stamped := record.LineHeader(b.text[start:])
	if start == 0 {
		b.firstAt = w.clock.Now()
		b.firstMs, b.hasTS = ms, stamped
	}
	if stamped {
		b.stamps.Add(ms, serial)
		if b.hasTS {
			b.addAge(ms, w.s.ageShift)
		}
	}
	b.records++
	w.markBefore = w.markAfter
	if len(b.text) >= w.s.BatchBytes {
		w.seal(w.markAfter)
	}
	return nil
}

// At tells the writer where the next record stands in the caller's input
// (a ring's positions): every record before before has been handed to
// Append or left out, and the next Append's record ends at after. A
// record left out is declared by At(after, after). Each sealed batch
// carries the position its records end at, which Config.Marks learns
// around the batch's write. Drain goroutine only, as Append; no lock, no
// allocation.
func (w *Writer) At(before, after uint64) { w.markBefore, w.markAfter = before, after }

// Room reports whether Append can take one more record of up to n bytes of
// payload, of any type, without waiting for a batch: the current batch has
// room for its line, or a pooled batch is free. It reserves nothing; call
// it from the goroutine that calls Append, which is then sure that this
// Append does not block. A caller that must never wait (a reader's thread
// appending records itself) asks before each record and hands the rest to
// a goroutine that may wait. After Close it reports true (Append returns at
// once).
func (w *Writer) Room(n int) bool {
	if w.closed {
		return true
	}
	if b := w.cur; b != nil && len(b.text)+w.fmt.maxLenAny(n) <= w.s.BatchBytes {
		return true
	}
	return len(w.free) > 0
}

// seal hands the current (non-empty) batch to the pipeline. It never
// blocks: the channels hold as many batches as the pool.
func (w *Writer) seal(mark uint64) {
	b := w.cur
	w.cur = nil
	b.mark = mark
	w.small = len(b.text) < w.s.minFrame
	b.seq = w.nextSeq
	w.nextSeq++
	w.order <- b
	if w.s.zstd {
		w.work <- b
	} else {
		b.done <- struct{}{}
	}
}

// Tick seals the current batch when it is due (see SealDue): when its
// first record was appended at least FlushInterval before now; with Flush
// "data" or "sync", any non-empty batch, so that the drain loop's idle
// moments bound the durability window. With Flush "interval" a batch still
// smaller than MinFrameBytes, after a batch that was also smaller (the rate
// is low, not merely a burst ending), is kept open longer, up to
// LowRateHold: at everyday rates a frame then holds two seconds' records
// instead of a tenth's, and compresses several times better. Such a frame
// is fsynced at most FlushInterval + FsyncInterval after its first
// record, as a frame sealed at FlushInterval is, and at once when written
// if it was held longer (see the appender's fsync timer); what a crash
// can lose is still what was not yet fsynced. The drain loop must call Tick at
// least every FlushInterval while a batch is open (or at SealDue), also
// when no records arrive. It returns ErrClosed after Close, else nil.
func (w *Writer) Tick(now time.Time) error {
	if w.closed {
		return ErrClosed
	}
	if w.cur != nil && !now.Before(w.sealDue()) {
		w.seal(w.markAfter)
	}
	return nil
}

// SealDue returns when Tick will seal the open batch, and false when no
// batch is open. The time may come closer as records are appended (a
// small batch that reaches MinFrameBytes is due at FlushInterval): ask
// again after appending. Drain goroutine only, as Append.
func (w *Writer) SealDue() (time.Time, bool) {
	if w.closed || w.cur == nil {
		return time.Time{}, false
	}
	return w.sealDue(), true
}

func (w *Writer) sealDue() time.Time {
	b := w.cur
	switch {
	case w.s.flush >= flushData:
		return b.firstAt
	case len(b.text) >= w.s.minFrame || !w.small:
		return b.firstAt.Add(w.s.FlushInterval)
	}
	return b.firstAt.Add(w.s.hold)
}

// Flush seals the current batch now, if it holds any record. It does not
// wait for the frame to be written or synced. It returns ErrClosed after
// Close, else nil.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if w.cur != nil {
		w.seal(w.markAfter)
	}
	return nil
}

// Rotate closes the current segment (index trailer, fsync) and starts the
// next one, applying retention as after a size rotation, and returns once
// that is done. A segment that holds no frame yet is not rotated (nil). It
// returns the error of closing the segment or of creating the next one
// (both also handled as disk errors, see Config.DiskErrorAction), and
// ErrClosed after Close. Safe from any goroutine, but not from
// Config.Notify.
func (w *Writer) Rotate() error {
	reply := make(chan error, 1)
	select {
	case w.rotateReq <- reply:
	case <-w.appDone:
		return ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-w.appDone:
		return ErrClosed
	}
}

// Resume ends a suspension (auditd's SIGUSR2): writing continues, the
// first line written says how many records were not written and between
// which serials (see the package documentation), and the conditions in
// progress are judged afresh, so an action whose condition still holds
// applies again. After max_log_file_action = suspend it starts a new
// segment. Safe from any goroutine; it does not wait.
func (w *Writer) Resume() {
	w.resumeReq.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close seals the current batch, waits until every frame is compressed and
// appended in order (or dropped while suspended), writes the segment's
// index trailer, fsyncs the segment and the directory and closes the
// segment. It returns an error if that final fsync or close failed; after
// it returns nil, every record counted in Stats.Records is on stable
// storage (records not written are in Stats.RecordsNotWritten).
// Idempotent: later calls return the same result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	if w.cur != nil {
		w.seal(w.markAfter)
	}
	close(w.order)
	close(w.work)
	w.workers.Wait()
	<-w.appDone
	w.closeEncoders()
	w.closeErr = w.app.closeErr
	return w.closeErr
}

// Err returns the most recent write, fsync, compression, rotation or
// deletion error (naming the file), or nil if there was none. It is
// informational: errors do not stop the Writer; what it did about them is
// in Stats and in the Events delivered to Config.Notify.
func (w *Writer) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (w *Writer) setErr(err error) {
	w.err.Store(&err)
}

// LastRepair returns what Open's repair of the previous segment found
// (the zero report if there was no previous segment).
func (w *Writer) LastRepair() segment.RepairReport { return w.repair }

// Stats returns a snapshot of the counters. Safe from any goroutine.
func (w *Writer) Stats() Stats {
	st := Stats{
		Records:          w.c.records.Load(),
		Batches:          w.c.batches.Load(),
		BytesIn:          w.c.bytesIn.Load(),
		BytesOut:         w.c.bytesOut.Load(),
		RecordsSynced:    w.c.recordsSynced.Load(),
		Notices:          w.c.notices.Load(),
		Fsyncs:           w.c.fsyncs.Load(),
		FsyncNanosTotal:  w.c.fsyncNanos.Load(),
		FsyncNanosMax:    w.c.fsyncMax.Load(),
		Segments:         w.c.segments.Load(),
		SegmentsDeleted:  w.c.deleted.Load(),
		WriteErrors:      w.c.writeErrors.Load(),
		Events:           w.c.events.Load(),
		FreeBytes:        w.c.free.Load(),
		Latency:          w.c.latency.snapshot(),
		FsyncLatency:     w.c.fsyncLatency.snapshot(),
		DurabilityWindow: w.c.window.snapshot(),
		Err:              w.Err(),
	}
	for i := range st.RecordsNotWritten {
		st.RecordsNotWritten[i] = w.c.notWritten[i].Load()
		st.RecordsLost += st.RecordsNotWritten[i]
	}
	if c := w.c.suspended.Load(); c > 0 {
		st.Suspended, st.SuspendCause = true, Cause(c-1)
	}
	return st
}
