package writer

import (
	"fmt"
	"os"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/klauspost/compress/zstd"
)

// appender is the single goroutine that owns the segment files: it takes
// batches in seal order, waits for each one's frame and writes it with one
// write(2); it decides when to fsync (inline, or through its syncer
// goroutine), rotates segments and applies retention, checks disk space
// every CheckInterval and applies the configured actions. Its state is in
// three groups: the open segment, durability (what is written and what is
// synced) and disk conditions. Every field is owned by the appender
// goroutine; the syncer only receives a file and returns a result. It
// reaches the clock and the file system only through env.
type appender struct {
	w   *Writer
	s   *settings
	env env
	// lock is the flock on Dir (see lockDir), replaced when Dir is made
	// again; closed by finish.
	lock *os.File

	seg  segState
	dur  durability
	cond conditions

	// Scratch buffers for notices and trailers.
	noticeText []byte
	noticeOut  []byte
	noticeMs   int64         // the time in the notice built last
	joined     []byte        // a notice and a frame, written together
	enc        *zstd.Encoder // compresses notices; made on first use

	// closeErr is the error of the final fsync or close; Close reads it
	// once the appender has exited.
	closeErr error
}

// segState is the segment being written.
type segState struct {
	f        segFile // nil when no segment is open (creation failed, or abandoned after an error)
	path     string  // the current (or last) segment
	seq      uint64  // sequence number of path
	size     int64   // bytes in the current segment
	created  time.Time
	idx      segment.Tally // what the current segment holds
	overMax  bool          // max_log_file syslog/suspend already reported for this segment
	rotateAt bool          // start a new segment before the next frame (after an fsync or truncate failure)
}

// durability tracks written and synced frames. Frames (data frames and
// notices) are numbered over the Writer's life; an fsync covers every
// frame written before it began, and closing a segment fsyncs it, so
// "synced up to frame n" holds across segments.
type durability struct {
	frame    uint64    // frames written
	reqUpto  uint64    // frames covered by the last fsync started
	oldest   time.Time // append time of the oldest record written since reqUpto; zero if none
	recs     uint64    // records written since reqUpto
	inflight bool      // the syncer is running fl
	want     bool      // start another fsync when fl completes
	fl       syncSnap
	held     []*batch // Flush data/sync: written batches awaiting their fsync, in frame order
	syncErr  error    // an fsync failure not yet acted upon
	syncReq  chan syncSnap
	syncRes  chan syncResult
	syncDone chan struct{}
	timer    timer // the FsyncInterval deadline
	armed    bool
}

// conditions are the disk conditions in progress and their effects.
type conditions struct {
	suspended    bool
	suspendCause Cause
	failing      [NumCauses]bool // the action for this write-error cause was applied and no write has succeeded since
	spaceHit     bool            // free space is below SpaceLeft (its action ran)
	adminHit     bool            // free space is below AdminSpaceLeft (its action ran)
	gap          notice          // records not written since the last notice
	ticker       ticker          // every CheckInterval, while checks are needed (see idleCheck)
	ticking      bool            // ticker is running
	busy         bool            // a batch arrived since the last check
	idle         int             // checks in a row with no batch between them
}

// syncSnap is one fsync: the file and what it covers.
type syncSnap struct {
	f      segFile
	path   string
	full   bool // fsync rather than fdatasync
	upto   uint64
	oldest time.Time
	recs   uint64
}

type syncResult struct {
	nanos int64
	err   error
}

// notice accumulates the records not written since the last notice line.
type notice struct {
	pending bool // a notice is due: records were dropped, or writing was suspended
	records uint64
	cause   Cause // of the first records dropped, or of the suspension
	stamps  segment.Stamps
}

func (n *notice) add(records int, st segment.Stamps, cause Cause) {
	if !n.pending {
		n.cause = cause
	}
	n.pending = true
	n.records += uint64(records)
	n.stamps.Merge(st)
}

