package segment

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/klauspost/compress/zstd"
)

// Filter selects records by their kernel header, audit(SECONDS.MILLIS:SERIAL).
// Zero fields do not restrict. Bounds are inclusive; times compare at
// millisecond precision (the kernel's).
type Filter struct {
	Since, Until         time.Time
	SerialMin, SerialMax uint64 // SerialMax 0: no upper bound
}

// IsZero reports whether f selects every record.
func (f Filter) IsZero() bool {
	return f.Since.IsZero() && f.Until.IsZero() && f.SerialMin == 0 && f.SerialMax == 0
}

// Match reports whether a record stamped (ms, serial) is selected.
func (f Filter) Match(ms int64, serial uint64) bool {
	return (f.Since.IsZero() || ms >= f.Since.UnixMilli()) &&
		(f.Until.IsZero() || ms <= f.Until.UnixMilli()) &&
		serial >= f.SerialMin && (f.SerialMax == 0 || serial <= f.SerialMax)
}

// overlaps reports whether a segment indexed by x may hold a selected
// record.
func (f Filter) overlaps(x Index) bool {
	if x.Stamped == 0 {
		return false
	}
	return (f.Since.IsZero() || x.MaxTime.UnixMilli() >= f.Since.UnixMilli()) &&
		(f.Until.IsZero() || x.MinTime.UnixMilli() <= f.Until.UnixMilli()) &&
		x.MaxSerial >= f.SerialMin && (f.SerialMax == 0 || x.MinSerial <= f.SerialMax)
}

// CatFiltered writes the lines of the segments, in the order given, whose
// header matches f. A zstd segment with an index trailer whose ranges
// cannot match is skipped after reading only its trailer (one read of its
// last bytes, nothing decompressed); any other segment (no trailer: crash,
// or plain) is read and filtered line by line. A line without an
// audit(...) header matches only the zero Filter. With the zero Filter it
// is Cat. Errors are as Cat's.
func CatFiltered(out io.Writer, f Filter, paths ...string) error {
	if f.IsZero() {
		return Cat(out, paths...)
	}
	var dec *zstd.Decoder
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	bw := bufio.NewWriterSize(out, 256<<10)
	ow := &outWriter{w: bw}
	br := bufio.NewReaderSize(nil, 256<<10)
	for _, path := range paths {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("segment: cat: %w", err)
		}
		var r io.Reader = file
		if strings.HasSuffix(path, extZstd) {
			if x, err := readIndex(file, path); err == nil && !f.overlaps(x) {
				file.Close()
				continue
			}
			if dec == nil {
				dec, err = zstd.NewReader(file, zstd.WithDecoderConcurrency(1))
			} else {
				err = dec.Reset(file)
			}
			if err != nil {
				file.Close()
				return fmt.Errorf("segment: cat %q: %w: %w", path, ErrCorrupt, err)
			}
			r = dec
		}
		br.Reset(r)
		err = filterLines(ow, br, f)
		file.Close()
		switch {
		case err == nil:
		case ow.err != nil && errors.Is(err, ow.err):
			return fmt.Errorf("segment: cat %q: write output: %w", path, err)
		case strings.HasSuffix(path, extZstd):
			return fmt.Errorf("segment: cat %q: %w: %w", path, ErrCorrupt, err)
		default:
			return fmt.Errorf("segment: cat %q: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("segment: cat: write output: %w", err)
	}
	return nil
}

// filterLines copies the lines of br that match f to out. A line longer
// than br's buffer is judged by its beginning, where the header is.
func filterLines(out io.Writer, br *bufio.Reader, f Filter) error {
	keep := false
	partial := false // inside a long line
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if !partial {
				ms, serial, ok := record.LineHeader(line)
				keep = ok && f.Match(ms, serial)
			}
			if keep {
				if _, werr := out.Write(line); werr != nil {
					return werr
				}
			}
			partial = err == bufio.ErrBufferFull
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}
