package segment

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Skip is one damaged region of a segment that a reader skipped.
type Skip struct {
	Path   string
	Offset int64 // of the first byte skipped
	Bytes  int64 // bytes skipped (to the next good frame, or to the end)
	Reason error
}

func (s Skip) String() string {
	return fmt.Sprintf("%s: skipped %d damaged bytes at offset %d: %v", s.Path, s.Bytes, s.Offset, s.Reason)
}

// SkipError is returned by Cat, CatFiltered, Follow and ScanIndex, after
// everything readable was read, when damaged regions were skipped. It
// wraps ErrSkipped and ErrCorrupt.
type SkipError struct {
	Regions  int    // damaged regions skipped
	Bytes    int64  // bytes they held
	Segments int    // segments with at least one
	First    []Skip // the first few, for the message
}

// maxKeptSkips is how many Skips a SkipError keeps.
const maxKeptSkips = 8

func (e *SkipError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d damaged region(s), %d bytes, in %d segment(s)", ErrSkipped, e.Regions, e.Bytes, e.Segments)
	for _, s := range e.First {
		b.WriteString("; ")
		b.WriteString(s.String())
	}
	if e.Regions > len(e.First) {
		b.WriteString("; ...")
	}
	return b.String()
}

// Unwrap returns ErrSkipped and ErrCorrupt: what was skipped was damaged.
func (e *SkipError) Unwrap() []error { return []error{ErrSkipped, ErrCorrupt} }

func (e *SkipError) add(s Skip, newSegment bool) {
	e.Regions++
	e.Bytes += s.Bytes
	if newSegment {
		e.Segments++
	}
	if len(e.First) < maxKeptSkips {
		e.First = append(e.First, s)
	}
}

// Reader reads segments back: Cat and Follow. The zero Reader prints every
// line and reports damage only in the error it returns.
type Reader struct {
	// Filter selects the lines printed; the zero Filter selects all.
	Filter Filter
	// Warn, if not nil, is called for each damaged region as it is
	// skipped, before the reading goes on.
	Warn func(Skip)

	v        verifier
	skips    SkipError
	lastSkip string // path of the segment of the last skip
	out      []byte // the selected lines of one frame
}

// Cat writes the text of each segment to out, in the order given (use
// List or Select for write order). See Reader.Cat.
func Cat(out io.Writer, paths ...string) error {
	var r Reader
	return r.Cat(out, paths...)
}

// CatFiltered writes the lines of the segments, in the order given, whose
// header matches f. See Reader.Cat.
func CatFiltered(out io.Writer, f Filter, paths ...string) error {
	r := Reader{Filter: f}
	return r.Cat(out, paths...)
}

// Cat writes the lines of each segment that r.Filter selects to out, in
// the order given: decoded for a zstd segment (IsZstd), copied for a plain
// one. A data frame's lines are written only after the whole frame is
// decoded and its content checksum and declared size verify. A damaged
// region (a frame that does not parse or verify) is skipped to the next
// frame that does, with a Skip passed to r.Warn; reading goes on with the
// rest of the segment and with the next ones. The last segment given may be
// the one a running daemon is writing: a frame cut short at its end, with
// nothing valid after it, is where the log ends for now, not damage (the
// same for a partial last line of a plain segment), and a cut index
// trailer is no damage either (it holds no records).
//
// With a non-zero Filter, a zstd segment whose valid index trailer shows
// no selected record is skipped after reading only its trailer; any other
// segment (no or damaged trailer) is read and filtered line by line. A
// line without an audit(...) header matches only the zero Filter.
//
// The error, after everything readable was written, is a *SkipError
// (wrapping ErrSkipped) if damage was skipped; an error writing to out or
// opening a segment ends the reading at once.
func (r *Reader) Cat(out io.Writer, paths ...string) error {
	defer r.v.close()
	r.skips, r.lastSkip = SkipError{}, ""
	for i, path := range paths {
		if _, err := r.catFile(out, path, 0, i == len(paths)-1, true); err != nil {
			return err
		}
	}
	return r.err()
}

func (r *Reader) err() error {
	if r.skips.Regions > 0 {
		e := r.skips
		return &e
	}
	return nil
}

// catFile writes the selected lines of path from offset off and returns
// the offset after the last whole frame (or line) read. live: the file may
// be growing (a cut frame at the end is not damage). useIndex: a segment
// whose trailer shows no selected record may be skipped.
func (r *Reader) catFile(out io.Writer, path string, off int64, live, useIndex bool) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return off, fmt.Errorf("segment: cat: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return off, fmt.Errorf("segment: cat %q: %w", path, err)
	}
	if !IsZstd(path) {
		return r.catPlain(out, f, path, off, live)
	}
	if useIndex && !r.Filter.IsZero() {
		if x, err := readIndex(f, path); err == nil && !r.Filter.overlaps(x) {
			return fi.Size(), nil
		}
	}
	return r.catZstd(out, f, fi.Size(), path, off, live)
}

// skip records a damaged region.
func (r *Reader) skip(s Skip) {
	r.skips.add(s, s.Path != r.lastSkip)
	r.lastSkip = s.Path
	if r.Warn != nil {
		r.Warn(s)
	}
}

// writeOut writes err-annotated output.
func writeOut(out io.Writer, p []byte, path string) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := out.Write(p); err != nil {
		return fmt.Errorf("segment: cat %q: write output: %w", path, err)
	}
	return nil
}