func newAppender(w *Writer, e env, lock *os.File, f segFile, path string, seq uint64, size int64) *appender {
	return &appender{
		w: w, s: &w.s, env: e, lock: lock,
		seg: segState{f: f, path: path, seq: seq, size: size, created: e.clock.Now()},
		dur: durability{
			held:     make([]*batch, 0, w.s.poolSize),
			syncReq:  make(chan syncSnap, 1),
			syncRes:  make(chan syncResult, 1),
			syncDone: make(chan struct{}),
			timer:    e.clock.NewTimer(),
		},
		cond: conditions{ticker: e.clock.NewTicker(w.s.CheckInterval), ticking: true},
	}
}

func (a *appender) run() {
	w := a.w
	defer close(w.appDone)
	go a.syncLoop()
	for {
		select {
		case b, ok := <-w.order:
			if !ok {
				a.finish()
				return
			}
			<-b.done
			a.handle(b)
		case r := <-a.dur.syncRes:
			a.dur.inflight = false
			a.finishSync(a.dur.fl, r)
			a.dur.fl = syncSnap{}
			if a.dur.want {
				a.dur.want = false
				a.requestSync()
			}
		case <-a.dur.timer.C():
			a.dur.armed = false
			a.timedSync()
		case now := <-a.cond.ticker.C():
			a.check(now)
			a.idleCheck()
		case reply := <-w.rotateReq:
			var err error
			if a.seg.f != nil && a.seg.idx.Frames > 0 {
				err = a.rotate()
			}
			reply <- err
		case <-w.wake:
		}
		a.control()
	}
}

// busyChecks notes that a batch arrived. If the checks had stopped, one
// runs now, before the batch is written (a segment removed or a disk
// filled while the writer was idle is seen before it writes), and they run
// every CheckInterval again.
func (a *appender) busyChecks() {
	c := &a.cond
	c.busy = true
	if !c.ticking {
		a.check(a.env.clock.Now())
		c.ticker.Reset(a.s.CheckInterval)
		c.ticking = true
	}
}

// idleCheck stops the periodic checks after idleChecks checks in a row
// with no batch arriving and nothing to watch (no condition in
// progress, no notice due, no RotateInterval): an idle writer sets no
// timer. The first batch to arrive starts them again, so free space and
// the open segment are checked before writing resumes, as auditd checks
// them when it writes.
func (a *appender) idleCheck() {
	c := &a.cond
	watching := c.suspended || c.spaceHit || c.adminHit || c.gap.pending || a.s.RotateInterval > 0
	for _, f := range c.failing {
		watching = watching || f
	}
	if c.busy || watching {
		c.busy, c.idle = false, 0
		return
	}
	if c.idle++; c.idle < idleChecks {
		return
	}
	c.ticker.Stop()
	c.ticking, c.idle = false, 0
}

// idleChecks is how many checks in a row with no batch between them stop
// the checks: a few, so that what happens to the segment just after the
// last write (its removal, say) is still seen before the writer sleeps.
const idleChecks = 3

// control acts on requests from other goroutines and on a deferred fsync
// failure.
func (a *appender) control() {
	w := a.w
	if a.dur.syncErr != nil {
		err := a.dur.syncErr
		a.dur.syncErr = nil
		a.fail(CauseDiskError, err)
	}
	if w.resumeReq.Load() && w.resumeReq.Swap(false) {
		a.resume(true)
	}
}

