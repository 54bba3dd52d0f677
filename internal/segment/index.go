package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/klauspost/compress/zstd"
)

// The index trailer: a skippable frame with its own magic, written last in
// a segment when it is closed cleanly (rotation, Close) or repaired by
// Open. Layout (little endian), after the 8-byte skippable frame header:
//
//	off  size  field
//	  0     4  "ADIX"
//	  4     4  version (1)
//	  8     8  records
//	 16     8  stamped records (with an audit(...) header)
//	 24     8  first serial      32  8  last serial
//	 40     8  min serial        48  8  max serial
//	 56     8  first ms          64  8  last ms (Unix milliseconds)
//	 72     8  min ms            80  8  max ms
//	 88     8  data frames
//	 96     8  data bytes: the segment's size before the trailer
//	104     4  CRC-32C of bytes 0..103
const (
	indexMagic       = 0x184D2A51
	indexPayloadSize = 108
	indexFrameSize   = 8 + indexPayloadSize
	indexVersion     = 1
	indexTag         = "ADIX"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Index summarizes a segment: its records and the range of their
// kernel serials and timestamps. Only records whose text carries an
// "audit(SECONDS.MILLIS:SERIAL)" header (Stamped of them) count in the
// ranges; with Stamped == 0 the ranges are zero.
type Index struct {
	Records                 uint64
	Stamped                 uint64
	FirstSerial, LastSerial uint64 // of the first and last stamped record in file order
	MinSerial, MaxSerial    uint64
	FirstTime, LastTime     time.Time // millisecond precision
	MinTime, MaxTime        time.Time
	Frames                  uint64 // data frames
	DataBytes               int64  // bytes of the segment before the trailer
}

// Tally is the running summary of a segment being written or read: what
// its index trailer will say.
type Tally struct {
	Records uint64 // records (lines)
	Frames  uint64 // data frames
	Stamps  Stamps // headers of the records that have one
}

// Export returns the Index of a segment of dataBytes bytes summarized by x.
func (x *Tally) Export(dataBytes int64) Index {
	s := x.Stamps
	si := Index{Records: x.Records, Stamped: s.N, Frames: x.Frames, DataBytes: dataBytes}
	if s.N > 0 {
		si.FirstSerial, si.LastSerial, si.MinSerial, si.MaxSerial = s.FirstSerial, s.LastSerial, s.MinSerial, s.MaxSerial
		si.FirstTime, si.LastTime = time.UnixMilli(s.FirstMs), time.UnixMilli(s.LastMs)
		si.MinTime, si.MaxTime = time.UnixMilli(s.MinMs), time.UnixMilli(s.MaxMs)
	}
	return si
}

// AppendTrailer appends the index trailer of x for a segment of dataBytes
// bytes to dst.
func (x *Tally) AppendTrailer(dst []byte, dataBytes int64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, indexMagic)
	dst = binary.LittleEndian.AppendUint32(dst, indexPayloadSize)
	p := len(dst)
	dst = append(dst, indexTag...)
	dst = binary.LittleEndian.AppendUint32(dst, indexVersion)
	s := x.Stamps
	for _, v := range [...]uint64{x.Records, s.N, s.FirstSerial, s.LastSerial, s.MinSerial, s.MaxSerial,
		uint64(s.FirstMs), uint64(s.LastMs), uint64(s.MinMs), uint64(s.MaxMs), x.Frames, uint64(dataBytes)} {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[p:], crc32c))
	return dst
}

// parseTrailer decodes a whole trailer frame (indexFrameSize bytes). ok is
// false if b is not one.
func parseTrailer(b []byte) (Tally, int64, bool) {
	var x Tally
	if len(b) != indexFrameSize || binary.LittleEndian.Uint32(b) != indexMagic ||
		binary.LittleEndian.Uint32(b[4:]) != indexPayloadSize {
		return x, 0, false
	}
	p := b[8:]
	if string(p[:4]) != indexTag || binary.LittleEndian.Uint32(p[4:]) != indexVersion ||
		crc32.Checksum(p[:104], crc32c) != binary.LittleEndian.Uint32(p[104:]) {
		return x, 0, false
	}
	u := func(off int) uint64 { return binary.LittleEndian.Uint64(p[off:]) }
	x.Records = u(8)
	x.Stamps = Stamps{N: u(16), FirstSerial: u(24), LastSerial: u(32), MinSerial: u(40), MaxSerial: u(48),
		FirstMs: int64(u(56)), LastMs: int64(u(64)), MinMs: int64(u(72)), MaxMs: int64(u(80))}
	x.Frames = u(88)
	return x, int64(u(96)), true
}