// emit writes the lines of text (whole lines) that r.Filter selects.
func (r *Reader) emit(out io.Writer, text []byte, path string) error {
	if r.Filter.IsZero() {
		return writeOut(out, text, path)
	}
	r.out = r.out[:0]
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		line := text
		if i >= 0 {
			line = text[:i+1]
		}
		text = text[len(line):]
		if ms, serial, ok := record.LineHeader(line); ok && r.Filter.Match(ms, serial) {
			r.out = append(r.out, line...)
		}
	}
	return writeOut(out, r.out, path)
}

// catZstd walks the frames of a zstd segment from off. It returns the
// offset after the last frame it consumed.
func (r *Reader) catZstd(out io.Writer, f *os.File, size int64, path string, off int64, live bool) (int64, error) {
	fr := newFrameReader(f, size, 256<<10)
	fr.seek(off)
	return walkVerified(fr, &r.v, size, live, fmt.Sprintf("cat %q", path), nil,
		func(_ int64, text []byte) error { return r.emit(out, text, path) },
		func(s Skip) { s.Path = path; r.skip(s) })
}

// walkVerified walks the frames from fr's position, handing each data
// frame that verifies to data (its offset and text; an error from data
// stops the walk at that frame) and passing skippable frames over. Damage
// is handed to skip, and the walk goes on at the next frame that verifies;
// a frame cut at the end of a live segment (or a cut trailer) ends the
// walk there, as the end of what is written so far. more, when not nil,
// is asked before each frame. It returns the offset after the last frame
// consumed; op names the walk in errors.
func walkVerified(fr *frameReader, v *verifier, size int64, live bool, op string, more func() bool, data func(start int64, text []byte) error, skip func(Skip)) (int64, error) {
	for more == nil || more() {
		start := fr.pos
		kind, err := fr.next()
		if err == io.EOF {
			return start, nil
		}
		if err == nil && kind == frameData {
			var text []byte
			if text, err = v.decode(fr); err == nil {
				if err := data(start, text); err != nil {
					return start, err
				}
				continue
			}
		}
		if err == nil {
			continue // a skippable frame: the header or the trailer
		}
		if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
			return start, fmt.Errorf("segment: %s: %w", op, err)
		}
		// Damage at start, or a frame still being written.
		next, found, rerr := resyncVerified(fr, start+1, func(fr *frameReader) error {
			_, err := v.decode(fr)
			return err
		})
		if rerr != nil {
			return start, fmt.Errorf("segment: %s: %w", op, rerr)
		}
		if !found {
			if errors.Is(err, errTorn) && (live || kind == frameSkippable) {
				// The end of a segment being written, or a cut trailer:
				// nothing after it, nothing lost.
				return start, nil
			}
			next = size
		}
		skip(Skip{Offset: start, Bytes: next - start, Reason: err})
		if !found {
			return size, nil
		}
		fr.seek(next)
	}
	return fr.pos, nil
}

// resyncVerified finds the first offset at or after off where a frame
// parses and, for a data frame, passes verify. It leaves fr positioned
// anywhere.
func resyncVerified(fr *frameReader, off int64, verify func(*frameReader) error) (int64, bool, error) {
	for {
		cand, ok, err := fr.resync(off)
		if err != nil || !ok {
			return 0, false, err
		}
		fr.seek(cand)
		kind, err := fr.next()
		if err == nil && kind == frameData {
			err = verify(fr)
		}
		if err == nil {
			return cand, true, nil
		}
		off = cand + 1
	}
}

// catPlain copies the selected lines of a plain segment from off. For a
// live segment a last line without newline is left for later.
func (r *Reader) catPlain(out io.Writer, f *os.File, path string, off int64, live bool) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, fmt.Errorf("segment: cat %q: %w", path, err)
	}
	br := bufio.NewReaderSize(f, 256<<10)
	keep, partial := false, false
	for {
		line, err := br.ReadSlice('\n')
		if err == io.EOF && live && len(line) > 0 && !partial {
			return off, nil // a line still being written
		}
		if len(line) > 0 {
			if !partial {
				keep = r.Filter.IsZero()
				if !keep {
					ms, serial, ok := record.LineHeader(line)
					keep = ok && r.Filter.Match(ms, serial)
				}
			}
			if keep {
				if err := writeOut(out, line, path); err != nil {
					return off, err
				}
			}
			off += int64(len(line))
			partial = err == bufio.ErrBufferFull
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return off, nil
		default:
			return off, fmt.Errorf("segment: cat %q: %w", path, err)
		}
	}
}

// IsZstd reports whether path names a zstd segment: by its name, ending
// in .zst (Cat, CatFiltered, Follow, ReadIndex, ScanIndex and Repair all
// decide with it).
func IsZstd(path string) bool { return strings.HasSuffix(path, ".zst") }

// Select expands the paths given to `auditdrain cat`: a directory stands
// for its segments in write order (List), a file for itself. A directory
// without segments is an error naming it; if it holds auditd's own logs
// (audit.log, audit.log.1, ...), the error says so.
func Select(paths ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		segs, err := List(p)
		if err != nil {
			return nil, err
		}
		if len(segs) == 0 {
			return nil, noSegments(p)
		}
		files = append(files, segs...)
	}
	return files, nil
}

// ErrNoSegments is wrapped by Select and Follow for a directory without
// segments.
var ErrNoSegments = errors.New("no auditdrain segments")

func noSegments(dir string) error {
	plain, _ := filepath.Glob(filepath.Join(dir, "audit.log*"))
	if len(plain) > 0 {
		return fmt.Errorf("%w in %s (it holds %s: those are auditd's plain text logs, read them with cat or ausearch directly)",
			ErrNoSegments, dir, strings.Join(baseNames(plain), ", "))
	}
	return fmt.Errorf("%w in %s", ErrNoSegments, dir)
}

func baseNames(paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}