// handle writes a batch's frame, or drops it (counted) when writing is
// suspended or fails.
func (a *appender) handle(b *batch) {
	a.busyChecks()
	if b.err != nil {
		err := fmt.Errorf("writer: batch %d for %q: %w", b.seq, a.seg.path, b.err)
		a.fail(CauseDiskError, err)
		a.drop(b, CauseDiskError)
		return
	}
	if a.cond.suspended {
		a.drop(b, a.cond.suspendCause)
		return
	}
	data := b.text
	if a.s.zstd {
		data = b.out
	}
	for attempt := 0; ; attempt++ {
		err := a.ready()
		var pre []byte
		if err == nil && a.cond.gap.pending {
			// The notice of the records not written goes with the first
			// frame written after them, in the same write(2): both or
			// neither, so that it is written once per gap.
			pre, err = a.buildNotice()
		}
		if err == nil {
			buf := data
			if pre != nil {
				a.joined = append(append(a.joined[:0], pre...), data...)
				buf = a.joined
			}
			if m := a.s.Marks; m != nil {
				m.Pending(a.seg.seq, a.seg.size, a.seg.size+int64(len(buf)), b.mark)
			}
			err = a.writeFrame(buf, pre != nil)
		}
		if err == nil {
			if pre != nil {
				a.noticed()
			}
			a.written(b)
			return
		}
		cause := classify(err)
		retry := a.fail(cause, err)
		if !retry || attempt > 0 || a.cond.suspended {
			a.drop(b, cause)
			return
		}
	}
}

// ready makes sure a segment is open.
func (a *appender) ready() error {
	if a.seg.rotateAt && a.seg.f != nil && a.seg.idx.Frames > 0 {
		a.closeSegment()
	}
	if a.seg.f == nil {
		return a.openSegment()
	}
	return nil
}

// writeFrame appends one frame (two when it starts with a notice) to the
// segment with one write(2). A partial write is cut off so that the
// segment stays a sequence of whole frames; if that fails, the segment is
// abandoned at the next frame.
func (a *appender) writeFrame(data []byte, withNotice bool) error {
	n, err := a.seg.f.Write(data)
	if err != nil {
		if n > 0 {
			if terr := a.seg.f.Truncate(a.seg.size); terr != nil {
				a.seg.rotateAt = true
			}
		}
		// err is an *os.PathError: it names the file.
		return fmt.Errorf("writer: write frame of %d bytes at offset %d: %w", len(data), a.seg.size, err)
	}
	a.seg.size += int64(n)
	a.w.c.bytesOut.Add(uint64(n))
	if withNotice {
		a.dur.frame++
		a.trace(traceWrite, a.dur.frame, 0)
	}
	a.dur.frame++
	a.trace(traceWrite, a.dur.frame, 0)
	return nil
}

// written accounts for a batch whose frame was just written.
func (a *appender) written(b *batch) {
	w := a.w
	if m := a.s.Marks; m != nil {
		m.Written(b.mark)
	}
	b.frame = a.dur.frame
	a.cleared()
	a.seg.idx.Records += uint64(b.records)
	a.seg.idx.Frames++
	a.seg.idx.Stamps.Merge(b.stamps)
	w.c.records.Add(uint64(b.records))
	w.c.batches.Add(1)
	w.c.bytesIn.Add(uint64(len(b.text)))
	if b.hasTS {
		// Each slot's records at the age of the slot's start: an upper
		// bound of theirs, within a slot's width (16 ms, more for a hold
		// beyond a second).
		now := a.env.clock.Now().UnixMilli()
		for i, n := range b.ages {
			if n > 0 {
				ms := now - b.firstMs - int64(i)<<a.s.ageShift
				w.c.latency.observeN(time.Duration(ms)*time.Millisecond, uint64(n))
			}
		}
	}
	a.unsynced(b.firstAt, uint64(b.records))
	if a.holds() {
		a.dur.held = append(a.dur.held, b)
	} else {
		a.release(b)
	}
	a.afterFrame()
}

// unsynced notes records written and not yet covered by an fsync.
func (a *appender) unsynced(at time.Time, records uint64) {
	if a.dur.oldest.IsZero() || at.Before(a.dur.oldest) {
		a.dur.oldest = at
	}
	a.dur.recs += records
}

func (a *appender) holds() bool { return a.s.flush == flushData || a.s.flush == flushSync }

func (a *appender) release(b *batch) {
	a.trace(traceRelease, b.frame, b.records)
	b.reset()
	a.w.free <- b
}

