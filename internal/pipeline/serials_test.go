package pipeline

import (
	"slices"
	"testing"
)

// seq returns the serials lo..hi in order.
func seq(lo, hi uint64) []uint64 {
	var s []uint64
	for x := lo; x <= hi; x++ {
		s = append(s, x)
	}
	return s
}

// without returns s without the serials in drop.
func without(s []uint64, drop ...uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(s), func(x uint64) bool { return slices.Contains(drop, x) })
}

// reversedBlocks reverses s in blocks of n: out-of-order delivery within n.
func reversedBlocks(s []uint64, n int) []uint64 {
	s = slices.Clone(s)
	for i := 0; i < len(s); i += n {
		slices.Reverse(s[i:min(i+n, len(s))])
	}
	return s
}

func cat(parts ...[]uint64) []uint64 { return slices.Concat(parts...) }

const wrap = uint64(1) << 32 // the kernel's serial is an unsigned int

func TestGapTracker(t *testing.T) {
	for _, tc := range []struct {
		name       string
		serials    []uint64
		gaps, late uint64
	}{
		{"in order", seq(1, 10000), 0, 0},
		{"starting high", seq(1_000_000, 1_010_000), 0, 0},
		{"three missing", without(seq(1, 10000), 100, 200, 5000), 3, 0},
		{"missing but not yet a window behind", without(seq(1, 5000), 4000), 0, 0},
		{"missing at the window's edge", without(seq(1, 4097), 1), 0, 0},
		{"missing one past the window's edge", without(seq(1, 4098), 2), 1, 0},
		{"reordered within the window", cat(seq(1, 10), reversedBlocks(seq(11, 10010), 1000)), 0, 0},
		{"reordered by a whole window", cat(seq(1, 10), reversedBlocks(seq(11, 4106*3+10), 4096)), 0, 0},
		{"reordered and missing", cat(seq(1, 10), reversedBlocks(without(seq(11, 10010), 1500), 1000)), 1, 0},
		{"records before the first serial seen are late", cat([]uint64{5}, seq(1, 4), seq(6, 5000)), 0, 4},
		{"late beyond the window", cat(without(seq(1, 5000), 10), []uint64{10}), 1, 1},
		{"duplicate of a judged serial", cat(seq(1, 5000), []uint64{3}), 0, 1},
		{"jump forward", cat(seq(1, 100), seq(10000, 20000)), 10000 - 101, 0},
		{"serial 0 is ignored", cat(seq(1, 5000), []uint64{0, 0}, seq(5001, 10000)), 0, 0},
		{"32-bit wrap", cat(seq(wrap-5000, wrap-1), seq(1, 5000)), 0, 0},
		{"32-bit wrap through 0", cat(seq(wrap-5000, wrap-1), seq(0, 5000)), 0, 0},
		{"32-bit wrap, then missing", cat(seq(wrap-5000, wrap-1), without(seq(1, 10000), 77, 78)), 2, 0},
		{"32-bit wrap, missing before it", cat(without(seq(wrap-10000, wrap-1), wrap-9000), seq(1, 100)), 1, 0},
		{"32-bit wrap with stragglers from before it", cat(seq(wrap-5000, wrap-3), []uint64{1, wrap - 2, wrap - 1}, seq(2, 5000)), 0, 2},
		{"kernel restarted its count", cat(seq(3_000_000_000, 3_000_010_000), seq(1, 10000)), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g gapTracker
			for _, s := range tc.serials {
				g.observe(s)
			}
			if gaps, late := g.gaps.Load(), g.late.Load(); gaps != tc.gaps || late != tc.late {
				t.Errorf("gaps %d, late %d; want %d, %d", gaps, late, tc.gaps, tc.late)
			}
		})
	}
}

func TestSerialTable(t *testing.T) {
	var st serialTable
	if st.has(0) {
		t.Error("an empty table has serial 0")
	}
	st.add(7)
	st.add(7 + serialTableSize + 1)
	for _, tc := range []struct {
		serial uint64
		want   bool
	}{{7, true}, {8, false}, {7 + serialTableSize, false}, {7 + serialTableSize + 1, true}, {0, false}} {
		if got := st.has(tc.serial); got != tc.want {
			t.Errorf("has(%d) = %v, want %v", tc.serial, got, tc.want)
		}
	}
	st.add(7 + serialTableSize) // same slot: the older serial is forgotten
	if st.has(7) || !st.has(7+serialTableSize) {
		t.Error("a newer serial in the same slot did not replace the older")
	}
}

func TestCounterDelta(t *testing.T) {
	for _, tc := range []struct {
		prev, cur uint32
		want      uint64
	}{
		{0, 0, 0},
		{5, 10, 5},
		{10, 10, 0},
		{1<<32 - 5, 3, 8},         // wrapped at 2^32
		{1<<32 - 1, 0, 1},         // wrapped to exactly 0
		{1 << 31, 5, 1<<31 + 5},   // from 2^31 down: a wrap
		{1<<31 - 1, 5, 5},         // from below 2^31 down: a reset (auditctl --reset-lost)
		{100, 3, 3},               // reset, then 3 more
		{100, 0, 0},               // reset
		{0, 1<<32 - 1, 1<<32 - 1}, // a huge move, not a wrap
	} {
		if got := CounterDelta(tc.prev, tc.cur); got != tc.want {
			t.Errorf("CounterDelta(%d, %d) = %d, want %d", tc.prev, tc.cur, got, tc.want)
		}
	}
}
