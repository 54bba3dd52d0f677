package writer

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// newEncoder returns an encoder for one compressor goroutine: single
// threaded, content checksum on, used only through EncodeAll.
func newEncoder(level zstd.EncoderLevel) (*zstd.Encoder, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
	)
	if err != nil {
		return nil, fmt.Errorf("writer: create zstd encoder (level %v): %w", level, err)
	}
	return enc, nil
}

// compressLoop is one compressor goroutine: it turns each batch it is
// handed into one complete zstd frame, in the batch's reused out buffer,
// and signals the batch's done channel. Batches are taken in any order;
// the appender restores seal order.
func (w *Writer) compressLoop(enc *zstd.Encoder) {
	defer w.workers.Done()
	for b := range w.work {
		b.out, b.err = encodeFrame(enc, b.text, b.out[:0])
		b.done <- struct{}{}
	}
}

// encodeFrame compresses src into one frame appended to dst. The encoder
// panics on internal errors; that becomes an error here.
func encodeFrame(enc *zstd.Encoder, src, dst []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = dst, fmt.Errorf("writer: zstd encoder failed on a %d-byte batch: %v", len(src), r)
		}
	}()
	return enc.EncodeAll(src, dst), nil
}