// drop discards a batch that could not be written, counting its records.
func (a *appender) drop(b *batch, cause Cause) {
	if m := a.s.Marks; m != nil {
		m.Written(b.mark)
	}
	a.w.c.notWritten[cause].Add(uint64(b.records))
	a.cond.gap.add(b.records, b.stamps, cause)
	a.trace(traceDrop, 0, b.records)
	b.reset()
	a.w.free <- b
}

// afterFrame applies the flush policy and max_log_file_action.
func (a *appender) afterFrame() {
	a.flushPolicy()
	a.sizeCheck()
}

// flushPolicy starts the fsync the flush mode asks for after a write.
func (a *appender) flushPolicy() {
	s := a.s
	switch s.flush {
	case flushData, flushSync:
		a.requestSync()
	case flushIncremental:
		if a.dur.recs >= uint64(s.Freq) {
			a.syncNow()
		}
	case flushIncrementalAsync:
		if a.dur.recs >= uint64(s.Freq) {
			a.requestSync()
		}
	}
	timed := s.flush == flushInterval ||
		(s.flush == flushIncremental || s.flush == flushIncrementalAsync) && s.FsyncInterval > 0
	if timed && !a.dur.armed && a.dur.frame > a.dur.reqUpto {
		// FsyncInterval after the write, but no later than FlushInterval
		// + FsyncInterval after the oldest unsynced record: a frame kept
		// open past FlushInterval at a low rate (see Writer.Tick) is
		// fsynced sooner after its write, so that the durability window is
		// the same as for a frame sealed at FlushInterval; one held longer
		// than that (LowRateHold) at once.
		wait := s.FsyncInterval
		if !a.dur.oldest.IsZero() {
			wait = min(wait, a.dur.oldest.Add(s.FlushInterval+s.FsyncInterval).Sub(a.env.clock.Now()))
		}
		if wait <= 0 {
			a.timedSync()
			return
		}
		a.dur.timer.Reset(wait)
		a.dur.armed = true
	}
}

// timedSync is the fsync a timed flush mode owes now: inline with
// "incremental" (writing pauses), else on the syncer goroutine.
func (a *appender) timedSync() {
	if a.s.flush == flushIncremental {
		a.syncNow()
	} else {
		a.requestSync()
	}
}

// sizeCheck applies max_log_file_action once the segment is too large.
func (a *appender) sizeCheck() {
	s := a.s
	if a.seg.size <= s.MaxSegmentBytes || a.seg.f == nil {
		return
	}
	switch act := s.MaxLogFileAction; act.Kind {
	case ActionRotate, ActionKeepLogs:
		a.rotate()
	case ActionSyslog, ActionSuspend:
		if a.seg.overMax {
			return
		}
		a.seg.overMax = true
		a.notify(Event{Kind: EventCondition, Cause: CauseMaxLogFile, Action: act, Path: a.seg.path, FreeBytes: -1})
		if act.Kind == ActionSuspend {
			a.suspend(CauseMaxLogFile)
		}
	}
}

// requestSync hands an fsync of everything written so far to the syncer,
// or, if one is running, asks for another when it completes.
func (a *appender) requestSync() {
	if a.seg.f == nil || a.dur.frame == a.dur.reqUpto {
		return
	}
	if a.dur.inflight {
		a.dur.want = true
		return
	}
	a.dur.inflight = true
	a.dur.fl = a.snapshot()
	a.trace(traceSyncStart, a.dur.fl.upto, 0)
	a.dur.syncReq <- a.dur.fl // capacity 1 and nothing in flight: never blocks
}

// syncNow fsyncs everything written so far on this goroutine.
func (a *appender) syncNow() {
	a.waitIdle()
	if a.seg.f == nil || a.dur.frame == a.dur.reqUpto {
		return
	}
	snap := a.snapshot()
	a.trace(traceSyncStart, snap.upto, 0)
	nanos, err := snap.f.Sync(snap.full)
	a.finishSync(snap, syncResult{nanos, err})
}

