package segment

import (
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v) }
	f := func(flt Filter, at int64, serial uint64, want bool) {
		t.Helper()
		if got := flt.Match(at, serial); got != want {
			t.Errorf("%+v.Match(%d, %d) = %v", flt, at, serial, got)
		}
	}
	f(Filter{}, 5, 5, true)
	f(Filter{Since: ms(10)}, 10, 0, true)
	f(Filter{Since: ms(10)}, 9, 0, false)
	f(Filter{Until: ms(10)}, 10, 0, true)
	f(Filter{Until: ms(10)}, 11, 0, false)
	f(Filter{SerialMin: 3, SerialMax: 4}, 0, 4, true)
	f(Filter{SerialMin: 3, SerialMax: 4}, 0, 5, false)
	f(Filter{SerialMin: 3}, 0, 1<<60, true)
	f(Filter{SerialMin: 3}, 0, 2, false)
}
