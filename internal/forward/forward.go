package forward

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// Config configures a Forwarder.
type Config struct {
	Dir     string // the log directory
	Cursor  string // the cursor file (default Dir/.forward-cursor)
	Host    string // host name in headers, subjects and ids (default os.Hostname)
	BootID  string // default /proc/sys/kernel/random/boot_id
	Subject string // subject prefix: messages go to Subject.<host> (default "auditdrain")
	// Dial connects the sink; it is called again after a failure.
	Dial func(ctx context.Context) (Sink, error)
	// BatchFrames bounds the frames published per acknowledged batch
	// (default 64). The forwarder waits for changes of the log directory
	// (inotify); Interval is how often it looks anyway when nothing
	// changed (default 5s), or always, without inotify.
	BatchFrames int
	Interval    time.Duration
	// Logf, if set, gets the forwarder's log lines.
	Logf func(format string, args ...any)
}

// DefaultSubject is the subject prefix when none is configured.
const DefaultSubject = "auditdrain"

// stopGrace is how long a batch under way at a stop may still wait for
// its acknowledgements.
const stopGrace = 2 * time.Second

// CursorName is the cursor file's default name in the log directory
// (segment listings ignore it).
const CursorName = ".forward-cursor"

// Stats is a snapshot of a Forwarder's counters.
type Stats struct {
	Cursor     Cursor
	Connected  bool
	Batches    uint64 // batches acknowledged since start
	Errors     uint64 // failed connections and batches since start
	BytesSent  uint64 // payload bytes acknowledged since start
	Records    uint64 // records acknowledged since start
	LagBytes   int64  // bytes of the log after the cursor
	LagRecords uint64 // records written but not yet acknowledged (estimate: see Lag)
	LagSeconds float64
	LastErr    string
}

// Forwarder tails a log directory and publishes its frames.
type Forwarder struct {
	cfg     Config
	scanner segment.FrameScanner

	mu       sync.Mutex
	cur      Cursor // acknowledged position (under mu)
	lastMs   int64  // time of the newest record acknowledged
	lastErr  string
	connect  atomic.Bool
	batches  atomic.Uint64
	errs     atomic.Uint64
	bytes    atomic.Uint64
	records  atomic.Uint64
	written  func() uint64 // records the writer wrote since start (nil: unknown)
	backlog0 uint64        // records after the cursor at start
	written0 uint64

	// latencies of the last acknowledged batches (oldest record's kernel
	// time to the acknowledgement), a ring of latRing.
	latMu sync.Mutex
	lat   []time.Duration
	latN  int // batches observed in all

	msgs []Message
	data []byte
}

// New loads the cursor (or starts at the oldest segment) and counts the
// records waiting after it. written, if not nil, returns the records the
// writer has written since start (for the lag in records).
func New(cfg Config, written func() uint64) (*Forwarder, error) {
	if cfg.Cursor == "" {
		cfg.Cursor = filepath.Join(cfg.Dir, CursorName)
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		cfg.Host = h
	}
	if cfg.BootID == "" {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			return nil, fmt.Errorf("forward: boot id: %w", err)
		}
		cfg.BootID = strings.TrimSpace(string(b))
	}
	if cfg.BatchFrames <= 0 {
		cfg.BatchFrames = 64
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	f := &Forwarder{cfg: cfg, written: written}
	f.scanner.Warn = func(s segment.Skip) { cfg.Logf("forward: %v", s) }
	if _, err := loadJSON(cfg.Cursor, &f.cur); err != nil {
		return nil, err
	}
	f.backlog0 = f.countBacklog()
	if written != nil {
		f.written0 = written()
	}
	return f, nil
}

// SubjectToken makes a host name one subject token: '.', '*', '>' and
// white space become '_'.
func SubjectToken(host string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\n', '\r':
			return '_'
		}
		return r
	}, host)
}

