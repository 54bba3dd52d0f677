package segment

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// Frame is one verified data frame of a zstd segment, as a FrameScanner
// found it: its bytes as on disk and its decoded lines. Raw and Text are
// valid only until the scanner's next call.
type Frame struct {
	Offset int64  // of its first byte in the segment
	End    int64  // offset after its last byte
	Raw    []byte // the zstd frame as on disk
	Text   []byte // its decoded lines (whole, non-empty, verified)
	Tally  Tally  // its records and their audit(...) stamps
}

// FrameScanner walks the data frames of zstd segments one by one, for
// programs that move frames rather than lines (the forwarder, the
// collector). It verifies each frame as the Reader does before handing it
// out, and skips damage the same way (Warn, then on). Close it after use.
type FrameScanner struct {
	// Warn, if not nil, is called for each damaged region skipped.
	Warn func(Skip)

	v  verifier
	fr *frameReader
}

// Close releases the decoder.
func (s *FrameScanner) Close() { s.v.close() }

// Scan calls fn for at most limit verified data frames of the zstd
// segment path, from offset off, in order, and returns the offset after
// the last frame (or skippable frame, or damage) it consumed: where the
// next Scan goes on. live says the segment may still be growing (the
// newest one): a frame cut at its end is then where the segment ends for
// now, not damage. An error from fn stops the scan at that frame (its
// offset is returned). The index trailer and the segment header are
// passed over.
func (s *FrameScanner) Scan(path string, off int64, live bool, limit int, fn func(*Frame) error) (int64, error) {
	if !IsZstd(path) {
		return off, fmt.Errorf("segment: scan frames of %q: not a zstd segment", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return off, fmt.Errorf("segment: scan frames: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return off, fmt.Errorf("segment: scan frames of %q: %w", path, err)
	}
	size := fi.Size()
	if s.fr == nil {
		s.fr = newFrameReader(f, size, 256<<10)
	} else {
		s.fr.src, s.fr.size = f, size
	}
	fr := s.fr
	fr.seek(off)
	var frame Frame
	n := 0
	return walkVerified(fr, &s.v, size, live, fmt.Sprintf("scan frames of %q", path),
		func() bool { return n < limit },
		func(start int64, text []byte) error {
			frame = Frame{Offset: start, End: fr.pos, Raw: fr.buf, Text: text}
			frame.Tally.addText(text)
			frame.Tally.Frames = 1
			if err := fn(&frame); err != nil {
				return err
			}
			n++
			return nil
		},
		func(sk Skip) {
			if s.Warn != nil {
				sk.Path = path
				s.Warn(sk)
			}
		})
}

// Decode verifies raw, which must be exactly one zstd data frame as the
// writer writes it (checksum, declared size, whole non-empty lines, within
// MaxWindow and MaxFrameText), and returns its text (valid until the next
// call) and tally. The collector checks each frame it receives with it
// before writing it.
func (s *FrameScanner) Decode(raw []byte) ([]byte, Tally, error) {
	fr := newFrameReader(bytes.NewReader(raw), int64(len(raw)), 64<<10)
	kind, err := fr.next()
	if err != nil {
		if errors.Is(err, errTorn) {
			err = fmt.Errorf("%w: frame cut short", ErrCorrupt)
		}
		return nil, Tally{}, err
	}
	if kind != frameData || fr.pos != int64(len(raw)) {
		return nil, Tally{}, fmt.Errorf("%w: not exactly one data frame", ErrCorrupt)
	}
	text, err := s.v.decode(fr)
	if err != nil {
		return nil, Tally{}, err
	}
	t := Tally{Frames: 1}
	t.addText(text)
	return text, t, nil
}

// addText adds the whole lines of text to x.
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

// Add appends the records summarized by o after those of x.
func (x *Tally) Add(o Tally) {
	x.Records += o.Records
	x.Frames += o.Frames
	x.Stamps.Merge(o.Stamps)
}

// TallyOf returns the Tally an Index summarizes, so that a segment
// appended to after reading its index can get a trailer (AppendTrailer).
func TallyOf(x Index) Tally {
	t := Tally{Records: x.Records, Frames: x.Frames}
	if x.Stamped > 0 {
		t.Stamps = Stamps{N: x.Stamped, FirstSerial: x.FirstSerial, LastSerial: x.LastSerial,
			MinSerial: x.MinSerial, MaxSerial: x.MaxSerial,
			FirstMs: x.FirstTime.UnixMilli(), LastMs: x.LastTime.UnixMilli(),
			MinMs: x.MinTime.UnixMilli(), MaxMs: x.MaxTime.UnixMilli()}
	}
	return t
}
