package segment

// Stamps summarizes the audit(SECONDS.MILLIS:SERIAL) headers of a run
// of records: first and last in order, smallest and largest, times in Unix
// milliseconds. N counts the records that had one; the other fields are
// zero while N is 0.
type Stamps struct {
	N                       uint64
	FirstSerial, LastSerial uint64
	MinSerial, MaxSerial    uint64
	FirstMs, LastMs         int64
	MinMs, MaxMs            int64
}

// Add counts one more record, stamped (ms, serial), after the others.
func (r *Stamps) Add(ms int64, serial uint64) {
	if r.N == 0 {
		r.FirstSerial, r.MinSerial, r.MaxSerial = serial, serial, serial
		r.FirstMs, r.MinMs, r.MaxMs = ms, ms, ms
	}
	r.N++
	r.LastSerial, r.LastMs = serial, ms
	r.MinSerial, r.MaxSerial = min(r.MinSerial, serial), max(r.MaxSerial, serial)
	r.MinMs, r.MaxMs = min(r.MinMs, ms), max(r.MaxMs, ms)
}

// Merge appends the records summarized by o after those of r.
func (r *Stamps) Merge(o Stamps) {
	if o.N == 0 {
		return
	}
	if r.N == 0 {
		*r = o
		return
	}
	r.N += o.N
	r.LastSerial, r.LastMs = o.LastSerial, o.LastMs
	r.MinSerial, r.MaxSerial = min(r.MinSerial, o.MinSerial), max(r.MaxSerial, o.MaxSerial)
	r.MinMs, r.MaxMs = min(r.MinMs, o.MinMs), max(r.MaxMs, o.MaxMs)
}