// waitIdle waits for the in-flight fsync, if any, and accounts for it.
func (a *appender) waitIdle() {
	if !a.dur.inflight {
		return
	}
	r := <-a.dur.syncRes
	a.dur.inflight = false
	a.finishSync(a.dur.fl, r)
	a.dur.fl = syncSnap{}
}

// snapshot starts a new fsync window: it covers what was written so far.
func (a *appender) snapshot() syncSnap {
	snap := syncSnap{f: a.seg.f, path: a.seg.path, full: a.s.flush == flushSync, upto: a.dur.frame, oldest: a.dur.oldest, recs: a.dur.recs}
	a.dur.reqUpto, a.dur.oldest, a.dur.recs = a.dur.frame, time.Time{}, 0
	a.dur.want = false
	return snap
}

// finishSync accounts for a completed fsync and acknowledges the batches
// it covered.
func (a *appender) finishSync(snap syncSnap, r syncResult) {
	w := a.w
	w.c.fsynced(r.nanos)
	a.trace(traceSyncDone, snap.upto, 0)
	if r.err != nil {
		// The kernel may have dropped the unsynced pages: nothing in this
		// segment can be trusted to be durable. Act on it outside the
		// current operation, and continue in a new segment.
		err := fmt.Errorf("writer: fsync %q (covering frames up to %d, %d records): %w", snap.path, snap.upto, snap.recs, r.err)
		if a.dur.syncErr == nil {
			a.dur.syncErr = err
		}
		w.setErr(err)
		a.seg.rotateAt = true
	} else {
		w.c.recordsSynced.Add(snap.recs)
		if !snap.oldest.IsZero() {
			w.c.window.observe(a.env.clock.Now().Sub(snap.oldest))
		}
	}
	n := 0
	for n < len(a.dur.held) && a.dur.held[n].frame <= snap.upto {
		a.release(a.dur.held[n])
		n++
	}
	if n > 0 {
		k := copy(a.dur.held, a.dur.held[n:])
		clear(a.dur.held[k:])
		a.dur.held = a.dur.held[:k]
	}
}

// syncLoop is the syncer goroutine: it runs one fsync at a time for the
// appender, so that writes go on meanwhile.
func (a *appender) syncLoop() {
	defer close(a.dur.syncDone)
	for snap := range a.dur.syncReq {
		nanos, err := snap.f.Sync(snap.full)
		a.dur.syncRes <- syncResult{nanos, err}
	}
}

// rotate closes the current segment and starts the next one, then applies
// retention. It returns the error of closing (fsync, close) the segment or
// of creating the next one; both were also acted upon as disk errors.
func (a *appender) rotate() error {
	err := a.closeSegment()
	if oerr := a.openSegment(); oerr != nil {
		a.fail(classify(oerr), oerr)
		if err == nil {
			err = oerr
		}
	}
	if a.s.MaxLogFileAction.Kind == ActionRotate {
		a.retention()
	}
	return err
}

// closeSegment writes the index trailer (zstd), fsyncs the segment
// (always: this also covers data written before a failed fsync) and
// closes it. It returns the error of that fsync or close.
func (a *appender) closeSegment() error {
	if a.seg.f == nil {
		return nil
	}
	a.dur.timer.Stop()
	a.dur.armed = false
	a.waitIdle()
	if a.s.zstd {
		a.noticeOut = a.seg.idx.AppendTrailer(a.noticeOut[:0], a.seg.size)
		if n, err := a.seg.f.Write(a.noticeOut); err != nil {
			// Best effort: the segment is valid without its index.
			if n > 0 {
				_ = a.seg.f.Truncate(a.seg.size)
			}
			a.w.setErr(fmt.Errorf("writer: write the index trailer of %q: %w", a.seg.path, err))
		} else {
			a.seg.size += int64(n)
			a.w.c.bytesOut.Add(uint64(n))
		}
	}
	snap := a.snapshot()
	nanos, err := snap.f.Sync(snap.full)
	a.finishSync(snap, syncResult{nanos, err})
	var ret error
	if err != nil {
		a.closeErr = err
		ret = fmt.Errorf("writer: fsync %q: %w", a.seg.path, err)
	}
	if err := a.seg.f.Close(); err != nil {
		a.w.setErr(fmt.Errorf("writer: close %q: %w", a.seg.path, err))
		a.closeErr = err
		if ret == nil {
			ret = fmt.Errorf("writer: close %q: %w", a.seg.path, err)
		}
	}
	a.seg.f = nil
	a.seg.rotateAt = false
	return ret
}

