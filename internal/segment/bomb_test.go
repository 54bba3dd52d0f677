package segment_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/writer"
	"github.com/klauspost/compress/zstd"
)

// segHeader is the skippable frame that opens every zstd segment.
var segHeader = append(append(le32(0x184D2A50), le32(22)...), "auditdrain segment v1\n"...)

// contentChecksum returns the content checksum a zstd frame of text
// carries (the low 32 bits of its XXH64), taken from a frame the encoder
// writes.
func contentChecksum(t testing.TB, text []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	f := enc.EncodeAll(text, nil)
	return f[len(f)-4:]
}

// bigWindowFrame is the 92-byte frame of issue 11: one raw block of 79
// bytes of text, a valid checksum, and a window descriptor of 2^(10+exp)
// bytes (exp 19: 512 MiB). Decoders that trust it allocate the window.
func bigWindowFrame(t testing.TB, exp byte) []byte {
	text := []byte(strings.Repeat("x", 78) + "\n")
	f := append(le32(0xFD2FB528), 0x04, exp<<3)
	h := uint32(len(text))<<3 | 1 // raw, last
	f = append(f, byte(h), byte(h>>8), byte(h>>16))
	f = append(f, text...)
	f = append(f, contentChecksum(t, text)...)
	if len(f) != 92 {
		t.Fatalf("frame of %d bytes", len(f))
	}
	return f
}

// repeatFrame is a frame of n RLE blocks of 128 KiB of byte b (window 8
// MiB, no content size), 4 bytes per block on disk, with a bogus checksum.
func repeatFrame(n int, b byte) []byte {
	f := append(le32(0xFD2FB528), 0x04, 13<<3)
	for i := range n {
		h := uint32(128<<10)<<3 | 1<<1
		if i == n-1 {
			h |= 1
		}
		f = append(f, byte(h), byte(h>>8), byte(h>>16), b)
	}
	return append(f, 1, 2, 3, 4)
}

// measure runs fn and returns how long it took and how many bytes it
// allocated.
func measure(fn func()) (time.Duration, uint64) {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	start := time.Now()
	fn()
	d := time.Since(start)
	runtime.ReadMemStats(&b)
	return d, b.TotalAlloc - a.TotalAlloc
}

// Decompression bombs cost no more than a real frame: Cat, CatFiltered
// and ScanIndex skip them as damage, Repair cuts them, writer.Open (which
// repairs the last segment at every daemon start) stays fast and small.
func TestBombs(t *testing.T) {
	needZstd(t)
	const (
		maxTime  = 500 * time.Millisecond
		maxAlloc = 48 << 20
	)
	one := bigWindowFrame(t, 19)
	rle := repeatFrame(8192, 'a') // 32 KiB decoding to 1 GiB
	var multi []byte              // 16 frames of 64 MiB of newlines, each within the bounds
	for range 16 {
		multi = append(multi, repeatFrame(512, '\n')...)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"512MiB-window", append(bytes.Clone(segHeader), one...)},
		{"144MiB-window", append(bytes.Clone(segHeader), bigWindowFrame(t, 17)...)},
		{"repeat-1GiB", append(bytes.Clone(segHeader), rle...)},
		{"16x64MiB-newlines", append(bytes.Clone(segHeader), multi...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "512MiB-window" && len(tc.data)-len(segHeader) != 92 {
				t.Fatal("not the 92-byte frame")
			}
			if tc.name == "repeat-1GiB" && len(tc.data) > 33<<10 {
				t.Fatalf("%d bytes", len(tc.data))
			}
			dir := t.TempDir()
			path := segment.Path(dir, 1, true)
			next := segment.Path(dir, 2, true)
			os.WriteFile(path, tc.data, 0o600)
			os.WriteFile(next, segHeader, 0o600)
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"Cat", func() error { return segment.Cat(&bytes.Buffer{}, path, next) }},
				{"CatFiltered", func() error {
					return segment.CatFiltered(&bytes.Buffer{}, segment.Filter{SerialMin: 1}, path, next)
				}},
				{"ScanIndex", func() error { _, err := segment.ScanIndex(path); return err }},
			} {
				var err error
				d, alloc := measure(func() { err = op.run() })
				t.Logf("%s: %v, %d KiB allocated", op.name, d, alloc>>10)
				if !errors.Is(err, segment.ErrSkipped) {
					t.Errorf("%s: %v, want ErrSkipped", op.name, err)
				}
				if d > maxTime || alloc > maxAlloc {
					t.Errorf("%s took %v and %d MiB", op.name, d, alloc>>20)
				}
			}
			var rep segment.RepairReport
			var err error
			d, alloc := measure(func() { rep, err = segment.Repair(path) })
			t.Logf("Repair: %v, %d KiB allocated: %+v", d, alloc>>10, rep)
			if err != nil || rep.ValidBytes != int64(len(segHeader)) || !rep.Indexed {
				t.Fatalf("Repair: %+v, %v", rep, err)
			}
			if d > maxTime || alloc > maxAlloc {
				t.Errorf("Repair took %v and %d MiB", d, alloc>>20)
			}
			if out, err := zstdTest(path); err != nil {
				t.Errorf("zstd -t after repair: %v %s", err, out)
			}
			if x, err := segment.ReadIndex(path); err != nil || x.Records != 0 {
				t.Errorf("index after repair: %+v, %v", x, err)
			}

			// The daemon's start: writer.Open repairs the last segment.
			dir2 := t.TempDir()
			os.WriteFile(segment.Path(dir2, 1, true), tc.data, 0o600)
			var w *writer.Writer
			d, alloc = measure(func() {
				w, err = writer.Open(writer.Config{Dir: dir2, LogGroup: -1, Compression: "zstd"})
			})
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			t.Logf("writer.Open: %v, %d KiB allocated", d, alloc>>10)
			if d > maxTime || alloc > maxAlloc {
				t.Errorf("writer.Open took %v and %d MiB", d, alloc>>20)
			}
			if rep := w.LastRepair(); rep.CutBytes != int64(len(tc.data)-len(segHeader)) {
				t.Errorf("Open's repair %+v", rep)
			}
		})
	}
}

