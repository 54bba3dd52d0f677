package writer

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// segmentWithFrames writes a zstd (or plain) segment whose frame
// boundaries are known from the writer's byte counter after each Flush.
// bounds[i] is the end offset of frame i (bounds[0] is the segment
// header's end for zstd, 0 for plain); texts[i] is frame i's text.
func segmentWithFrames(t *testing.T, compression string) (data []byte, bounds []int64, texts []string) {
	t.Helper()
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, Compression: compression, LogGroup: -1, Workers: 2, FsyncInterval: time.Hour, BatchBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	recs := genEvents(6000, 11)
	bounds = []int64{int64(w.Stats().BytesOut)}
	texts = []string{""}
	for i, n := range []int{1, 7, 40, 3, 2000, 1, 150, 25, 1300, 9, 60, 2} {
		chunk := recs[:n]
		recs = recs[n:]
		appendAll(t, w, chunk)
		w.Flush()
		waitFor(t, "a frame", func() bool { return w.Stats().Batches == uint64(i+1) })
		bounds = append(bounds, int64(w.Stats().BytesOut))
		texts = append(texts, wantText(chunk, ""))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if compression == "zstd" {
		// Close wrote the index trailer: the last "frame", with no text.
		bounds = append(bounds, int64(w.Stats().BytesOut))
		texts = append(texts, "")
		if bounds[len(bounds)-1]-bounds[len(bounds)-2] != segment.TrailerSize {
			t.Fatalf("Close wrote %d bytes, want the %d-byte index trailer", bounds[len(bounds)-1]-bounds[len(bounds)-2], segment.TrailerSize)
		}
	}
	paths, _ := segment.List(dir)
	if len(paths) != 1 {
		t.Fatalf("want one segment, got %v", paths)
	}
	data, err = os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != bounds[len(bounds)-1] {
		t.Fatalf("segment has %d bytes, counters say %d", len(data), bounds[len(bounds)-1])
	}
	return data, bounds, texts
}

// TestOpenOnTornWrite damages the tail of a segment (truncation, zeros,
// random bytes) at many offsets, then opens the directory, which repairs
// it: every complete frame before the damage is kept, the rest is in the
// .broken copy, Open appends the index trailer the damaged one lost, and
// zstd -t accepts the result.
func TestOpenOnTornWrite(t *testing.T) {
	needZstd(t)
	orig, bounds, texts := segmentWithFrames(t, "zstd")
	hdr := bounds[0]
	r := rand.New(rand.NewPCG(42, 42))
	var offsets []int64
	for _, b := range bounds {
		offsets = append(offsets, b, b+1)
	}
	for range 12 {
		offsets = append(offsets, r.Int64N(int64(len(orig))))
	}
	for _, mode := range []string{"truncate", "zeros", "random"} {
		for _, off := range offsets {
			if off >= int64(len(orig)) {
				continue
			}
			damaged := append([]byte(nil), orig...)
			switch mode {
			case "truncate":
				damaged = damaged[:off]
			case "zeros":
				clear(damaged[off:])
			case "random":
				for i := off; i < int64(len(damaged)); i++ {
					damaged[i] ^= byte(1 + r.IntN(255)) // every byte changes
				}
			}
			// Expected: the longest run of whole frames left unchanged.
			var valid int64
			frames := 0
			for i, b := range bounds {
				if b <= int64(len(damaged)) && bytes.Equal(damaged[:b], orig[:b]) {
					valid, frames = b, i+1
				}
			}
			dir := t.TempDir()
			seg := filepath.Join(dir, "audit-0000000001.log.zst")
			if err := os.WriteFile(seg, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := Open(Config{Dir: dir, LogGroup: -1, Workers: 1})
			if err != nil {
				t.Fatalf("%s at %d: Open: %v", mode, off, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rep := w.LastRepair()
			got := catDir(t, dir)
			paths, _ := segment.List(dir)
			zstdCmd(t, dir, append([]string{"-q", "-t"}, paths...)...)
			broken, _ := os.ReadFile(seg + ".broken")
			if off < hdr && mode != "truncate" {
				// Damage inside the segment header may leave a (still
				// valid) skippable frame; the records are empty anyway.
				if got != "" || rep.ValidBytes > hdr || !bytes.Equal(broken, damaged[rep.ValidBytes:]) {
					t.Errorf("%s at %d (header): Cat %q, report %+v", mode, off, got, rep)
				}
				continue
			}
			var want string
			for _, s := range texts[:frames] {
				want += s
			}
			if got != want {
				t.Errorf("%s at %d: kept text differs from the first %d frames: %s", mode, off, frames, firstDiff(got, want))
			}
			cut := int64(len(damaged)) - valid
			if rep.ValidBytes != valid || rep.CutBytes != cut || rep.Frames != frames || rep.Removed != (valid == 0 && cut > 0) {
				t.Errorf("%s at %d: report %+v, want ValidBytes=%d CutBytes=%d Frames=%d", mode, off, rep, valid, cut, frames)
			}
			if cut > 0 && !bytes.Equal(broken, damaged[valid:]) {
				t.Errorf("%s at %d: .broken holds %d bytes, want the %d cut bytes", mode, off, len(broken), cut)
			}
			if cut == 0 && broken != nil {
				t.Errorf("%s at %d: .broken written with nothing cut", mode, off)
			}
			if fi, err := os.Stat(seg); valid == 0 && err == nil {
				t.Errorf("%s at %d: segment with no valid frame kept (%d bytes)", mode, off, fi.Size())
			} else if valid > 0 && (err != nil || fi.Size() != valid+segment.TrailerSize || !rep.Indexed) {
				t.Errorf("%s at %d: segment size after repair: %v %v (indexed %v), want %d + the index trailer", mode, off, fi, err, rep.Indexed, valid)
			}
			if valid > 0 {
				// The trailer Open added describes what was kept.
				x, err := segment.ReadIndex(seg)
				if err != nil || x.Records != uint64(strings.Count(got, "\n")) || x.DataBytes != valid || x.Frames != uint64(max(frames-1, 0)) {
					t.Errorf("%s at %d: index after repair %+v, %v; want %d records, %d data bytes, %d frames",
						mode, off, x, err, strings.Count(got, "\n"), valid, frames-1)
				}
			}
		}
	}
}

func TestRepairPlain(t *testing.T) {
	orig, _, texts := segmentWithFrames(t, "none")
	var all string
	for _, s := range texts {
		all += s
	}
	if string(orig) != all {
		t.Fatalf("plain segment differs from the records: %s", firstDiff(string(orig), all))
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 30 {
		off := r.Int64N(int64(len(orig)))
		for _, mode := range []string{"truncate", "zeros"} {
			damaged := append([]byte(nil), orig...)
			if mode == "truncate" {
				damaged = damaged[:off]
			} else {
				clear(damaged[off:])
			}
			valid := int64(bytes.LastIndexByte(orig[:off], '\n') + 1)
			path := filepath.Join(t.TempDir(), "audit-0000000001.log")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := segment.Repair(path)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			broken, _ := os.ReadFile(path + ".broken")
			if rep.ValidBytes != valid || !bytes.Equal(after, orig[:valid]) ||
				rep.Frames != bytes.Count(after, []byte{'\n'}) || rep.Removed {
				t.Errorf("%s at %d: report %+v, kept %d bytes; want %d", mode, off, rep, len(after), valid)
			}
			if int64(len(damaged)) > valid && !bytes.Equal(broken, damaged[valid:]) {
				t.Errorf("%s at %d: .broken has %d bytes, want %d", mode, off, len(broken), int64(len(damaged))-valid)
			}
		}
	}
}

func TestRepairCleanSegmentUntouched(t *testing.T) {
	orig, bounds, _ := segmentWithFrames(t, "zstd")
	path := filepath.Join(t.TempDir(), "audit-0000000001.log.zst")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := segment.Repair(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ValidBytes != int64(len(orig)) || rep.CutBytes != 0 || rep.Frames != len(bounds) || rep.BrokenPath != "" {
		t.Errorf("clean segment: report %+v, want all %d bytes and %d frames", rep, len(orig), len(bounds))
	}
	if _, err := os.Stat(path + ".broken"); !os.IsNotExist(err) {
		t.Errorf(".broken exists for a clean segment: %v", err)
	}
	if _, err := segment.Repair(filepath.Join(t.TempDir(), "missing.log.zst")); err == nil {
		t.Error("Repair of a missing file succeeded")
	}
}
