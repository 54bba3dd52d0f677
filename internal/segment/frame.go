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
	blockTypeRLE      = 1
	blockTypeReserved = 3
)

type frameKind int

const (
	frameData frameKind = iota
	frameSkippable
)

// frameReader splits a zstd file into frames by parsing only the frame
// and block headers. It does not decompress.
type frameReader struct {
	r      *bufio.Reader
	remain int64  // bytes left in the input
	buf    []byte // the current frame's bytes
	// Of the current data frame: whether it carries a content checksum,
	// and its number of blocks.
	checksum bool
	blocks   int
}

// next reads the next frame into fr.buf. It returns io.EOF at a clean end
// of input, errTorn when the input ends inside a frame, and an error
// wrapping ErrCorrupt when the bytes cannot be a frame.
func (fr *frameReader) next() (frameKind, error) {
	fr.buf = fr.buf[:0]
	if err := fr.take(4); err != nil {
		if errors.Is(err, errTorn) && len(fr.buf) == 0 {
			return 0, io.EOF
		}
		return 0, err
	}
	magic := binary.LittleEndian.Uint32(fr.buf)
	switch {
	case magic == zstdMagic:
		return frameData, fr.dataFrame()
	case magic&skippableMask == skippableMagic:
		if err := fr.take(4); err != nil {
			return 0, err
		}
		size := binary.LittleEndian.Uint32(fr.buf[4:])
		return frameSkippable, fr.take(int(size))
	default:
		return 0, fmt.Errorf("%w: bad frame magic %#08x", ErrCorrupt, magic)
	}
}

func (fr *frameReader) dataFrame() error {
	fr.checksum, fr.blocks = false, 0
	if err := fr.take(1); err != nil {
		return err
	}
	fhd := fr.buf[4]
	if fhd&0x08 != 0 {
		return fmt.Errorf("%w: reserved bit set in frame header descriptor %#02x", ErrCorrupt, fhd)
	}
	single := fhd&0x20 != 0
	n := [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
	switch fhd >> 6 {              // frame content size
	case 0:
		if single {
			n++
		}
	case 1:
		n += 2
	case 2:
		n += 4
	case 3:
		n += 8
	}
	if !single {
		n++ // window descriptor
	}
	if err := fr.take(n); err != nil {
		return err
	}
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
		if size > maxBlockSize {
			return fmt.Errorf("%w: block of %d bytes at frame offset %d", ErrCorrupt, size, start)
		}
		if typ == blockTypeRLE {
			size = 1
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
	if int64(n) > fr.remain {
		_, err := io.CopyN(&appendWriter{&fr.buf}, fr.r, fr.remain)
		fr.remain = 0
		if err != nil && err != io.EOF {
			return err
		}
		return errTorn
	}
	fr.remain -= int64(n)
	fr.buf = append(fr.buf, make([]byte, n)...)[:start+n]
	got, err := io.ReadFull(fr.r, fr.buf[start:])
	if err != nil {
		fr.buf = fr.buf[:start+got]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errTorn
		}
		return err
	}
	return nil
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b *[]byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
