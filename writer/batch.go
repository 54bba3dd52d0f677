package writer

import "time"

// batch is one unit of the pipeline: the text of whole records, sealed into
// one frame. Batches come from a fixed free list allocated at Open and are
// owned by exactly one stage at a time: the drain goroutine while filling,
// a compressor until it signals done, then the appender, which returns the
// batch to the free list once its frame is written (or, with Flush "data"
// and "sync", once an fsync covering it has completed), or dropped.
type batch struct {
	seq     uint64    // seal order, assigned by seal
	text    []byte    // formatted lines; cap BatchBytes unless grown by a large record
	out     []byte    // compressed frame (zstd only)
	records int       // records in text
	firstAt time.Time // local time the first record was appended (for Tick and the durability window)
	firstMs int64     // kernel timestamp of the first record, Unix ms
	hasTS   bool      // firstMs is valid
	stamps  stampRange
	frame   uint64 // appender's frame number once written
	err     error  // compression failure
	done    chan struct{}
}

func (b *batch) reset() {
	b.text = b.text[:0]
	b.out = b.out[:0]
	b.records = 0
	b.hasTS = false
	b.stamps = stampRange{}
	b.err = nil
}

// stampRange summarizes the audit(SECONDS.MILLIS:SERIAL) headers of a run
// of records: first and last in order, smallest and largest. n counts the
// records that had one.
type stampRange struct {
	n                       uint64
	firstSerial, lastSerial uint64
	minSerial, maxSerial    uint64
	firstMs, lastMs         int64
	minMs, maxMs            int64
}

func (r *stampRange) add(ms int64, serial uint64) {
	if r.n == 0 {
		r.firstSerial, r.minSerial, r.maxSerial = serial, serial, serial
		r.firstMs, r.minMs, r.maxMs = ms, ms, ms
	}
	r.n++
	r.lastSerial, r.lastMs = serial, ms
	r.minSerial, r.maxSerial = min(r.minSerial, serial), max(r.maxSerial, serial)
	r.minMs, r.maxMs = min(r.minMs, ms), max(r.maxMs, ms)
}

// merge appends the records summarized by o after those of r.
func (r *stampRange) merge(o stampRange) {
	if o.n == 0 {
		return
	}
	if r.n == 0 {
		*r = o
		return
	}
	r.n += o.n
	r.lastSerial, r.lastMs = o.lastSerial, o.lastMs
	r.minSerial, r.maxSerial = min(r.minSerial, o.minSerial), max(r.maxSerial, o.maxSerial)
	r.minMs, r.maxMs = min(r.minMs, o.minMs), max(r.maxMs, o.maxMs)
}
