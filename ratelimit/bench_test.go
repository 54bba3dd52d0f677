package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// serialTemplate is an event's records with a fixed-width serial that the
// benchmark rewrites in place for every event, so the serial table sees new
// events as it would in production.
type serialTemplate struct {
	types []uint16
	recs  [][]byte
}

const serialWidth = 10

func newSerialTemplate(types []uint16, key string) *serialTemplate {
	st := &serialTemplate{types: types}
	for _, typ := range types {
		p := payload(typ, 0, key)
		// "audit(1795637279.731:0): " -> a 10-digit serial.
		p = append([]byte(fmt.Sprintf("audit(1795637279.731:%0*d", serialWidth, 0)), p[len("audit(1795637279.731:0"):]...)
		st.recs = append(st.recs, p)
	}
	return st
}

func (st *serialTemplate) setSerial(serial uint32) {
	const end = len("audit(1795637279.731:") + serialWidth
	for _, p := range st.recs {
		s := serial
		for i := end - 1; i >= end-serialWidth; i-- {
			p[i] = byte('0' + s%10)
			s /= 10
		}
	}
}

// BenchmarkAllow measures one record per op on the drain goroutine's path.
// Events of 3 records arrive every 20 µs of fake time (50,000 events/s).
func BenchmarkAllow(b *testing.B) {
	noisy := []Rule{{Key: "noisy", Rate: 1000, Burst: 1000}, {Key: "medium", Rate: 10000, Burst: 1000}}
	cases := []struct {
		name string
		cfg  Config
		key  string
	}{
		{"noisy-key-mostly-suppressed", Config{Rules: noisy}, "noisy"},
		{"unlisted-key-no-default", Config{Rules: noisy}, "other"},
		{"null-key-default-limited", Config{Rules: noisy, Default: &Rule{Rate: 1000, Burst: 1000}}, ""},
		{"multi-key-hex", Config{Rules: noisy}, "other\x01noisy"},
		{"no-rules", Config{}, "noisy"},
	}
	types := []uint16{tSyscall, tPath, tProctitle}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			l := mustNew(b, c.cfg)
			st := newSerialTemplate(types, c.key)
			base := time.Now()
			var serial uint32 = 1
			st.setSerial(serial)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i == len(types) {
					i = 0
					serial++
					st.setSerial(serial)
				}
				l.Allow(base.Add(time.Duration(serial)*20*time.Microsecond), st.types[i], st.recs[i])
				i++
			}
			s := statsMap(l)
			var allowed, total uint64
			for _, ks := range s {
				allowed += ks.Allowed
				total += ks.Allowed + ks.Suppressed
			}
			b.ReportMetric(float64(allowed)/float64(total)*100, "%kept")
		})
	}
}
