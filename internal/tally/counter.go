package tally

import (
	"sync"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/topk"
)

const (
	// maxType bounds the record types counted one by one (the kernel's
	// and user space's types are below 3000); others are counted together.
	maxType = 3000
	// maxSyscall bounds the syscall numbers counted one by one, per arch.
	maxSyscall = 1024
	// maxArches is how many distinct arch= values get their own syscall
	// table; events of further arches count under "other".
	maxArches = 4

	// Slots of the sketches: enough for every rule key of an ordinary
	// rule set, and the executables, auids and uids that matter.
	keySlots = 128
	exeSlots = 64
	idSlots  = 32

	historyLen = 61 // per-second frames: the last 60 seconds and now
	hourLen    = 61 // per-minute loss snapshots: the last hour and now
)

// NoKey is the name under which events of rules without a key are counted.
const NoKey = "(none)"

var noKey = []byte(NoKey)

// hexTag starts a sketch item whose value the kernel logged in hex; it is
// decoded when the counts are published, not per record.
const hexTag = 0

// Counter counts records on the drain side. Count and Tick belong to the
// goroutine that serves the writer (under the daemon's owner lock); Top
// may be called from any goroutine.
type Counter struct {
	// Owner's state.
	records   uint64
	events    uint64
	types     [maxType]uint64
	typeOther uint64
	arches    [maxArches]uint32
	nArches   int
	syscalls  [maxArches][maxSyscall]uint64
	sysOther  uint64
	keys      *topk.Sketch
	exes      *topk.Sketch
	auids     *topk.Sketch
	uids      *topk.Sketch
	scratch   [topk.MaxItem]byte
	entries   []topk.Entry
	started   time.Time
	lastMin   time.Time

	// Published at Tick.
	mu      sync.Mutex
	history []frame // ring, oldest first after next
	next    int
	filled  int
	hour    []lossMark
	hnext   int
	hfilled int
}

// New returns a Counter whose lifetime starts at now.
func New(now time.Time) *Counter {
	return &Counter{
		keys:    topk.New(keySlots),
		exes:    topk.New(exeSlots),
		auids:   topk.New(idSlots),
		uids:    topk.New(idSlots),
		started: now,
		history: make([]frame, historyLen),
		hour:    make([]lossMark, hourLen),
	}
}

// Count counts one record drained from the ring. The payload is only read
// during the call. It does not allocate.
func (c *Counter) Count(typ uint16, p []byte) {
	c.records++
	if typ < maxType {
		c.types[typ]++
	} else {
		c.typeOther++
	}
	if !record.CarriesEventKey(typ) {
		return
	}
	c.events++
	f := parseSyscall(p)
	if f.syscall >= 0 {
		a := c.arch(f.arch)
		if a >= 0 && f.syscall < maxSyscall {
			c.syscalls[a][f.syscall]++
		} else {
			c.sysOther++
		}
	}
	if f.auid != nil {
		c.auids.Add(f.auid)
	}
	if f.uid != nil {
		c.uids.Add(f.uid)
	}
	if f.hasExe {
		c.add(c.exes, f.exe, f.exeHex)
	}
	if k, quoted, ok := record.KeyField(p); ok {
		c.add(c.keys, k, !quoted)
	} else {
		c.keys.Add(noKey)
	}
}

// add counts item in s, tagged when it is hex.
func (c *Counter) add(s *topk.Sketch, item []byte, hex bool) {
	if !hex {
		s.Add(item)
		return
	}
	c.scratch[0] = hexTag
	n := copy(c.scratch[1:], item)
	s.Add(c.scratch[:1+n])
}

// arch returns the table of arch a, or -1 when every table is taken.
func (c *Counter) arch(a uint32) int {
	for i := 0; i < c.nArches; i++ {
		if c.arches[i] == a {
			return i
		}
	}
	if c.nArches == maxArches {
		return -1
	}
	c.arches[c.nArches] = a
	c.nArches++
	return c.nArches - 1
}

// Kernel is what the daemon knows of the kernel and its own losses at a
// Tick.
type Kernel struct {
	Backlog      uint64
	BacklogPeak  uint64 // since the daemon started
	BacklogLimit uint64
	Losses       pipeline.Losses // cumulative since the daemon started
}

// frame is the counts at one Tick, cumulative since New.
type frame struct {
	at       time.Time
	records  uint64
	events   uint64
	kernel   Kernel
	dims     [numDims][]item
	complete [numDims]bool // every item ever counted is in dims (not evicted)
}

// item is one counted name of a dimension at a Tick.
type item struct {
	name   string
	count  uint64
	err    uint64
	tenure uint64 // sketch tenure; 0 for exact counts
}

type lossMark struct {
	at     time.Time
	losses pipeline.Losses
}

// Tick publishes the counts as of now, with the kernel's state; call it
// about once a second from the owner. It allocates (the frame's names),
// once per call.
func (c *Counter) Tick(now time.Time, k Kernel) {
	f := frame{at: now, records: c.records, events: c.events, kernel: k}
	f.dims[DimKey], f.complete[DimKey] = c.sketchItems(c.keys)
	f.dims[DimExe], f.complete[DimExe] = c.sketchItems(c.exes)
	f.dims[DimAUID], f.complete[DimAUID] = c.sketchItems(c.auids)
	f.dims[DimUID], f.complete[DimUID] = c.sketchItems(c.uids)
	f.dims[DimSyscall], f.complete[DimSyscall] = c.syscallItems(), true
	f.dims[DimType], f.complete[DimType] = c.typeItems(), true
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history[c.next] = f
	c.next = (c.next + 1) % len(c.history)
	c.filled = min(c.filled+1, len(c.history))
	if c.lastMin.IsZero() || now.Sub(c.lastMin) >= time.Minute {
		c.lastMin = now
		c.hour[c.hnext] = lossMark{now, k.Losses}
		c.hnext = (c.hnext + 1) % len(c.hour)
		c.hfilled = min(c.hfilled+1, len(c.hour))
	}
}

func (c *Counter) sketchItems(s *topk.Sketch) ([]item, bool) {
	c.entries = s.AppendEntries(c.entries[:0])
	out := make([]item, len(c.entries))
	for i, e := range c.entries {
		out[i] = item{name: itemName(e.Item), count: e.Count, err: e.Err, tenure: e.Tenure}
	}
	return out, !s.Full()
}

func (c *Counter) syscallItems() []item {
	var out []item
	for a := 0; a < c.nArches; a++ {
		for nr, n := range c.syscalls[a] {
			if n > 0 {
				out = append(out, item{name: syscallName(c.arches[a], nr), count: n})
			}
		}
	}
	if c.sysOther > 0 {
		out = append(out, item{name: "other", count: c.sysOther})
	}
	return out
}

func (c *Counter) typeItems() []item {
	var out []item
	for t, n := range c.types {
		if n > 0 {
			out = append(out, item{name: record.TypeName(uint16(t)), count: n})
		}
	}
	if c.typeOther > 0 {
		out = append(out, item{name: "other", count: c.typeOther})
	}
	return out
}
