package writer

import (
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

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
	// ages counts the stamped records by their kernel timestamp's
	// distance from firstMs, in ageSlots slots of 1<<ageShift ms (the last
	// slot takes all later ones), so that the latency histogram can count
	// each record at about its own age when the frame is written.
	ages   [ageSlots]uint32
	stamps segment.Stamps
	frame  uint64 // appender's frame number once written
	mark   uint64 // the input position its records end at (see Writer.At)
	err    error  // compression failure
	done   chan struct{}
}

// ageSlots is the number of a batch's age slots; their width, 1<<ageShift
// ms (at least 1<<minAgeShift, 16 ms), is set so that they cover the
// longest a batch stays open (settings.ageShift).
const (
	ageSlots    = 64
	minAgeShift = 4
)

// addAge counts a record stamped ms (the batch's first stamp is firstMs)
// in slots of 1<<shift ms.
func (b *batch) addAge(ms int64, shift uint) {
	d := max(ms-b.firstMs, 0) >> shift
	b.ages[min(d, ageSlots-1)]++
}

func (b *batch) reset() {
	b.text = b.text[:0]
	b.out = b.out[:0]
	b.records = 0
	b.hasTS = false
	b.ages = [ageSlots]uint32{}
	b.stamps = segment.Stamps{}
	b.err = nil
}

// mappedBuf returns an empty slice of capacity n whose pages are already
// touched: a batch is filled once per frame, and at everyday rates a frame
// takes seconds to fill, so otherwise a page fault would interrupt Append
// every few kilobytes during the first rounds of the pool.
func mappedBuf(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 0
	}
	return b[:0]
}
