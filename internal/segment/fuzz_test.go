package segment

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Seed corpora: real segments written by the writer (testdata/, made with
// BatchBytes 2048 so that the zstd one holds several data frames and its
// index trailer), and cuts of them at and between frame boundaries.

func realSegment(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameBounds returns the end offsets of the frames of a valid segment.
func frameBounds(t testing.TB, data []byte) []int {
	t.Helper()
	fr := frameReader{r: bufio.NewReader(bytes.NewReader(data)), remain: int64(len(data))}
	var ends []int
	off := 0
	for {
		_, err := fr.next()
		if err == io.EOF {
			return ends
		}
		if err != nil {
			t.Fatalf("seed segment: %v", err)
		}
		off += len(fr.buf)
		ends = append(ends, off)
	}
}

func addSegmentSeeds(f *testing.F, add func(zstd bool, b []byte)) {
	z := realSegment(f, "audit-0000000001.log.zst")
	plain := realSegment(f, "audit-0000000001.log")
	add(true, z)
	add(false, plain)
	for _, end := range frameBounds(f, z) {
		add(true, z[:end])
		if end+5 < len(z) {
			add(true, z[:end+5]) // torn inside the next frame
			damaged := bytes.Clone(z)
			damaged[end+5] ^= 0x40 // a flipped bit in the next frame
			add(true, damaged)
		}
	}
	add(true, append(bytes.Clone(z), make([]byte, 100)...)) // zeros after a clean end
	// A whole, decodable data frame without a content checksum.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	noCRC := enc.EncodeAll([]byte("type=EOE msg=audit(1732564000.123:1): \n"), bytes.Clone(header))
	enc.Close()
	add(true, noCRC)
	add(true, append(bytes.Clone(z[:frameBounds(f, z)[1]]), noCRC[len(header):]...))
	add(false, plain[:len(plain)/2])
	add(false, append(bytes.Clone(plain[:100]), 0, 0, 0))
}

// FuzzFrameWalker: on any input the walker returns, frame after frame,
// consecutive slices of the input, ends with io.EOF exactly at its end or
// with errTorn or ErrCorrupt, and never loops.
func FuzzFrameWalker(f *testing.F) {
	addSegmentSeeds(f, func(_ bool, b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(data), 16), remain: int64(len(data))}
		off := 0
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("%d frames from %d bytes: the walker does not advance", i, len(data))
			}
			kind, err := fr.next()
			if err == io.EOF {
				if off != len(data) {
					t.Fatalf("EOF at %d of %d bytes", off, len(data))
				}
				return
			}
			if err != nil {
				if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v is neither torn nor corrupt", err)
				}
				return
			}
			n := len(fr.buf)
			if n < 8 || off+n > len(data) || !bytes.Equal(fr.buf, data[off:off+n]) {
				t.Fatalf("frame %d (%d bytes at %d) is not the next slice of the input", i, n, off)
			}
			if kind == frameData && fr.blocks == 0 {
				t.Fatalf("data frame %d without a block", i)
			}
			off += n
		}
	})
}

// FuzzTrailer: parseTrailer accepts exactly the bytes AppendTrailer
// writes, and ReadIndex accepts a file only if its last bytes are such a
// trailer naming the bytes before it.
func FuzzTrailer(f *testing.F) {
	z := realSegment(f, "audit-0000000001.log.zst")
	f.Add(z[len(z)-TrailerSize:])
	f.Add(z)
	var x Tally
	x.Records, x.Frames = 3, 1
	x.Stamps.Add(1732564000123, 7)
	f.Add(x.AppendTrailer(nil, 1000))
	f.Add(make([]byte, TrailerSize))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		x, data, ok := parseTrailer(b)
		if ok {
			if again := x.AppendTrailer(nil, data); !bytes.Equal(again, b) {
				t.Fatalf("parseTrailer accepted bytes AppendTrailer does not write:\n%x\n%x", b, again)
			}
		}
		path := Path(dir, 1, true)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		idx, err := ReadIndex(path)
		if err != nil {
			if !errors.Is(err, ErrNoIndex) {
				t.Fatalf("ReadIndex: %v, want ErrNoIndex", err)
			}
			return
		}
		tx, tdata, tok := parseTrailer(b[len(b)-TrailerSize:])
		if !tok || tdata != int64(len(b)-TrailerSize) || idx != tx.Export(tdata) {
			t.Fatalf("ReadIndex accepted %x as %+v", b, idx)
		}
	})
}

