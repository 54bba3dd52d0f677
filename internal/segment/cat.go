package segment

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Cat writes the text of each segment to out, in the order given (use
// Segments for write order): decompressed for *.zst files (streaming;
// skippable frames are skipped), copied for plain ones. The error names the
// file; a decoding failure wraps ErrCorrupt. Output of a file that fails
// part way has been written up to the failure.
func Cat(out io.Writer, paths ...string) error {
	var dec *zstd.Decoder
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	ow := &outWriter{w: out}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("segment: cat: %w", err)
		}
		if !strings.HasSuffix(path, ".zst") {
			_, err = io.Copy(ow, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("segment: cat %q: %w", path, err)
			}
			continue
		}
		if dec == nil {
			dec, err = zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		} else {
			err = dec.Reset(f)
		}
		if err == nil {
			_, err = io.Copy(ow, dec)
		}
		f.Close()
		switch {
		case err == nil:
		case ow.err != nil && errors.Is(err, ow.err):
			return fmt.Errorf("segment: cat %q: write output: %w", path, err)
		default:
			return fmt.Errorf("segment: cat %q: %w: %w", path, ErrCorrupt, err)
		}
	}
	return nil
}

// outWriter remembers the error of the destination, to tell it from a
// decoding error.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}
