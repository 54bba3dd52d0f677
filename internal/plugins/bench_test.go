package plugins

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDispatch measures Dispatch per record (b.N records) with no
// plugin, a stuck one (`sleep infinity`: every record after its queue filled
// is a drop), one that reads everything (`cat`), and the three of a stuck
// and two readers. lost/op is the fraction of records the plugins lost.
func BenchmarkDispatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfgs []Config
	}{
		{"plugins=0", nil},
		{"stuck", []Config{execConfig("stuck", "/usr/bin/sleep", "infinity")}},
		{"reader", []Config{execConfig("cat", "/usr/bin/cat")}},
		{"stuck+2readers", []Config{execConfig("stuck", "/usr/bin/sleep", "infinity"), execConfig("cat1", "/usr/bin/cat"), execConfig("cat2", "/usr/bin/cat")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := New(bc.cfgs, Options{Overflow: OverflowIgnore})
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Start(); err != nil {
				b.Fatal(err)
			}
			defer stopDispatcher(b, d)
			waitFor(b, 5*time.Second, "plugins running", func() (bool, string) {
				for _, s := range d.Stats() {
					if s.State != StateRunning {
						return false, fmt.Sprintf("%+v", s)
					}
				}
				return true, ""
			})
			recs := make([][]byte, 64)
			for i := range recs {
				_, recs[i] = kernelRecord(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				d.Dispatch(1300, recs[i&63])
			}
			b.StopTimer()
			var lost uint64
			for _, s := range d.Stats() {
				lost += s.Lost
			}
			if len(bc.cfgs) > 0 {
				b.ReportMetric(float64(lost)/float64(b.N)/float64(len(bc.cfgs)), "lost/op")
			}
		})
	}
}

// BenchmarkDispatchPaced measures the push path: one plugin that reads
// everything (`cat`), and the benchmark waits (timer stopped) for its queue
// to empty every 1000 records, so that no record is dropped.
func BenchmarkDispatchPaced(b *testing.B) {
	d, err := New([]Config{execConfig("cat", "/usr/bin/cat")}, Options{Overflow: OverflowIgnore, Log: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopDispatcher(b, d)
	recs := make([][]byte, 64)
	for i := range recs {
		_, recs[i] = kernelRecord(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%1000 == 0 {
			b.StopTimer()
			waitFor(b, 10*time.Second, "the queue to empty", func() (bool, string) {
				s := stat(d, "cat")
				return s.QueueDepth == 0, fmt.Sprintf("%+v", s)
			})
			b.StartTimer()
		}
		d.Dispatch(1300, recs[i&63])
	}
	b.StopTimer()
	if s := stat(d, "cat"); s.Lost != 0 {
		b.Errorf("%d records lost: %+v", s.Lost, s)
	}
}