// Repair keeps nothing the zstd command line refuses: after it, zstd -t
// accepts every segment (windows of 144 to 512 MiB, which zstd refuses
// without --long, are cut), and an empty .log.zst is removed.
func TestRepairLeavesZstdValid(t *testing.T) {
	needZstd(t)
	dir := t.TempDir()
	paths, _, _ := fourSegments(t, dir)
	good, _ := os.ReadFile(paths[0])
	good = good[:len(good)-segment.TrailerSize]
	for exp := byte(14); exp <= 19; exp++ {
		path := filepath.Join(dir, "w.log.zst")
		os.WriteFile(path, append(bytes.Clone(good), bigWindowFrame(t, exp)...), 0o600)
		rep, err := segment.Repair(path)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := zstdTest(path); err != nil {
			t.Errorf("window 2^%d: zstd -t after repair %+v: %v %s", exp+10, rep, err, out)
		}
		if window := 1 << (exp + 10); (window <= segment.MaxWindow) != (rep.CutBytes == 0) {
			t.Errorf("window %d MiB: repair %+v", window>>20, rep)
		}
	}
	// An empty segment is removed (zstd -t rejects an empty file).
	empty := segment.Path(dir, 9, true)
	os.WriteFile(empty, nil, 0o600)
	if out, err := zstdTest(empty); err == nil {
		t.Fatalf("zstd -t accepts an empty file: %s", out)
	}
	rep, err := segment.Repair(empty)
	if err != nil || !rep.Removed {
		t.Fatalf("Repair of an empty segment: %+v, %v", rep, err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("empty segment still there: %v", err)
	}
	// A segment of the header only (no record yet) passes zstd -t, and
	// keeps passing once Repair has given it its trailer.
	hdr := segment.Path(dir, 10, true)
	os.WriteFile(hdr, segHeader, 0o600)
	if out, err := zstdTest(hdr); err != nil {
		t.Fatalf("zstd -t of a header-only segment: %v %s", err, out)
	}
	if rep, err := segment.Repair(hdr); err != nil || !rep.Indexed {
		t.Fatalf("%+v, %v", rep, err)
	}
	if out, err := zstdTest(hdr); err != nil {
		t.Fatalf("zstd -t of a header-only segment after repair: %v %s", err, out)
	}
}
