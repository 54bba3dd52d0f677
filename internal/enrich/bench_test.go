package enrich

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/klauspost/compress/zstd"

	"github.com/auditdrain/auditdrain/internal/record"
)

// typicalRecords are the captured SYSCALL, CWD, PATH and PROCTITLE records:
// what a syscall rule's events are made of.
func typicalRecords(b *testing.B) []rec {
	var out []rec
	for _, r := range readRecords(b, capturedRecords) {
		switch r.Type {
		case record.TypeSyscall, 1302, 1307, 1327: // SYSCALL, PATH, CWD, PROCTITLE
			out = append(out, r)
		}
	}
	if len(out) < 1000 {
		b.Fatalf("only %d typical records", len(out))
	}
	return out
}

func benchEnricher() *Enricher {
	return New(Options{Passwd: capturedPasswd, Group: capturedGroup, Machine: "x86_64"})
}

// BenchmarkRaw is the RAW line formatting alone (the writer's formatter
// does the same work), per record.
func BenchmarkRaw(b *testing.B) {
	recs := typicalRecords(b)
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		r := recs[i%len(recs)]
		buf = rawLine(buf[:0], r.Type, r.Payload)
	}
	reportCPU(b, cpu)
}

// cpuTime is the process's user and system CPU time. The benchmarks report
// it per record (cpu-ns/op) beside the wall time, which on a shared machine
// also counts the time other processes held the CPU.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAppend is Append alone, with warm caches.
func BenchmarkAppend(b *testing.B) {
	recs := typicalRecords(b)
	e := benchEnricher()
	buf := make([]byte, 0, 1<<16)
	for _, r := range recs {
		buf = e.Append(buf[:0], r.Type, r.Payload) // warm the name caches
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		r := recs[i%len(recs)]
		buf = e.Append(buf[:0], r.Type, r.Payload)
	}
	reportCPU(b, cpu)
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// BenchmarkCost measures RAW and ENRICHED side by side on one locked
// thread, alternating passes over the typical records so both see the same
// machine: each iteration formats every record as RAW lines and then as
// ENRICHED lines, each pass followed by zstd (fastest) over its text, as
// the writer would compress it. It reports thread CPU per record for the
// formatting alone (raw-fmt, enr-fmt) and with compression (raw-w, enr-w),
// each the fastest pass seen (on a shared machine the mean mostly measures
// the neighbours), and the overhead of ENRICHED in percent.
func BenchmarkCost(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	recs := typicalRecords(b)
	e := benchEnricher()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		b.Fatal(err)
	}
	text := make([]byte, 0, 1<<20)
	out := make([]byte, 0, 1<<20)
	pass := func(e *Enricher) (format, total time.Duration) {
		t0 := threadCPU()
		text = text[:0]
		for _, r := range recs {
			text = rawLine(text, r.Type, r.Payload)
			if e != nil {
				text = e.Append(text, r.Type, r.Payload)
			}
			text = append(text, '\n')
		}
		t1 := threadCPU()
		out = enc.EncodeAll(text, out[:0])
		t2 := threadCPU()
		return t1 - t0, t2 - t0
	}
	pass(nil)
	pass(e)
	const forever = time.Hour
	rawF, rawT, enrF, enrT := forever, forever, forever, forever
	b.ReportAllocs()
	for b.Loop() {
		f, t := pass(nil)
		rawF, rawT = min(rawF, f), min(rawT, t)
		f, t = pass(e)
		enrF, enrT = min(enrF, f), min(enrT, t)
	}
	n := float64(len(recs))
	b.ReportMetric(float64(rawF)/n, "raw-fmt-ns/rec")
	b.ReportMetric(float64(enrF)/n, "enr-fmt-ns/rec")
	b.ReportMetric(float64(rawT)/n, "raw-w-ns/rec")
	b.ReportMetric(float64(enrT)/n, "enr-w-ns/rec")
	b.ReportMetric(100*float64(enrT-rawT)/float64(rawT), "w-overhead-%")
}

// BenchmarkAppendByType is Append, and the RAW formatting, on the captured
// records of one type, reporting the fastest pass's thread CPU per record.
func BenchmarkAppendByType(b *testing.B) {
	all := typicalRecords(b)
	for _, typ := range []uint16{1300, 1302, 1307, 1327} {
		var recs []rec
		for _, r := range all {
			if r.Type == typ {
				recs = append(recs, r)
			}
		}
		run := func(b *testing.B, f func(dst []byte, r rec) []byte) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			buf := make([]byte, 0, 1<<16)
			for _, r := range recs {
				buf = f(buf[:0], r) // warm the caches
			}
			best := time.Hour
			b.ReportAllocs()
			for b.Loop() {
				t0 := threadCPU()
				for _, r := range recs {
					buf = f(buf[:0], r)
				}
				best = min(best, threadCPU()-t0)
			}
			b.ReportMetric(float64(best)/float64(len(recs)), "min-ns/rec")
		}
		b.Run(record.TypeName(typ), func(b *testing.B) {
			e := benchEnricher()
			run(b, func(dst []byte, r rec) []byte { return e.Append(dst, r.Type, r.Payload) })
		})
		b.Run(record.TypeName(typ)+"-raw", func(b *testing.B) {
			run(b, func(dst []byte, r rec) []byte { return rawLine(dst, r.Type, r.Payload) })
		})
	}
}
