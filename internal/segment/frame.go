package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// zstd frame format constants (RFC 8878).
const (
	zstdMagic         = 0xFD2FB528
	skippableMask     = 0xFFFFFFF0
	maxBlockSize      = 128 << 10
	blockTypeRaw      = 0
	blockTypeRLE      = 1
	blockTypeReserved = 3
	minWindow         = 1 << 10
)

// Bounds of what the writer produces, with margin. Anything beyond them is
// damage (or a decompression bomb), found from the frame and block headers
// before anything is decompressed, so that reading or repairing a damaged
// segment never takes more memory or time than a real one.
const (
	// MaxWindow is the largest window a data frame may need. The writer's
	// encoder (klauspost/compress zstd, levels fastest to better) uses a
	// 4 or 8 MiB window, and writes a single-segment frame, whose window
	// is its content size, only for batches that fit in that window. The
	// zstd command line refuses windows above 128 MiB by default.
	MaxWindow = 16 << 20
	// MaxFrameText is the largest decoded size of a data frame: one batch
	// (batch_size is at most 64 MiB; a single record longer than the
	// batch gets a batch of its own, and records are far smaller).
	MaxFrameText = 128 << 20
	// maxSkippable bounds the payload of a skippable frame: auditdrain
	// writes only the segment header and the 108-byte index trailer. A
	// larger one is a damaged size field that would hide data frames.
	maxSkippable = 64 << 10
)

type frameKind int

const (
	frameNone frameKind = iota
	frameData
	frameSkippable
)

// frameReader splits a zstd file into frames by parsing only the frame
// and block headers. It does not decompress. It reads src from an offset
// (seek) through a buffer, and can look for the next frame magic after
// damage (resync).
type frameReader struct {
	src  io.ReaderAt
	size int64 // bytes of input
	br   *bufio.Reader
	pos  int64  // offset of the next unread byte
	buf  []byte // the current frame's bytes (read so far, after an error)

	// Of the current data frame, from its headers.
	checksum    bool   // it carries a content checksum
	blocks      int    // its number of blocks
	contentSize int64  // declared content size, -1 if not declared
	window      uint64 // window size it needs
	maxText     int64  // upper bound of its decoded size, from its blocks
	// Of the current skippable frame: its magic.
	skipMagic uint32
}

// newFrameReader returns a frameReader on the first size bytes of src,
// positioned at offset 0.
func newFrameReader(src io.ReaderAt, size int64, bufSize int) *frameReader {
	fr := &frameReader{src: src, size: size, br: bufio.NewReaderSize(nil, bufSize)}
	fr.seek(0)
	return fr
}

// seek positions fr at offset off.
func (fr *frameReader) seek(off int64) {
	fr.pos = off
	fr.br.Reset(io.NewSectionReader(fr.src, off, max(fr.size-off, 0)))
}

// next reads the frame at fr.pos into fr.buf and advances past it. It
// returns io.EOF at a clean end of input, errTorn when the input ends
// inside a frame, and an error wrapping ErrCorrupt when the bytes cannot
// be a frame auditdrain writes (bad magic, reserved bits or block type, a
// dictionary, a window or decoded size beyond MaxWindow or MaxFrameText,
// an oversized skippable frame). The kind is known as soon as the magic
// is, also with an error.
func (fr *frameReader) next() (frameKind, error) {
	fr.buf = fr.buf[:0]
	if err := fr.take(4); err != nil {
		if errors.Is(err, errTorn) && len(fr.buf) == 0 {
			return frameNone, io.EOF
		}
		return frameNone, err
	}
	magic := binary.LittleEndian.Uint32(fr.buf)
	switch {
	case magic == zstdMagic:
		return frameData, fr.dataFrame()
	case magic&skippableMask == skippableMagic:
		fr.skipMagic = magic
		if err := fr.take(4); err != nil {
			return frameSkippable, err
		}
		size := binary.LittleEndian.Uint32(fr.buf[4:])
		if size > maxSkippable {
			return frameSkippable, fmt.Errorf("%w: skippable frame of %d bytes", ErrCorrupt, size)
		}
		return frameSkippable, fr.take(int(size))
	default:
		return frameNone, fmt.Errorf("%w: bad frame magic %#08x", ErrCorrupt, magic)
	}
}

