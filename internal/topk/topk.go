// Package topk counts the most frequent byte strings of an unbounded stream
// in bounded memory: the space-saving algorithm (Metwally, Agrawal and El
// Abbadi, 2005) over a fixed number of slots.
//
// A [Sketch] with k slots counts every item exactly while fewer than k
// distinct items were seen. Once full, an item not in a slot takes the
// slot of the least counted one and inherits its count plus one; that
// inherited part is the entry's error bound (Err), so the true count of an
// entry lies in [Count-Err, Count], and any item whose true count exceeds
// the smallest count in the sketch is in it.
//
// Add does not allocate and takes no lock: items are copied into the
// slot's own fixed buffer (cut at [MaxItem] bytes) and found through an
// open-addressing table over their hash. A Sketch is not safe for
// concurrent use; its owner publishes [Sketch.AppendEntries] copies.
package topk

import (
	"hash/maphash"
	"slices"
)

// MaxItem is the longest item a slot holds; longer items are cut to it
// (and counted as their first MaxItem bytes).
const MaxItem = 256

// Sketch is a space-saving top-k counter. See the package documentation.
type Sketch struct {
	seed  maphash.Seed
	slots []slot
	used  int
	table []int32 // open addressing: slot index + 1, 0 = empty, -1 = deleted
	mask  uint64
	dead  int    // deleted positions in table
	seq   uint64 // insertions so far: the tenure of a slot's item
}

type slot struct {
	hash   uint64
	count  uint64
	err    uint64
	tenure uint64 // seq when the current item took the slot
	n      uint16
	item   [MaxItem]byte
}

// New returns a sketch of k slots (k >= 1).
func New(k int) *Sketch {
	if k < 1 {
		k = 1
	}
	size := 1
	for size < 4*k {
		size <<= 1
	}
	return &Sketch{
		seed:  maphash.MakeSeed(),
		slots: make([]slot, k),
		table: make([]int32, size),
		mask:  uint64(size - 1),
	}
}

// K returns the number of slots.
func (s *Sketch) K() int { return len(s.slots) }

// Len returns the number of slots in use.
func (s *Sketch) Len() int { return s.used }

// Full reports whether every slot holds an item: from then on an item
// missing from the sketch may have been counted and evicted.
func (s *Sketch) Full() bool { return s.used == len(s.slots) }

// Add counts one occurrence of item (cut at MaxItem bytes). The item is
// only read during the call.
func (s *Sketch) Add(item []byte) { s.AddN(item, 1) }

// AddN counts n occurrences of item.
func (s *Sketch) AddN(item []byte, n uint64) {
	if len(item) > MaxItem {
		item = item[:MaxItem]
	}
	h := maphash.Bytes(s.seed, item)
	pos, found := s.find(h, item)
	if found >= 0 {
		s.slots[found].count += n
		return
	}
	var i int
	if s.used < len(s.slots) {
		i = s.used
		s.used++
	} else {
		i = s.minSlot()
		s.remove(i)
		pos, _ = s.find(h, item) // the removal may have freed an earlier position
	}
	sl := &s.slots[i]
	sl.err = sl.count // 0 for a fresh slot
	sl.count += n
	sl.hash = h
	s.seq++
	sl.tenure = s.seq
	sl.n = uint16(copy(sl.item[:], item))
	if s.table[pos] < 0 {
		s.dead--
	}
	s.table[pos] = int32(i + 1)
}

// find returns the item's slot (or -1) and, when it is missing, the table
// position where it would go.
func (s *Sketch) find(h uint64, item []byte) (pos uint64, slotIndex int) {
	free := ^uint64(0)
	for p := h & s.mask; ; p = (p + 1) & s.mask {
		e := s.table[p]
		switch {
		case e == 0:
			if free == ^uint64(0) {
				free = p
			}
			return free, -1
		case e < 0:
			if free == ^uint64(0) {
				free = p
			}
		default:
			sl := &s.slots[e-1]
			if sl.hash == h && string(sl.item[:sl.n]) == string(item) {
				return p, int(e - 1)
			}
		}
	}
}

// remove takes slot i's item out of the table (its count stays, for the
// next item to inherit).
func (s *Sketch) remove(i int) {
	sl := &s.slots[i]
	for p := sl.hash & s.mask; ; p = (p + 1) & s.mask {
		if s.table[p] == int32(i+1) {
			s.table[p] = -1
			s.dead++
			break
		}
	}
	s.tombstones(i)
}

// tombstones rebuilds the table, without slot skip (being replaced), when
// deleted positions would make lookups long: a quarter of it.
func (s *Sketch) tombstones(skip int) {
	if s.dead*4 < len(s.table) {
		return
	}
	s.dead = 0
	clear(s.table)
	for i := 0; i < s.used; i++ {
		if i == skip {
			continue
		}
		for p := s.slots[i].hash & s.mask; ; p = (p + 1) & s.mask {
			if s.table[p] == 0 {
				s.table[p] = int32(i + 1)
				break
			}
		}
	}
}

// minSlot returns the slot with the smallest count (the oldest tenure
// among equals, so a burst of new items replaces each other, not the
// established ones).
func (s *Sketch) minSlot() int {
	m := 0
	for i := 1; i < len(s.slots); i++ {
		if s.slots[i].count < s.slots[m].count ||
			s.slots[i].count == s.slots[m].count && s.slots[i].tenure < s.slots[m].tenure {
			m = i
		}
	}
	return m
}

// Entry is one counted item.
type Entry struct {
	Item  string
	Count uint64 // counted occurrences, including Err
	Err   uint64 // at most this much of Count belongs to items evicted before
	// Tenure identifies the item's stay in its slot: two entries of the
	// same item with the same Tenure are the same stay, so the difference
	// of their counts is exact.
	Tenure uint64
}

// AppendEntries appends the sketch's entries, the most counted first, to
// dst. It allocates the items' strings.
func (s *Sketch) AppendEntries(dst []Entry) []Entry {
	n := len(dst)
	for i := 0; i < s.used; i++ {
		sl := &s.slots[i]
		dst = append(dst, Entry{Item: string(sl.item[:sl.n]), Count: sl.count, Err: sl.err, Tenure: sl.tenure})
	}
	slices.SortFunc(dst[n:], func(a, b Entry) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		if a.Item < b.Item {
			return -1
		}
		if a.Item > b.Item {
			return 1
		}
		return 0
	})
	return dst
}

// Reset forgets every item.
func (s *Sketch) Reset() {
	clear(s.slots)
	clear(s.table)
	s.used, s.dead = 0, 0
}
