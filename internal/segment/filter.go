package segment

import "time"

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