func (fr *frameReader) dataFrame() error {
	fr.checksum, fr.blocks, fr.contentSize, fr.window, fr.maxText = false, 0, -1, 0, 0
	if err := fr.take(1); err != nil {
		return err
	}
	fhd := fr.buf[4]
	if fhd&0x08 != 0 {
		return fmt.Errorf("%w: reserved bit set in frame header descriptor %#02x", ErrCorrupt, fhd)
	}
	if fhd&3 != 0 {
		return fmt.Errorf("%w: frame needs a dictionary", ErrCorrupt)
	}
	single := fhd&0x20 != 0
	fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
	if fhd>>6 == 0 && single {
		fcsLen = 1
	}
	n := fcsLen
	if !single {
		n++ // window descriptor
	}
	if err := fr.take(n); err != nil {
		return err
	}
	h := fr.buf[5:]
	if !single {
		wd := h[0]
		exp := uint(wd >> 3)
		base := uint64(1) << (10 + exp)
		fr.window = base + base/8*uint64(wd&7)
		h = h[1:]
	}
	switch fcsLen {
	case 1:
		fr.contentSize = int64(h[0])
	case 2:
		fr.contentSize = int64(binary.LittleEndian.Uint16(h)) + 256
	case 4:
		fr.contentSize = int64(binary.LittleEndian.Uint32(h))
	case 8:
		v := binary.LittleEndian.Uint64(h)
		fr.contentSize = int64(min(v, 1<<62))
	}
	if single {
		fr.window = uint64(max(fr.contentSize, minWindow))
	}
	if fr.window > MaxWindow {
		return fmt.Errorf("%w: frame window of %d bytes (at most %d)", ErrCorrupt, fr.window, MaxWindow)
	}
	if fr.contentSize > MaxFrameText {
		return fmt.Errorf("%w: frame declares %d bytes of content (at most %d)", ErrCorrupt, fr.contentSize, MaxFrameText)
	}
	blockMax := int64(min(fr.window, maxBlockSize))
	for {
		start := len(fr.buf)
		if err := fr.take(3); err != nil {
			return err
		}
		h := uint32(fr.buf[start]) | uint32(fr.buf[start+1])<<8 | uint32(fr.buf[start+2])<<16
		last, typ, size := h&1 != 0, (h>>1)&3, int(h>>3)
		if typ == blockTypeReserved {
			return fmt.Errorf("%w: reserved block type at frame offset %d", ErrCorrupt, start)
		}
		if int64(size) > blockMax {
			return fmt.Errorf("%w: block of %d bytes at frame offset %d (window %d)", ErrCorrupt, size, start, fr.window)
		}
		decoded := int64(size) // raw and RLE: the size is the decoded size
		if typ == blockTypeRLE {
			size = 1
		} else if typ != blockTypeRaw {
			decoded = blockMax // compressed: at most a full block
		}
		fr.maxText += decoded
		if fr.maxText > MaxFrameText {
			return fmt.Errorf("%w: frame would decode to more than %d bytes", ErrCorrupt, MaxFrameText)
		}
		if err := fr.take(size); err != nil {
			return err
		}
		fr.blocks++
		if last {
			break
		}
	}
	if fhd&0x04 != 0 { // content checksum
		fr.checksum = true
		return fr.take(4)
	}
	return nil
}

// take appends the next n bytes of input to fr.buf, or what is left of
// the input and errTorn if that is less.
func (fr *frameReader) take(n int) error {
	start := len(fr.buf)
	left := fr.size - fr.pos
	short := int64(n) > left
	if short {
		n = int(max(left, 0))
	}
	fr.buf = append(fr.buf, make([]byte, n)...)[:start+n]
	got, err := io.ReadFull(fr.br, fr.buf[start:])
	fr.pos += int64(got)
	fr.buf = fr.buf[:start+got]
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return errTorn
	case err != nil:
		return err
	case short:
		return errTorn
	}
	return nil
}

// resync returns the offset of the first possible frame start at or after
// off: a zstd frame magic or a skippable frame magic. ok is false if there
// is none before the end of the input.
func (fr *frameReader) resync(off int64) (int64, bool, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+3)
	for off+4 <= fr.size {
		n, err := fr.src.ReadAt(buf[:min(int64(len(buf)), fr.size-off)], off)
		if err != nil && err != io.EOF {
			return 0, false, err
		}
		b := buf[:n]
		for i := 0; i+4 <= len(b); i++ {
			if b[i+3] != 0xFD && b[i+3] != 0x18 {
				continue
			}
			m := binary.LittleEndian.Uint32(b[i:])
			if m == zstdMagic || m&skippableMask == skippableMagic {
				return off + int64(i), true, nil
			}
		}
		if n < 4 {
			break
		}
		off += int64(n - 3)
	}
	return 0, false, nil
}
