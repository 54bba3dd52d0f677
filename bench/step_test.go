package bench

import "testing"

func TestNotAudited(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Step
		want bool
	}{
		{"nothing reached the reader", Step{Counted: true, Events: 25000, Records: 8}, true},
		{"some reached it", Step{Counted: true, Events: 25000, OnDisk: 1, Records: 8}, false},
		{"the kernel lost them", Step{Counted: true, Events: 25000, KernelLost: 75000}, false},
		{"too few events to tell", Step{Counted: true, Events: 50}, false},
		{"uncounted reader", Step{Events: 25000}, false},
		{"step already failed", Step{Counted: true, Events: 25000, Error: "x"}, false},
	} {
		if got := tc.s.notAudited(); got != tc.want {
			t.Errorf("%s: notAudited = %v, want %v", tc.name, got, tc.want)
		}
	}
}
