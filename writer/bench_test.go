package writer

import (
	"testing"
	"time"
)

// BenchmarkAppend measures the whole pipeline through Append (which blocks
// when compressors or the disk fall behind) with realistic ~300-byte
// SYSCALL/CWD/PATH/PROCTITLE/EOE records, default batch size, fsync every
// second. MB/s counts formatted text; "ratio" is text bytes / bytes on
// disk.
func BenchmarkAppend(b *testing.B) {
	recs := genEvents(60000, 99)
	var text int
	for _, r := range recs {
		text += len(r.payload)
	}
	for _, c := range []struct{ name, comp, level string }{
		{"zstd-fastest", "zstd", "fastest"},
		{"zstd-default", "zstd", "default"},
		{"zstd-better", "zstd", "better"},
		{"none", "none", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			w, err := Open(Config{Dir: b.TempDir(), Compression: c.comp, Level: c.level, LogGroup: -1, FsyncInterval: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(text/len(recs)) + int64(len("type=SYSCALL msg=\n")))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := recs[i%len(recs)]
				if err := w.Append(r.typ, r.payload); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := w.Stats()
			b.ReportMetric(float64(st.BytesIn)/float64(st.BytesOut), "ratio")
		})
	}
}

// BenchmarkFormat is the formatting cost alone.
func BenchmarkFormat(b *testing.B) {
	recs := genEvents(1000, 3)
	f := newFormatter("")
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	b.SetBytes(300)
	for i := 0; i < b.N; i++ {
		if len(buf) > 60000 {
			buf = buf[:0]
		}
		r := recs[i%len(recs)]
		buf = f.appendLine(buf, r.typ, r.payload)
	}
}