// MsgID is the de-duplication id of a frame.
func MsgID(host, boot string, p Position) string {
	return host + ":" + boot + ":" + strconv.FormatUint(p.Seq, 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// countBacklog counts the records of the segments after the cursor
// (trailer when there is one, else a scan).
func (f *Forwarder) countBacklog() uint64 {
	segs, _, _, err := segment.ScanDir(f.cfg.Dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, s := range segs {
		if s.Seq < f.cur.Seq {
			continue
		}
		path := filepath.Join(f.cfg.Dir, s.Name)
		x, err := segment.ReadIndex(path)
		if err != nil {
			x, _ = segment.ScanIndex(path)
		}
		n += x.Records
		if s.Seq == f.cur.Seq {
			n -= min(x.Records, f.cur.SegRecords)
		}
	}
	return n
}

// Run forwards until ctx is done. It returns nil then; it does not stop
// on connection or publish errors (it retries with a backoff).
func (f *Forwarder) Run(ctx context.Context) error {
	defer f.scanner.Close()
	watch := watchDir(f.cfg.Dir)
	defer watch.close()
	var changed <-chan struct{}
	if watch != nil {
		changed = watch.C
	}
	var sink Sink
	defer func() {
		if sink != nil {
			sink.Close()
		}
	}()
	backoff := 100 * time.Millisecond
	fail := func(err error) bool {
		f.errs.Add(1)
		f.mu.Lock()
		repeated := f.lastErr == err.Error()
		f.lastErr = err.Error()
		f.mu.Unlock()
		if !repeated {
			f.cfg.Logf("%v (retrying)", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	for ctx.Err() == nil {
		if sink == nil {
			s, err := f.cfg.Dial(ctx)
			if err != nil {
				if !fail(err) {
					return nil
				}
				continue
			}
			sink = s
			f.connect.Store(true)
		}
		progressed, err := f.step(ctx, sink)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !fail(err) {
				return nil
			}
			continue
		}
		backoff = 100 * time.Millisecond
		if progressed {
			f.mu.Lock()
			if f.lastErr != "" {
				f.cfg.Logf("forward: acknowledged again after: %s", f.lastErr)
				f.lastErr = ""
			}
			f.mu.Unlock()
		}
		if !progressed {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			case <-time.After(f.cfg.Interval):
			}
		}
	}
	return nil
}

// step publishes the next batch of frames, or moves the cursor to the
// next segment. It reports whether anything moved.
func (f *Forwarder) step(ctx context.Context, sink Sink) (bool, error) {
	segs, _, _, err := segment.ScanDir(f.cfg.Dir)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	cur := f.cur
	f.mu.Unlock()
	i := 0
	for i < len(segs) && segs[i].Seq < cur.Seq {
		i++
	}
	if i == len(segs) {
		return false, nil // nothing yet (or the log is empty)
	}
	seg := segs[i]
	if seg.Seq != cur.Seq || cur.Boot == "" {
		// A segment not started yet: name its frames with this boot, and
		// make that durable before anything of it is published.
		if seg.Seq != cur.Seq {
			if cur.Boot != "" {
				// Not by retention (BeforeDelete would have moved the
				// cursor): removed by hand or while the daemon was down.
				f.cfg.Logf("forward: segment %d was removed before it was forwarded to its end (records not counted)", cur.Seq)
			}
			cur.Seq, cur.Offset, cur.SegRecords = seg.Seq, 0, 0
		}
		cur.Boot = f.cfg.BootID
		if err := f.commit(cur, 0, 0); err != nil {
			return false, err
		}
		return true, nil
	}
	live := i == len(segs)-1
	path := filepath.Join(f.cfg.Dir, seg.Name)
	if !segment.IsZstd(path) {
		if live {
			return false, fmt.Errorf("forward: %s is a plain segment: forwarding needs compression = zstd", path)
		}
		// An old plain segment (written before compression = zstd): its
		// records cannot be sent as frames; they are counted as lost.
		x, _ := segment.ScanIndex(path)
		lost := x.Records - min(x.Records, cur.SegRecords)
		f.cfg.Logf("forward: %s is a plain segment (compression = none when it was written): its %d records are not forwarded", path, lost)
		f.mu.Lock()
		f.cur.Lost += lost
		f.mu.Unlock()
		next := cur
		next.Seq, next.Offset, next.SegRecords, next.Boot = segs[i+1].Seq, 0, 0, f.cfg.BootID
		return true, f.commit(next, 0, 0)
	}
	f.msgs, f.data = f.msgs[:0], f.data[:0]
	next := cur
	var records uint64
	var newestMs int64
	var oldest int64 = -1
	subject := f.cfg.Subject + "." + SubjectToken(f.cfg.Host)
	prev := cur.Last
	end, err := f.scanner.Scan(path, cur.Offset, live, f.cfg.BatchFrames, func(fr *segment.Frame) error {
		pos := Position{seg.Seq, fr.Offset}
		start := len(f.data)
		f.data = append(f.data, fr.Raw...)
		st := fr.Tally.Stamps
		h := map[string]string{
			HdrHost: f.cfg.Host, HdrBoot: cur.Boot,
			HdrSegment: strconv.FormatUint(pos.Seq, 10), HdrOffset: strconv.FormatInt(pos.Offset, 10),
			HdrRecords: strconv.FormatUint(fr.Tally.Records, 10), HdrPayload: "frame",
		}
		if prev != (Position{}) {
			h[HdrPrev] = prev.String()
		}
		if st.N > 0 {
			h[HdrSerials] = strconv.FormatUint(st.MinSerial, 10) + "-" + strconv.FormatUint(st.MaxSerial, 10)
			next.LastSerial = max(next.LastSerial, st.MaxSerial)
			if oldest < 0 || st.MinMs < oldest {
				oldest = st.MinMs
			}
			newestMs = max(newestMs, st.MaxMs)
		}
		f.msgs = append(f.msgs, Message{Subject: subject, ID: MsgID(f.cfg.Host, cur.Boot, pos), Header: h,
			Data: f.data[start:len(f.data):len(f.data)]})
		records += fr.Tally.Records
		next.Last = pos
		prev = pos
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // deleted under us: the next step moves on
	}
	if err != nil {
		return false, err
	}
	if len(f.msgs) == 0 {
		if end != cur.Offset {
			// Only skippable frames or damage: move past them.
			return true, f.commit(withOffset(cur, end), 0, 0)
		}
		if live {
			return false, nil
		}
		// A closed segment read to its end: on to the next.
		next := cur
		next.Seq, next.Offset, next.SegRecords, next.Boot = segs[i+1].Seq, 0, 0, f.cfg.BootID
		return true, f.commit(next, 0, 0)
	}
	// A batch under way when ctx ends gets a short grace to be
	// acknowledged, so that a clean stop commits what the server stored
	// (a replay much later would fall outside the duplicate window).
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancel) })
	defer stop()
	if err := sink.PublishBatch(pctx, f.msgs); err != nil {
		// The client may still hold (and retry) messages of this batch:
		// their bytes must not be reused for the next one.
		f.msgs, f.data = nil, nil
		return false, err
	}
	now := time.Now()
	if oldest >= 0 {
		f.latMu.Lock()
		d := now.Sub(time.UnixMilli(oldest))
		if len(f.lat) < latRing {
			f.lat = append(f.lat, d)
		} else {
			f.lat[f.latN%latRing] = d
		}
		f.latN++
		f.latMu.Unlock()
	}
	next.Offset = end
	next.SegRecords += records
	next.Records += records
	next.Frames += uint64(len(f.msgs))
	if err := f.commit(next, records, newestMs); err != nil {
		return false, err
	}
	f.batches.Add(1)
	f.bytes.Add(uint64(len(f.data)))
	return true, nil
}

func withOffset(c Cursor, off int64) Cursor { c.Offset = off; return c }

// commit makes c the durable cursor.
func (f *Forwarder) commit(c Cursor, records uint64, lastMs int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.Lost = f.cur.Lost // counted by BeforeDelete meanwhile
	if err := storeJSON(f.cfg.Cursor, c); err != nil {
		return err
	}
	f.cur = c
	f.records.Add(records)
	if lastMs > f.lastMs {
		f.lastMs = lastMs
	}
	return nil
}

// BeforeDelete is the writer's hook before retention deletes a segment:
// the records of it not yet acknowledged are lost to forwarding; they are
// counted (Lost) and the cursor moves past the segment. It runs on the
// writer's goroutine: one read of the segment's trailer, one cursor
// write only when something is lost.
func (f *Forwarder) BeforeDelete(path string) {
	segs, _, _, _ := segment.ScanDir(filepath.Dir(path))
	var seq uint64
	found := false
	for _, s := range segs {
		if s.Name == filepath.Base(path) {
			seq, found = s.Seq, true
		}
	}
	if !found {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq < f.cur.Seq {
		return // sent
	}
	x, err := segment.ReadIndex(path)
	if err != nil {
		x, _ = segment.ScanIndex(path)
	}
	lost := x.Records
	if seq == f.cur.Seq {
		lost -= min(lost, f.cur.SegRecords)
	}
	c := f.cur
	c.Lost += lost
	c.Seq, c.Offset, c.SegRecords, c.Boot = seq+1, 0, 0, ""
	if err := storeJSON(f.cfg.Cursor, c); err != nil {
		f.cfg.Logf("forward: %v", err)
	}
	f.cur = c
	if lost > 0 {
		f.cfg.Logf("forward: %s deleted by retention with %d records not forwarded", path, lost)
	}
}

// Lost returns the records deleted before they were forwarded (cause
// "forward"), in all (the cursor keeps it across restarts).
func (f *Forwarder) Lost() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.Lost
}

// Stats returns the counters and the lag. LagBytes is what the log holds
// after the cursor; LagRecords is the backlog at start plus the records
// the writer wrote since, minus those acknowledged and lost since (an
// estimate: the writer's own records count too); LagSeconds is how old
// the newest acknowledged record is while records wait (0 when none).
func (f *Forwarder) Stats() Stats {
	f.mu.Lock()
	s := Stats{Cursor: f.cur, LastErr: f.lastErr}
	lastMs := f.lastMs
	f.mu.Unlock()
	s.Connected = f.connect.Load()
	s.Batches, s.Errors, s.BytesSent, s.Records = f.batches.Load(), f.errs.Load(), f.bytes.Load(), f.records.Load()
	if segs, _, _, err := segment.ScanDir(f.cfg.Dir); err == nil {
		for _, seg := range segs {
			if seg.Seq < s.Cursor.Seq {
				continue
			}
			if fi, err := os.Stat(filepath.Join(f.cfg.Dir, seg.Name)); err == nil {
				n := fi.Size()
				if seg.Seq == s.Cursor.Seq {
					n -= min(n, max(s.Cursor.Offset, int64(segment.HeaderSize)))
				} else {
					n -= min(n, int64(segment.HeaderSize))
				}
				s.LagBytes += n
			}
		}
	}
	if f.written != nil {
		in := f.backlog0 + f.written() - f.written0
		out := s.Records
		if in > out {
			s.LagRecords = in - out
		}
	}
	if (s.LagRecords > 0 || s.LagBytes > int64(segment.TrailerSize)) && lastMs > 0 {
		s.LagSeconds = time.Since(time.UnixMilli(lastMs)).Seconds()
	}
	return s
}

// latRing is how many batch latencies are kept.
const latRing = 4096

// Latencies returns, for the last acknowledged batches (at most 4096, in
// no particular order), the time from the batch's oldest record's kernel
// timestamp to the server's acknowledgement: the delay forwarding adds
// to the writer's (flush_interval) and the forwarder's polling.
func (f *Forwarder) Latencies() []time.Duration {
	f.latMu.Lock()
	defer f.latMu.Unlock()
	return append([]time.Duration(nil), f.lat...)
}

// LatencyQuantiles returns quantiles qs of Latencies (0 without any).
func (f *Forwarder) LatencyQuantiles(qs ...float64) []time.Duration {
	lat := f.Latencies()
	slices.Sort(lat)
	out := make([]time.Duration, len(qs))
	if len(lat) == 0 {
		return out
	}
	for i, q := range qs {
		out[i] = lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	return out
}

// Host returns the host name the forwarder sends as.
func (f *Forwarder) Host() string { return f.cfg.Host }