// abandon closes the current segment without writing to it (it was
// removed, or its tail could not be cut). Its records are not durable; the
// batches awaiting an fsync are acknowledged all the same.
func (a *appender) abandon() {
	if a.seg.f == nil {
		return
	}
	a.dur.timer.Stop()
	a.dur.armed = false
	a.waitIdle()
	a.dur.reqUpto, a.dur.oldest, a.dur.recs, a.dur.want = a.dur.frame, time.Time{}, 0, false
	for _, b := range a.dur.held {
		a.release(b)
	}
	clear(a.dur.held)
	a.dur.held = a.dur.held[:0]
	a.seg.f.Close()
	a.seg.f = nil
	a.seg.rotateAt = false
}

// openSegment creates the next segment. A log directory that was removed
// is made again (and locked again).
func (a *appender) openSegment() error {
	w := a.w
	if _, err := os.Stat(w.s.Dir); os.IsNotExist(err) {
		if err := ensureDir(w.s.Dir, w.s.LogGroup); err != nil {
			return err
		}
		lock, err := lockDir(w.s.Dir)
		if err != nil {
			return err
		}
		a.lock.Close()
		a.lock = lock
	}
	a.seg.seq++
	path := segment.Path(w.s.Dir, a.seg.seq, w.s.zstd)
	f, size, err := a.env.create(path, w.s.LogGroup, w.s.zstd, w.c.fsynced)
	if err != nil {
		return err
	}
	w.c.segments.Add(1)
	w.c.bytesOut.Add(uint64(size))
	a.seg = segState{f: f, path: path, seq: a.seg.seq, size: size, created: a.env.clock.Now()}
	return nil
}

// finish runs when Close has closed the order channel and every batch has
// been handled: last notice, final fsync of the segment and the directory.
func (a *appender) finish() {
	if !a.cond.suspended && a.cond.gap.pending {
		if err := a.writeNotice(); err != nil {
			a.w.setErr(err)
		}
	}
	a.closeSegment()
	nanos, err := segment.SyncDir(a.w.s.Dir)
	a.w.c.fsynced(nanos)
	if err != nil {
		a.w.setErr(err)
		if a.closeErr == nil {
			a.closeErr = err
		}
	}
	close(a.dur.syncReq)
	<-a.dur.syncDone
	a.cond.ticker.Stop()
	a.dur.timer.Stop()
	if a.enc != nil {
		a.enc.Close()
	}
	a.lock.Close()
	if a.closeErr != nil {
		a.closeErr = fmt.Errorf("writer: closing %q: %w", a.seg.path, a.closeErr)
	}
}

// trace reports to the test hook, if any.
func (a *appender) trace(k traceKind, frame uint64, records int) {
	if a.s.trace != nil {
		a.s.trace(traceEvent{kind: k, frame: frame, records: records, full: a.s.flush == flushSync})
	}
}

// traceKind and traceEvent describe the appender's steps to tests.
type traceKind uint8

const (
	traceWrite     traceKind = iota // frame written
	traceSyncStart                  // fsync covering frames <= frame starts
	traceSyncDone                   // fsync covering frames <= frame completed
	traceRelease                    // the batch of frame was acknowledged (returned to the pool)
	traceDrop                       // a batch of records was dropped
	traceCheck                      // a periodic check (space, links, age) completed
)

type traceEvent struct {
	kind    traceKind
	frame   uint64
	records int
	full    bool
}
