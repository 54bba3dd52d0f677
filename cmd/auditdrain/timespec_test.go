package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// --since/--until against ausearch itself: records stamped around each
// boundary (midnights, the hour, week and month starts, a named second,
// now), then for each keyword and format the records ausearch -ts/-te
// selects from them and the records auditdrain's Filter selects.
func TestTimeSpecMatchesAusearch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ausearch (-short)")
	}
	ausearch, err := exec.LookPath("ausearch")
	if err != nil {
		t.Fatal("ausearch is needed (apt-get install -y auditd)")
	}
	now := time.Now()
	if now.Local().Hour() == 0 && now.Minute() < 2 || now.Minute() == 59 && now.Second() > 50 {
		time.Sleep(15 * time.Second) // not across midnight or an hour
		now = time.Now()
	}
	loc := now.Local()
	day := func(d int) time.Time { // local midnight d days before today
		y, m, dd := loc.Add(-time.Duration(d) * 24 * time.Hour).Date()
		return time.Date(y, m, dd, 0, 0, 0, 0, time.Local)
	}
	named := day(0).Add(5*time.Hour + 7*time.Second)
	type point struct {
		name string
		at   time.Time
	}
	var pts []point
	around := func(name string, b time.Time, offs ...time.Duration) {
		for _, o := range offs {
			pts = append(pts, point{fmt.Sprintf("%s%+dms", name, o.Milliseconds()), b.Add(o)})
		}
	}
	edge := []time.Duration{-time.Second, -time.Millisecond, 0, 999 * time.Millisecond, time.Second}
	for d := range 9 {
		around(fmt.Sprintf("day-%d", d), day(d), edge...)
	}
	around("month", time.Date(loc.Year(), loc.Month(), 1, 0, 0, 0, 0, time.Local), edge...)
	around("year", time.Date(loc.Year(), 1, 1, 0, 0, 0, 0, time.Local), edge...)
	around("named", named, edge...)
	around("now", now, -3*time.Second, 3*time.Second)
	around("recent", now.Add(-10*time.Minute), -3*time.Second, 3*time.Second)
	around("nowtod-yesterday", day(1).Add(now.Sub(day(0))), -60*time.Second, 60*time.Second)
	boot, err := bootTime()
	if err != nil {
		t.Fatal(err)
	}
	around("boot", boot, -3*time.Second, 3*time.Second)
	slices.SortFunc(pts, func(a, b point) int { return a.at.Compare(b.at) })

	log := filepath.Join(t.TempDir(), "audit.log")
	var text strings.Builder
	for i, p := range pts {
		ms := p.at.UnixMilli()
		fmt.Fprintf(&text, "type=USER msg=audit(%d.%03d:%d): pid=1 uid=0 auid=0 ses=1 msg='op=%s res=success'\n", ms/1000, ms%1000, i+1, p.name)
	}
	if err := os.WriteFile(log, []byte(text.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dayArg := func(d int) string { return day(d).Format("01/02/06") }
	for _, tc := range []struct {
		spec string   // for --since/--until
		args []string // ausearch's
	}{
		{"now", []string{"now"}}, {"recent", []string{"recent"}}, {"boot", []string{"boot"}},
		{"today", []string{"today"}}, {"yesterday", []string{"yesterday"}},
		{"this-week", []string{"this-week"}}, {"week-ago", []string{"week-ago"}},
		{"this-month", []string{"this-month"}}, {"this-year", []string{"this-year"}},
		{dayArg(0), []string{dayArg(0)}}, {dayArg(1), []string{dayArg(1)}},
		{day(1).Format("2006-01-02"), []string{dayArg(1)}},
		{named.Format("01/02/06 15:04:05"), []string{named.Format("01/02/06"), named.Format("15:04:05")}},
		{named.Format("2006-01-02 15:04:05"), []string{named.Format("01/02/06"), named.Format("15:04:05")}},
		{named.Format("15:04:05"), []string{named.Format("15:04:05")}},
	} {
		for _, end := range []bool{false, true} {
			flag := "-ts"
			if end {
				flag = "-te"
			}
			cmd := exec.Command(ausearch, append([]string{"-if", log, "--raw", flag}, tc.args...)...)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			out, _ := cmd.CombinedOutput() // exit 1 when nothing matches
			var want []string
			for _, l := range strings.Split(string(out), "\n") {
				if _, rest, ok := strings.Cut(l, "op="); ok {
					want = append(want, strings.Fields(rest)[0])
				} else if strings.TrimSpace(l) != "" && !strings.Contains(l, "<no matches>") {
					t.Fatalf("ausearch %s %v: %s", flag, tc.args, out)
				}
			}
			b, err := parseTimeSpec(tc.spec, end, time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			f := segment.Filter{Since: b}
			if end {
				f = segment.Filter{Until: b}
			}
			var got []string
			for i, p := range pts {
				if f.Match(p.at.UnixMilli(), uint64(i+1)) {
					got = append(got, p.name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %q:\n auditdrain %v\n ausearch   %v", flag, tc.spec, got, want)
			}
		}
	}
}

func TestTimeSpec(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 15, 250e6, time.Local) // a Wednesday
	boot := func() (time.Time, error) { return time.Date(2026, 12, 2, 8, 0, 1, 0, time.Local), nil }
	d := func(m time.Month, day, h, min, s, ms int) time.Time {
		return time.Date(2026, m, day, h, min, s, ms*1e6, time.Local)
	}
	for _, tc := range []struct {
		spec string
		end  bool
		want time.Time
	}{
		{"now", false, d(12, 2, 9, 30, 15, 0)},
		{"now", true, d(12, 2, 9, 30, 15, 999)},
		{"recent", false, d(12, 2, 9, 20, 15, 0)},
		{"this-hour", false, d(12, 2, 9, 0, 0, 0)},
		{"this-hour", true, d(12, 2, 9, 0, 0, 999)},
		{"boot", false, d(12, 2, 8, 0, 1, 0)},
		{"today", false, d(12, 2, 0, 0, 0, 0)},
		{"today", true, d(12, 2, 9, 30, 15, 999)},
		{"yesterday", false, d(12, 1, 0, 0, 0, 0)},
		{"yesterday", true, d(12, 1, 0, 0, 0, 999)},
		{"this-week", false, d(11, 29, 0, 0, 0, 0)}, // Sunday
		{"week-ago", false, d(11, 25, 0, 0, 0, 0)},
		{"this-month", false, d(12, 1, 0, 0, 0, 0)},
		{"this-year", false, time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local)},
		{"2026-11-25 20:08:01", true, d(11, 25, 20, 8, 1, 999)},
		{"2026-11-25 20:08:01", false, d(11, 25, 20, 8, 1, 0)},
		{"11/25/26 20:08:01", true, d(11, 25, 20, 8, 1, 999)},
		{"2026-11-25", false, d(11, 25, 0, 0, 0, 0)},
		{"2026-11-25", true, d(11, 25, 9, 30, 15, 999)}, // ausearch: the time omitted is now
		{"20:08:01", true, d(12, 2, 20, 8, 1, 999)},
		{"1795637279", true, time.UnixMilli(1795637279999)},
		{"1795637279.231", true, time.UnixMilli(1795637279231)},
		{"2026-11-25T20:08:01Z", true, time.UnixMilli(time.Date(2026, 11, 25, 20, 8, 1, 999e6, time.UTC).UnixMilli())},
		{"2026-11-25T20:08:01.5Z", true, time.Date(2026, 11, 25, 20, 8, 1, 500e6, time.UTC)},
	} {
		got, err := parseTimeSpec(tc.spec, tc.end, now, boot)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimeSpec(%q, end=%v) = %v, %v; want %v", tc.spec, tc.end, got, err, tc.want)
		}
	}
	for _, bad := range []string{"tomorrow", "2026-13-01", "x", "-5", "NaN"} {
		if _, err := parseTimeSpec(bad, false, now, boot); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("parseTimeSpec(%q): %v", bad, err)
		}
	}
}
