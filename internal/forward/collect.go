package forward

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"
)

// CollectConfig configures a Collector.
type CollectConfig struct {
	Conn    ConnOptions
	Stream  string // default DefaultStream
	Subject string // default DefaultSubject: consumes Subject.>
	Durable string // durable consumer name, shared by collectors that share the work (default "auditdrain-collect")
	Dir     string // DIR/<host>/ gets each host's segments
	Batch   int    // messages per fetch (default 256)
	// Replicas is the replica count of the stream if the collector
	// creates it (before any forwarder did).
	Replicas int
	Logf     func(format string, args ...any)
}

// DefaultStream is the stream name when none is configured.
const DefaultStream = "AUDITDRAIN"

// stateName is a host directory's collect state file.
const stateName = ".collect-state"

// hostState is what a host directory holds: the last frame written and
// the size of its segment after it.
type hostState struct {
	// Init marks a directory the collector made: with Last still zero,
	// any segment in it was written by a collector that crashed before
	// recording it.
	Init    bool     `json:"init"`
	Last    Position `json:"last"` // source position of the last frame written
	Size    int64    `json:"size"` // size of segment Last.Seq after it
	Frames  uint64   `json:"frames"`
	Records uint64   `json:"records"`
}

// CollectStats counts what a Collector did.
type CollectStats struct {
	Frames     uint64 // frames written
	Records    uint64
	Duplicates uint64 // messages acknowledged without writing: already written
	Waits      uint64 // frames put back after holdFor: an earlier frame of the host had not been written
	Bad        uint64 // messages refused: bad headers or a frame that does not verify
}

// Collector writes the frames of a stream into per-host directories.
type Collector struct {
	cfg     CollectConfig
	scanner segment.FrameScanner
	pending []pendingMsg // held frames (Run's goroutine)
	// heldSince is when each held frame was first held (Run's
	// goroutine): a frame is written over a gap only after its
	// predecessor has had longer than ackWait to be redelivered.
	heldSince map[hostPos]time.Time
	// ackWait, holdFor: the package's constants; tests shorten them.
	ackWait, holdFor time.Duration

	frames, records, dups, waits, bad atomic.Uint64
}

