package pipeline

import (
	"strings"
	"testing"
	"time"
)

func TestCauseNames(t *testing.T) {
	seen := map[string]Cause{}
	for c := range NumCauses {
		name := c.String()
		if name == "" || strings.ContainsAny(name, " =") {
			t.Errorf("cause %d has name %q", c, name)
		}
		if d, dup := seen[name]; dup {
			t.Errorf("causes %d and %d are both %q", d, c, name)
		}
		seen[name] = c
	}
	if got := NumCauses.String(); got != "cause(10)" {
		t.Errorf("NumCauses.String() = %q", got)
	}
	// The names are the op=lost record's fields, the status JSON keys and
	// the metric's labels: changing one breaks their readers.
	want := "kernel overrun truncated dropped oversized ratelimited gap disk sockdrop forward"
	var got []string
	for c := range NumCauses {
		got = append(got, c.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("causes %q, want %q", got, want)
	}
}

func TestLosses(t *testing.T) {
	var zero Losses
	l := Losses{CauseKernel: 3, CauseDropped: 5, CauseGap: 7, CauseSockDrop: 1}
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"all", string(l.AppendText(nil, false)), "kernel=3 overrun=0 truncated=0 dropped=5 oversized=0 ratelimited=0 gap=7 disk=0 sockdrop=1 forward=0"},
		{"String", l.String(), "kernel=3 overrun=0 truncated=0 dropped=5 oversized=0 ratelimited=0 gap=7 disk=0 sockdrop=1 forward=0"},
		{"omit zero", string(l.AppendText(nil, true)), "kernel=3 dropped=5 gap=7 sockdrop=1"},
		{"omit zero, none", string(zero.AppendText(nil, true)), "none"},
		{"zero, all", string(zero.AppendText(nil, false)), "kernel=0 overrun=0 truncated=0 dropped=0 oversized=0 ratelimited=0 gap=0 disk=0 sockdrop=0 forward=0"},
		{"appends", string(Losses{CauseDisk: 2}.AppendText([]byte("x: "), true)), "x: disk=2"},
		{"appends none", string(zero.AppendText([]byte("x: "), true)), "x: none"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if l.Total() != 9 {
		t.Errorf("Total = %d, want 9 (gaps are not certain loss)", l.Total())
	}
	if !l.Any() || zero.Any() || !(Losses{CauseGap: 1}).Any() {
		t.Error("Any")
	}
	later := l
	later[CauseDropped] += 10
	later[CauseDisk] += 1
	if d := later.Sub(l); d != (Losses{CauseDropped: 10, CauseDisk: 1}) {
		t.Errorf("Sub = %v", d)
	}
	m := l.Map()
	if len(m) != int(NumCauses) || m["dropped"] != 5 || m["gap"] != 7 || m["disk"] != 0 {
		t.Errorf("Map = %v", m)
	}
}

func TestRecordText(t *testing.T) {
	ms := time.UnixMilli(1795636980007).UnixMilli()
	for _, tc := range []struct {
		name, got, want string
	}{
		{"lost", string(AppendLossRecord(nil, ms, Losses{CauseKernel: 1, CauseRateLimited: 4}, 250)),
			"audit(1795636980.007:0): op=lost kernel=1 overrun=0 truncated=0 dropped=0 oversized=0 ratelimited=4 gap=0 disk=0 sockdrop=0 forward=0 stall_jiffies=250 res=failed"},
		{"lost, reusing a buffer", string(AppendLossRecord([]byte("old")[:0], ms, Losses{}, 0)),
			"audit(1795636980.007:0): op=lost kernel=0 overrun=0 truncated=0 dropped=0 oversized=0 ratelimited=0 gap=0 disk=0 sockdrop=0 forward=0 stall_jiffies=0 res=failed"},
		{"lost by plugins", string(AppendLossRecord(nil, ms, Losses{}, 0, PluginLoss{"remote.conf", 12}, PluginLoss{"idle.conf", 0}, PluginLoss{"od d:,\"x", 3})),
			`audit(1795636980.007:0): op=lost kernel=0 overrun=0 truncated=0 dropped=0 oversized=0 ratelimited=0 gap=0 disk=0 sockdrop=0 forward=0 plugin=15 plugin_lost="remote.conf:12,od_d___x:3" stall_jiffies=0 res=failed`},
		{"plugins without loss", string(AppendLossRecord(nil, ms, Losses{CauseKernel: 2}, 0, PluginLoss{"remote.conf", 0})),
			"audit(1795636980.007:0): op=lost kernel=2 overrun=0 truncated=0 dropped=0 oversized=0 ratelimited=0 gap=0 disk=0 sockdrop=0 forward=0 stall_jiffies=0 res=failed"},
		{"ratelimit", string(AppendRateLimitRecord(nil, ms, "noisy", 12)),
			`audit(1795636980.007:0): op=ratelimit key="noisy" suppressed=12 res=failed`},
		{"ratelimit, default bucket", string(AppendRateLimitRecord(nil, ms, "", 1)),
			`audit(1795636980.007:0): op=ratelimit key="" suppressed=1 res=failed`},
		{"ratelimit, key quoted", string(AppendRateLimitRecord(nil, ms, "a\"b c", 1)),
			`audit(1795636980.007:0): op=ratelimit key="a\"b c" suppressed=1 res=failed`},
		{"restart", string(AppendRestartRecord(nil, ms, 4294967290, 4294967295)),
			"audit(1795636980.007:0): op=restart prev_last_serial=4294967290 first_serial=4294967295 unseen_serials=4294967291-4294967294 unseen=4 res=failed"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
}
