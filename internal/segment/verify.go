package segment

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// emptyLine: the writer never writes an empty line (every line starts
// with "type=" or "node="), so a frame holding one is damage, or a bomb of
// newlines claiming a billion records.
var (
	emptyLine    = []byte("\n\n")
	errEmptyLine = fmt.Errorf("%w: empty line in frame text", ErrCorrupt)
)

// verifier decodes and verifies the data frames a frameReader found. A
// frame is good only if it carries a content checksum that matches, its
// decoded size equals the size it declares (when it declares one), and its
// text is whole, non-empty lines; the walker has already bounded its window and
// decoded size (MaxWindow, MaxFrameText).
type verifier struct {
	stream *zstd.Decoder // memory: the window, not the frame
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
	if v.stream != nil {
		v.stream.Close()
	}
}

// decode decodes the data frame in fr.buf into a buffer reused by the next
// call and verifies it. It decodes as a stream into a buffer that grows
// with the text, so that a frame that turns out bad (an empty line, more
// text than its blocks can hold) stops early and costs no more than it
// decoded.
func (v *verifier) decode(fr *frameReader) ([]byte, error) {
	if err := v.reset(fr); err != nil {
		return nil, err
	}
	text := v.text[:0]
	for {
		if len(text) == cap(text) {
			grown := make([]byte, len(text), min(max(2*cap(text), 64<<10), int(fr.maxText)+1))
			copy(grown, text)
			text = grown
		}
		start := len(text)
		n, err := v.stream.Read(text[start:cap(text)])
		text = text[:start+n]
		if n > 0 && (text[0] == '\n' || bytes.Contains(text[max(start-1, 0):], emptyLine)) {
			v.text = text[:0]
			return nil, errEmptyLine
		}
		if int64(len(text)) > fr.maxText {
			v.text = text[:0]
			return nil, fmt.Errorf("%w: frame decodes to more than its blocks hold (%d bytes)", ErrCorrupt, fr.maxText)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			v.text = text[:0]
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	v.text = text[:0]
	if err := checkText(fr, int64(len(text)), text); err != nil {
		return nil, err
	}
	return text, nil
}

// reset verifies what the frame headers say and starts decoding the frame
// in fr.buf with v.stream.
func (v *verifier) reset(fr *frameReader) error {
	if !fr.checksum {
		return fmt.Errorf("%w: data frame without content checksum", ErrCorrupt)
	}
	v.frame.Reset(fr.buf)
	if v.stream == nil {
		dec, err := newDecoder(&v.frame)
		if err != nil {
			return err
		}
		v.stream = dec
		v.br = bufio.NewReaderSize(dec, 64<<10)
		return nil
	}
	if err := v.stream.Reset(&v.frame); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
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
	if err := v.reset(fr); err != nil {
		return err
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
				if len(line) == 1 && last == '\n' {
					return errEmptyLine
				}
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