// ReadIndex reads the index trailer of a zstd segment: one read of its
// last bytes, no decompression. It returns an error wrapping ErrNoIndex if
// the segment has none (a plain segment, or the writer crashed before
// closing it and no Open has repaired it since; ScanIndex then builds
// the same summary by reading it all).
func ReadIndex(path string) (Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return Index{}, fmt.Errorf("segment: read index: %w", err)
	}
	defer f.Close()
	return readIndex(f, path)
}

func readIndex(f *os.File, path string) (Index, error) {
	if !strings.HasSuffix(path, extZstd) {
		return Index{}, fmt.Errorf("%w: %q is not a zstd segment", ErrNoIndex, path)
	}
	fi, err := f.Stat()
	if err != nil {
		return Index{}, fmt.Errorf("segment: read index of %q: %w", path, err)
	}
	size := fi.Size()
	if size < indexFrameSize {
		return Index{}, fmt.Errorf("%w: %q has %d bytes", ErrNoIndex, path, size)
	}
	var buf [indexFrameSize]byte
	if _, err := f.ReadAt(buf[:], size-indexFrameSize); err != nil {
		return Index{}, fmt.Errorf("segment: read index of %q: %w", path, err)
	}
	x, data, ok := parseTrailer(buf[:])
	if !ok || data != size-indexFrameSize {
		return Index{}, fmt.Errorf("%w: %q (no valid trailer in its last %d bytes)", ErrNoIndex, path, indexFrameSize)
	}
	return x.Export(data), nil
}

// ScanIndex builds a segment's index by reading all of it (decompressing a
// zstd segment), for segments without a trailer. An index trailer found on
// the way is not counted as data.
func ScanIndex(path string) (Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return Index{}, fmt.Errorf("segment: scan index: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Index{}, fmt.Errorf("segment: scan index of %q: %w", path, err)
	}
	var x Tally
	var r io.Reader = f
	if strings.HasSuffix(path, extZstd) {
		// Count frames by walking their headers, then decode the text.
		fr := frameReader{r: bufio.NewReaderSize(f, 256<<10), remain: fi.Size()}
		for {
			kind, err := fr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Index{}, fmt.Errorf("segment: scan index of %q: %w", path, err)
			}
			if kind == frameData {
				x.Frames++
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Index{}, fmt.Errorf("segment: scan index of %q: %w", path, err)
		}
		dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return Index{}, fmt.Errorf("segment: scan index of %q: %w: %w", path, ErrCorrupt, err)
		}
		defer dec.Close()
		r = dec
	}
	if err := x.scanText(r); err != nil {
		return Index{}, fmt.Errorf("segment: scan index of %q: %w", path, err)
	}
	size := fi.Size()
	if strings.HasSuffix(path, extZstd) && size >= indexFrameSize {
		var buf [indexFrameSize]byte
		if _, err := f.ReadAt(buf[:], size-indexFrameSize); err == nil {
			if _, data, ok := parseTrailer(buf[:]); ok && data == size-indexFrameSize {
				size = data
			}
		}
	}
	return x.Export(size), nil
}

// scanText adds the lines of r to x.
func (x *Tally) scanText(r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			x.addLine(line)
		}
		switch {
		case err == bufio.ErrBufferFull:
			// A line longer than the buffer: its header was in the first
			// part; skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return err
			}
			if err == io.EOF {
				return nil
			}
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// addText adds every line of text (whole lines) to x.
func (x *Tally) addText(text []byte) {
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			i = len(text) - 1
		}
		x.addLine(text[:i+1])
		text = text[i+1:]
	}
}

func (x *Tally) addLine(line []byte) {
	x.Records++
	if ms, serial, ok := record.LineHeader(line); ok {
		x.Stamps.Add(ms, serial)
	}
}

// HeaderSize is the size of the skippable frame that opens a zstd
// segment; TrailerSize is the size of the index trailer frame.
const (
	HeaderSize  = 8 + len(headerMagic)
	TrailerSize = indexFrameSize
)