// NewCollector returns a Collector; Run connects and consumes.
func NewCollector(cfg CollectConfig) *Collector {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Durable == "" {
		cfg.Durable = "auditdrain-collect"
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Collector{cfg: cfg, heldSince: map[hostPos]time.Time{}, ackWait: ackWait, holdFor: holdFor}
}

// hostPos names one host's frame.
type hostPos struct {
	host string
	pos  Position
}

// Stats returns the counters.
func (c *Collector) Stats() CollectStats {
	return CollectStats{c.frames.Load(), c.records.Load(), c.dups.Load(), c.waits.Load(), c.bad.Load()}
}

// Run consumes until ctx is done. A server that cannot be reached (at
// the start or later) is retried with a backoff, logged once per error.
func (c *Collector) Run(ctx context.Context) error {
	defer c.scanner.Close()
	if err := os.MkdirAll(c.cfg.Dir, 0o750); err != nil {
		return err
	}
	var nc *nats.Conn
	var cons jetstream.Consumer
	backoff, last := 100*time.Millisecond, ""
	for ctx.Err() == nil {
		var err error
		nc, cons, err = c.connect(ctx)
		if err == nil {
			break
		}
		if err.Error() != last {
			c.cfg.Logf("collect: %v (retrying)", err)
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	if nc == nil {
		return nil
	}
	defer nc.Close()
	for ctx.Err() == nil {
		wait := 500 * time.Millisecond
		if len(c.pending) > 0 {
			wait = 50 * time.Millisecond
		}
		batch, err := cons.Fetch(c.cfg.Batch, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.cfg.Logf("collect: fetch: %v", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil &&
			!errors.Is(err, jetstream.ErrNoMessages) {
			c.cfg.Logf("collect: fetch: %v", err)
		}
		if len(msgs) == 0 && len(c.pending) == 0 {
			continue
		}
		if err := c.handle(msgs); err != nil {
			c.cfg.Logf("collect: %v", err)
			for _, m := range msgs {
				m.NakWithDelay(time.Second)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	for _, p := range c.pending {
		p.msg.Nak()
	}
	return nil
}

// connect connects and creates (or binds to) the durable consumer.
func (c *Collector) connect(ctx context.Context) (*nats.Conn, jetstream.Consumer, error) {
	nc, js, err := connectJS(ctx, c.cfg.Conn, c.cfg.Stream, c.cfg.Subject, c.cfg.Replicas)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(cctx, c.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.ackWait,
		FilterSubject: c.cfg.Subject + ".>",
		MaxAckPending: 16 * c.cfg.Batch,
	})
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("forward: consumer %s: %w", c.cfg.Durable, err)
	}
	return nc, cons, nil
}

// pendingMsg is a frame whose predecessor has not been written yet: held
// for a while (another collector sharing the work is probably writing
// it), then put back.
type pendingMsg struct {
	msg   jetstream.Msg
	host  string
	pos   Position
	since time.Time
}

// holdFor is how long a frame waits for its predecessor before it is
// put back on the stream (NAK), freeing its slot for redelivery.
const holdFor = 3 * time.Second

// ackWait is the consumer's AckWait: a message delivered to a collector
// that never acknowledged it (its connection or its server died) comes
// again after this long.
const ackWait = 30 * time.Second

// gapAfter is the deliveries, and gapWait the time since this collector
// first held it, after which a frame whose predecessor never came is
// written anyway (the predecessor is gone from the stream): the gap is
// logged. Both are needed: a held frame is put back every holdFor and
// redelivered at once, so deliveries alone would count faster than a
// predecessor lost in flight (delivered over a connection that died) is
// redelivered, which takes ackWait.
const gapAfter = 8

// gapWait is how long this collector holds a frame whose predecessor
// never came before it may write it over the gap (with gapAfter).
func (c *Collector) gapWait() time.Duration { return c.ackWait + 3*c.holdFor }

// handle writes a fetched batch and the held frames, host by host, in
// log order, then acknowledges.
func (c *Collector) handle(msgs []jetstream.Msg) error {
	byHost := map[string][]pendingMsg{}
	var hosts []string
	add := func(p pendingMsg) {
		if _, ok := byHost[p.host]; !ok {
			hosts = append(hosts, p.host)
		}
		byHost[p.host] = append(byHost[p.host], p)
	}
	for _, p := range c.pending {
		add(p)
	}
	c.pending = c.pending[:0]
	now := time.Now()
	for _, m := range msgs {
		hd := m.Headers()
		h := hd.Get(HdrHost)
		seq, err1 := strconv.ParseUint(hd.Get(HdrSegment), 10, 64)
		off, err2 := strconv.ParseInt(hd.Get(HdrOffset), 10, 64)
		if !validHost(h) || err1 != nil || err2 != nil || hd.Get(HdrPayload) != "frame" {
			c.bad.Add(1)
			c.cfg.Logf("collect: message %s: bad or missing headers (host %q, segment, offset, payload frame)", m.Subject(), h)
			m.Term()
			continue
		}
		add(pendingMsg{msg: m, host: h, pos: Position{seq, off}, since: now})
	}
	for _, h := range hosts {
		ms := byHost[h]
		slices.SortStableFunc(ms, func(a, b pendingMsg) int {
			if a.pos.Less(b.pos) {
				return -1
			}
			if b.pos.Less(a.pos) {
				return 1
			}
			return 0
		})
		ack, held, err := c.writeHost(h, ms)
		if err != nil {
			for _, p := range ms {
				p.msg.NakWithDelay(time.Second)
			}
			return err
		}
		for _, m := range ack {
			m.Ack()
		}
		for _, p := range held {
			if now.Sub(p.since) > c.holdFor {
				c.waits.Add(1)
				p.msg.NakWithDelay(100 * time.Millisecond)
				continue
			}
			c.pending = append(c.pending, p)
		}
	}
	return nil
}

func validHost(h string) bool {
	return h != "" && h != "." && h != ".." && !strings.ContainsAny(h, "/\x00") && !strings.HasPrefix(h, ".") && len(h) <= 255
}

// parsePos parses "SEQ:OFFSET".
func parsePos(s string) (Position, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, false
	}
	seq, err1 := strconv.ParseUint(a, 10, 64)
	off, err2 := strconv.ParseInt(b, 10, 64)
	return Position{seq, off}, err1 == nil && err2 == nil
}

// hostDir is one host's directory, locked (flock) while a collector
// writes to it.
type hostDir struct {
	dir   string
	lock  *os.File
	st    hostState
	f     *os.File // segment st.Last.Seq, open for appending
	dirty bool
}

func openHost(dir string) (*hostDir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, err
	}
	h := &hostDir{dir: dir, lock: lock}
	found, err := loadJSON(filepath.Join(dir, stateName), &h.st)
	if err == nil && !found {
		// A new host directory: it must hold no segments (recover would
		// remove them), then it is marked as the collector's.
		var segs []segment.Entry
		if segs, _, _, err = segment.ScanDir(dir); err == nil && len(segs) > 0 {
			err = fmt.Errorf("%s holds segments but no %s: not a directory auditdrain collect wrote; refusing to write into it", dir, stateName)
		}
		if err == nil {
			h.st.Init = true
			err = storeJSON(filepath.Join(dir, stateName), h.st)
		}
	}
	if err == nil && !h.st.Init {
		err = fmt.Errorf("%s: %s is not a collect state", dir, stateName)
	}
	if err != nil {
		h.close()
		return nil, err
	}
	if err := h.recover(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// recover undoes what a collector wrote after the state it recorded (it
// crashed before recording, so those messages were not acknowledged and
// come again): the tail of the state's segment, newer segments.
func (h *hostDir) recover() error {
	segs, _, _, err := segment.ScanDir(h.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		p := filepath.Join(h.dir, s.Name)
		switch {
		case h.st.Last == (Position{}):
			if err := os.Remove(p); err != nil {
				return err
			}
		case s.Seq > h.st.Last.Seq:
			if err := os.Remove(p); err != nil {
				return err
			}
		case s.Seq == h.st.Last.Seq:
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.Size() > h.st.Size {
				if err := os.Truncate(p, h.st.Size); err != nil {
					return err
				}
			}
		}
	}
	_, err = segment.SyncDir(h.dir)
	return err
}

func (h *hostDir) close() {
	if h.f != nil {
		h.f.Close()
	}
	h.lock.Close() // releases the flock
}

// sync makes what was appended durable, then the state.
func (h *hostDir) sync() error {
	if !h.dirty {
		return nil
	}
	if h.f != nil {
		if _, err := segment.Datasync(h.f); err != nil {
			return err
		}
	}
	return storeJSON(filepath.Join(h.dir, stateName), h.st)
}

// appendFrame appends a verified frame of source position pos.
func (h *hostDir) appendFrame(pos Position, raw []byte, records uint64) error {
	if h.f == nil || pos.Seq != h.st.Last.Seq {
		if err := h.rotate(pos.Seq); err != nil {
			return err
		}
	}
	if _, err := h.f.Write(raw); err != nil {
		return err
	}
	h.st.Size += int64(len(raw))
	h.st.Last = pos
	h.st.Frames++
	h.st.Records += records
	h.dirty = true
	return nil
}

// rotate closes the current segment with its index trailer and opens
// segment seq (created, or the existing one after a restart).
func (h *hostDir) rotate(seq uint64) error {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
	if h.st.Last.Seq != seq && h.st.Last != (Position{}) {
		old := segment.Path(h.dir, h.st.Last.Seq, true)
		if _, err := segment.ReadIndex(old); err != nil {
			x, _ := segment.ScanIndex(old)
			t := segment.TallyOf(x)
			f, err := os.OpenFile(old, os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.Write(t.AppendTrailer(nil, x.DataBytes))
				if err == nil {
					_, err = segment.Datasync(f)
				}
				f.Close()
			}
			if err != nil {
				return fmt.Errorf("collect: close %s: %w", old, err)
			}
		}
	}
	p := segment.Path(h.dir, seq, true)
	if seq == h.st.Last.Seq && h.st.Last != (Position{}) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		h.f = f
		return nil
	}
	f, size, err := segment.Create(p, 0o640, -1, true, func(int64) {})
	if err != nil {
		return err
	}
	h.f = f
	h.st.Last, h.st.Size = Position{Seq: seq}, size
	return nil
}

// writeHost writes one host's frames (in log order) and returns the
// messages to acknowledge (written, or duplicates) and those held: from
// the first whose predecessor is not the last frame written.
func (c *Collector) writeHost(host string, ms []pendingMsg) (ack []jetstream.Msg, held []pendingMsg, err error) {
	h, err := openHost(filepath.Join(c.cfg.Dir, host))
	if err != nil {
		return nil, nil, fmt.Errorf("collect: %s: %w", host, err)
	}
	defer h.close()
	for i, p := range ms {
		m, pos := p.msg, p.pos
		if h.st.Last != (Position{}) && !h.st.Last.Less(pos) {
			c.dups.Add(1)
			ack = append(ack, m)
			continue
		}
		prevText := m.Headers().Get(HdrPrev)
		prev, hasPrev := parsePos(prevText)
		if hasPrev && prev != h.st.Last {
			// An earlier frame is not written yet: another collector
			// holds it, or it comes again. Only a frame delivered many
			// times is written over the gap (its predecessor is gone).
			k := hostPos{host, pos}
			first, seen := c.heldSince[k]
			if !seen {
				first = time.Now()
				c.heldSince[k] = first
			}
			if md, err := m.Metadata(); err != nil || md.NumDelivered < gapAfter || time.Since(first) < c.gapWait() {
				held = append(held, ms[i:]...)
				break
			}
			c.cfg.Logf("collect: %s: frame %v follows %v, which never came (%v was written last): a gap in the collected log",
				host, pos, prev, h.st.Last)
		}
		_, t, err := c.scanner.Decode(m.Data())
		if err != nil {
			c.bad.Add(1)
			c.cfg.Logf("collect: %s: frame %v: %v", host, pos, err)
			m.Term()
			continue
		}
		if err := h.appendFrame(pos, m.Data(), t.Records); err != nil {
			return nil, nil, fmt.Errorf("collect: %s: %w", host, err)
		}
		c.frames.Add(1)
		c.records.Add(t.Records)
		ack = append(ack, m)
	}
	for k := range c.heldSince {
		if k.host == host && !h.st.Last.Less(k.pos) {
			delete(c.heldSince, k) // written, or before what was
		}
	}
	if err := h.sync(); err != nil {
		return nil, nil, fmt.Errorf("collect: %s: %w", host, err)
	}
	return ack, held, nil
}
