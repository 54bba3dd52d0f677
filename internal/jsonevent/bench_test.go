package jsonevent

import (
	"testing"
)

// capturedEvents assembles the captured kernel records into their 327
// events.
func capturedEvents(b *testing.B) []*Event {
	var evs []*Event
	a := collect(AssemblerOptions{}, &evs)
	for _, r := range loadRecords(b) {
		if err := a.AddRecord(r.Type, r.Payload); err != nil {
			b.Fatal(err)
		}
	}
	a.Flush()
	return evs
}

// BenchmarkEncode measures encoding one event of the capture (on average
// 4.6 records: execs, opens, connects, rule changes), per event.
func BenchmarkEncode(b *testing.B) {
	for _, bc := range []struct {
		name string
		opt  Options
	}{{"raw", Options{}}, {"omitraw", Options{OmitRaw: true}}, {"resolve", Options{ResolveIDs: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			evs := capturedEvents(b)
			enc := NewEncoder(bc.opt)
			var buf []byte
			var in, out int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ev := evs[i%len(evs)]
				buf = enc.AppendEvent(buf[:0], ev)
				out += len(buf)
				for _, r := range ev.Records {
					in += len(r.Payload)
				}
			}
			b.ReportMetric(float64(out)/float64(b.N), "B-json/event")
			b.ReportMetric(float64(out)/float64(in), "json/payload")
		})
	}
}

// BenchmarkAssemble measures grouping, per record.
func BenchmarkAssemble(b *testing.B) {
	recs := loadRecords(b)
	n := 0
	a := NewAssembler(AssemblerOptions{}, func(*Event) { n++ })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		if err := a.AddRecord(r.Type, r.Payload); err != nil {
			b.Fatal(err)
		}
	}
	a.Flush()
}
