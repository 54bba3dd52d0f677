package writer

import (
	"io"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
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
	for _, c := range []struct{ name, comp, level, format string }{
		{"zstd-fastest", "zstd", "fastest", ""},
		{"zstd-default", "zstd", "default", ""},
		{"zstd-better", "zstd", "better", ""},
		{"none", "none", "", ""},
		// log_format = enriched: names resolved on the drain goroutine
		// (warm caches after the first records).
		{"zstd-fastest-enriched", "zstd", "fastest", FormatEnriched},
		{"none-enriched", "none", "", FormatEnriched},
	} {
		b.Run(c.name, func(b *testing.B) {
			w, err := Open(Config{Dir: b.TempDir(), Compression: c.comp, Level: c.level, Format: c.format, LogGroup: -1, FsyncInterval: time.Second})
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

// BenchmarkDurability drives the writer as the daemon's drain loop does,
// at a paced 100,000 events/s (five records each: SYSCALL, CWD, two PATH,
// PROCTITLE; EOE is not written), calling Tick every millisecond, and
// reports the durability window achieved (age of the oldest record at the
// fsync that made it durable), the fsync latency and the rate achieved.
// One op is one record: run it with -benchtime=Nx, N = 500000 per second.
func BenchmarkDurability(b *testing.B) {
	var recs []rec
	for _, r := range genEvents(72000, 77) {
		if r.typ != 1320 {
			recs = append(recs, r)
		}
	}
	const rate = 500_000 // records/s
	const burst = rate / 1000
	for _, c := range []struct {
		name     string
		flush    string
		interval time.Duration
	}{
		{"interval-1s", FlushInterval, time.Second},
		{"incremental_async", FlushIncrementalAsync, time.Second},
		{"data", FlushData, 0},
		{"sync", FlushSync, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			w, err := Open(Config{Dir: b.TempDir(), LogGroup: -1, Flush: c.flush, FsyncInterval: c.interval, Freq: 50})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if i%burst == 0 {
					due := start.Add(time.Duration(i) * time.Second / rate)
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					w.Tick(time.Now())
				}
				r := recs[i%len(recs)]
				if err := w.Append(r.typ, r.payload); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := w.Stats()
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(ms(st.DurabilityWindow.Quantile(0.5)), "window-p50-ms")
			b.ReportMetric(ms(st.DurabilityWindow.Quantile(0.99)), "window-p99-ms")
			b.ReportMetric(ms(st.DurabilityWindow.Max), "window-max-ms")
			b.ReportMetric(ms(st.FsyncLatency.Quantile(0.99)), "fsync-p99-ms")
			b.ReportMetric(float64(st.Fsyncs), "fsyncs")
			b.ReportMetric(float64(st.Batches), "frames")
		})
	}
}

// BenchmarkCat measures reading segments back (Cat) and filtering them
// (CatFiltered, a range inside one segment of four: the other three are
// skipped by their index). MB/s counts text.
func BenchmarkCat(b *testing.B) {
	dir := b.TempDir()
	w, err := Open(Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second, MaxSegmentBytes: 2 << 20})
	if err != nil {
		b.Fatal(err)
	}
	recs := genEventsAt(200000, 5, 1732564000000)
	appendAll(b, w, recs)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	paths, _ := segment.List(dir)
	text := int64(w.Stats().BytesIn)
	x, _ := segment.ReadIndex(paths[len(paths)/2])
	for _, c := range []struct {
		name string
		f    segment.Filter
	}{
		{"all", segment.Filter{}},
		{"one-segment", segment.Filter{SerialMin: x.MinSerial, SerialMax: x.MinSerial + 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(text)
			for i := 0; i < b.N; i++ {
				if err := segment.CatFiltered(io.Discard, c.f, paths...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(paths)), "segments")
		})
	}
}
