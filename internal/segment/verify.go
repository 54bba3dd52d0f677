package segment

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// verifier decodes and verifies the data frames a frameReader found. A
// frame is good only if it carries a content checksum that matches, its
// decoded size equals the size it declares (when it declares one), and its
// text is whole lines; the walker has already bounded its window and
// decoded size (MaxWindow, MaxFrameText).
type verifier struct {
	all    *zstd.Decoder // DecodeAll: Cat, which prints a frame only once verified
	stream *zstd.Decoder // streaming: tally, whose memory is the window, not the frame
	br     *bufio.Reader
	frame  bytes.Reader
	text   []byte
}

func newDecoder(r io.Reader) (*zstd.Decoder, error) {
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(MaxWindow),
		zstd.WithDecoderMaxMemory(MaxFrameText),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("segment: create zstd decoder: %w", err)
	}
	return dec, nil
}

func (v *verifier) close() {
	if v.all != nil {
		v.all.Close()
	}
	if v.stream != nil {
		v.stream.Close()
	}
}

// check verifies what the frame headers say before decoding.
func checkHeaders(fr *frameReader) error {
	if !fr.checksum {
		return fmt.Errorf("%w: data frame without content checksum", ErrCorrupt)
	}
	return nil
}

// decode decodes the data frame in fr.buf into a buffer reused by the next
// call and verifies it.
func (v *verifier) decode(fr *frameReader) ([]byte, error) {
	if err := checkHeaders(fr); err != nil {
		return nil, err
	}
	if v.all == nil {
		dec, err := newDecoder(nil)
		if err != nil {
			return nil, err
		}
		v.all = dec
	}
	// Capacity for what the frame can decode to, so that DecodeAll does
	// not grow the buffer beyond the bound.
	if want := int(min(fr.maxText, MaxFrameText)); cap(v.text) < want && want <= 16<<20 {
		v.text = make([]byte, 0, want)
	}
	text, err := v.all.DecodeAll(fr.buf, v.text[:0])
	if cap(text) <= MaxFrameText+maxBlockSize {
		v.text = text[:0]
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := checkText(fr, int64(len(text)), text); err != nil {
		return nil, err
	}
	return text, nil
}

func checkText(fr *frameReader, n int64, text []byte) error {
	if fr.contentSize >= 0 && n != fr.contentSize {
		return fmt.Errorf("%w: frame decodes to %d bytes, declares %d", ErrCorrupt, n, fr.contentSize)
	}
	if n > fr.maxText {
		return fmt.Errorf("%w: frame decodes to %d bytes, its blocks hold at most %d", ErrCorrupt, n, fr.maxText)
	}
	if n == 0 {
		return fmt.Errorf("%w: empty data frame", ErrCorrupt)
	}
	if text != nil && text[len(text)-1] != '\n' {
		return fmt.Errorf("%w: frame text does not end with a newline", ErrCorrupt)
	}
	return nil
}

// tally decodes the data frame in fr.buf as a stream (memory: its window)
// and adds its lines to x only if it verifies.
func (v *verifier) tally(fr *frameReader, x *Tally) error {
	if err := checkHeaders(fr); err != nil {
		return err
	}
	v.frame.Reset(fr.buf)
	if v.stream == nil {
		dec, err := newDecoder(&v.frame)
		if err != nil {
			return err
		}
		v.stream = dec
		v.br = bufio.NewReaderSize(dec, 64<<10)
	} else if err := v.stream.Reset(&v.frame); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	v.br.Reset(v.stream)
	t := Tally{Frames: 1}
	var n int64
	var last byte
	partial := false
	for {
		line, err := v.br.ReadSlice('\n')
		if len(line) > 0 {
			n += int64(len(line))
			last = line[len(line)-1]
			if !partial {
				t.addLine(line)
			}
			partial = err == bufio.ErrBufferFull
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if n > fr.maxText {
			return fmt.Errorf("%w: frame decodes to more than its blocks hold (%d bytes)", ErrCorrupt, fr.maxText)
		}
	}
	if err := checkText(fr, n, nil); err != nil {
		return err
	}
	if last != '\n' {
		return fmt.Errorf("%w: frame text does not end with a newline", ErrCorrupt)
	}
	x.Records += t.Records
	x.Frames += t.Frames
	x.Stamps.Merge(t.Stamps)
	return nil
}