// FuzzRepair: on any damaged segment Repair returns, keeps a prefix of the
// input (plus, for zstd, the index trailer it appends), saves the rest to
// .broken, and leaves a segment in which every data frame carries a
// content checksum that verifies, so that no line of a frame whose
// checksum fails is ever read back; a second Repair changes nothing.
func FuzzRepair(f *testing.F) {
	addSegmentSeeds(f, func(z bool, b []byte) { f.Add(z, b) })
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	base := memDir(f)
	n := 0
	f.Fuzz(func(t *testing.T, compressed bool, data []byte) {
		n++
		dir := filepath.Join(base, strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := Path(dir, 1, compressed)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rep := repairWithin(t, path)
		after, rerr := os.ReadFile(path)
		broken, _ := os.ReadFile(path + brokenSuffix)
		valid := rep.ValidBytes
		switch {
		case valid < 0 || valid > int64(len(data)):
			t.Fatalf("ValidBytes %d of %d", valid, len(data))
		case valid < int64(len(data)) && (!bytes.Equal(broken, data[valid:]) || rep.CutBytes != int64(len(data))-valid):
			t.Fatalf("report %+v: .broken holds %d bytes, want the %d after the valid prefix", rep, len(broken), int64(len(data))-valid)
		case rep.Removed:
			if !compressed || valid != 0 || !os.IsNotExist(rerr) {
				t.Fatalf("report %+v, file: %v", rep, rerr)
			}
			return
		case rerr != nil:
			t.Fatal(rerr)
		case !bytes.Equal(after[:min(int64(len(after)), valid)], data[:valid]):
			t.Fatalf("the segment after repair is not the valid prefix of the input")
		}
		if !compressed {
			if int64(len(after)) != valid || bytes.IndexByte(after, 0) >= 0 || len(after) > 0 && after[len(after)-1] != '\n' {
				t.Fatalf("plain segment after repair: %q", after)
			}
			return
		}
		wantLen := valid
		if rep.Indexed {
			wantLen += TrailerSize
		}
		if int64(len(after)) != wantLen {
			t.Fatalf("report %+v: %d bytes after repair, want %d", rep, len(after), wantLen)
		}
		// Every data frame kept has a content checksum, and they all
		// verify (DecodeAll checks them; skippable frames are skipped).
		fr := frameReader{r: bufio.NewReader(bytes.NewReader(after)), remain: int64(len(after))}
		for {
			kind, err := fr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("frame walk of the repaired segment: %v", err)
			}
			if kind == frameData && !fr.checksum {
				t.Fatal("a data frame without content checksum was kept")
			}
		}
		text, err := dec.DecodeAll(after, nil)
		if err != nil {
			t.Fatalf("the repaired segment does not decode: %v", err)
		}
		if len(text) > 0 && text[len(text)-1] != '\n' {
			t.Fatal("the repaired segment's text does not end with a newline")
		}
		if _, err := ReadIndex(path); err != nil {
			t.Fatalf("no index after repair: %v", err)
		}
		// Idempotent.
		if again := repairWithin(t, path); again.CutBytes != 0 || again.Indexed || again.Removed {
			t.Fatalf("second repair: %+v", again)
		}
	})
}

// memDir returns a temporary directory in /dev/shm when there is one (a
// tmpfs, where Repair's fsyncs cost nothing: on a busy disk they make
// fuzzing Repair crawl), else in the default temporary directory.
func memDir(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "segment-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// repairWithin runs Repair, failing the test if it errs or does not
// return within 10 s (a loop on crafted input).
func repairWithin(t *testing.T, path string) RepairReport {
	t.Helper()
	type result struct {
		rep RepairReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Repair(path)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Repair: %v", r.err)
		}
		return r.rep
	case <-time.After(10 * time.Second):
		t.Fatal("Repair did not return within 10 s")
		panic("unreachable")
	}
}
