package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// timeKeywords are ausearch's words for --start/--end (ausearch 3.0.9's
// ausearch-time.c, checked against ausearch itself), and this-hour:
//
//	now         now
//	recent      10 minutes ago
//	this-hour   the start of the current hour
//	boot        when the system booted, to the second (now - /proc/uptime)
//	today       midnight today; as an end: now
//	yesterday   midnight of the day 24 hours ago
//	this-week   midnight of the last Sunday (localtime's day 0 of the week;
//	            ausearch takes it from tm_wday whatever the locale)
//	week-ago    midnight of the day 7 days ago
//	this-month  midnight of the 1st of this month
//	this-year   midnight of January 1st
//
// The manual says "1 second after midnight"; ausearch sets 00:00:00, and so
// does this.
var timeKeywords = []string{"now", "recent", "this-hour", "boot", "today", "yesterday", "this-week", "week-ago", "this-month", "this-year"}

// timeLayouts are the date and time formats --since and --until accept
// besides the keywords and epoch seconds: ISO dates, and ausearch's
// (the C locale's %x, MM/DD/YY, or MM/DD/YYYY), each with or without a
// time; and a time alone (today).
var timeLayouts = []struct {
	layout          string
	hasDate, hasSec bool
}{
	{"2006-01-02 15:04:05", true, true},
	{"2006-01-02T15:04:05", true, true},
	{"2006-01-02 15:04", true, false},
	{"2006-01-02", true, false},
	{"01/02/2006 15:04:05", true, true},
	{"01/02/06 15:04:05", true, true},
	{"01/02/2006", true, false},
	{"01/02/06", true, false},
	{"15:04:05", false, true},
	{"15:04", false, false},
}

// parseTimeSpec parses the value of --since (end false) or --until (end
// true), as ausearch's --start and --end do: ausearch compares whole
// seconds, so an end given to the second includes that whole second (the
// bound returned is its last millisecond). A date without time is
// midnight as a start and that day at the current time of day as an end;
// a time without date is today. boot returns the boot time (nil: from
// /proc/uptime). The zero time means no bound (empty s).
func parseTimeSpec(s string, end bool, now time.Time, boot func() (time.Time, error)) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	wholeSecond := func(t time.Time) time.Time {
		t = t.Truncate(time.Second)
		if end {
			t = t.Add(time.Second - time.Millisecond)
		}
		return t
	}
	now = now.Local()
	midnight := func(t time.Time) time.Time {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.Local)
	}
	switch s {
	case "now":
		return wholeSecond(now), nil
	case "recent":
		return wholeSecond(now.Add(-10 * time.Minute)), nil
	case "this-hour":
		y, m, d := now.Date()
		return wholeSecond(time.Date(y, m, d, now.Hour(), 0, 0, 0, time.Local)), nil
	case "boot":
		if boot == nil {
			boot = bootTime
		}
		t, err := boot()
		if err != nil {
			return time.Time{}, err
		}
		return wholeSecond(t), nil
	case "today":
		if end {
			return wholeSecond(now), nil
		}
		return midnight(now), nil
	case "yesterday":
		return wholeSecond(midnight(now.Add(-24 * time.Hour))), nil
	case "this-week":
		return wholeSecond(midnight(now.Add(-time.Duration(now.Weekday()) * 24 * time.Hour))), nil
	case "week-ago":
		return wholeSecond(midnight(now.Add(-7 * 24 * time.Hour))), nil
	case "this-month":
		return wholeSecond(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.Local)), nil
	case "this-year":
		return wholeSecond(time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.Local)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if end && t.Nanosecond() == 0 && !strings.Contains(s, ".") {
			return wholeSecond(t), nil
		}
		return t, nil
	}
	for _, l := range timeLayouts {
		t, err := time.ParseInLocation(l.layout, s, time.Local)
		if err != nil {
			continue
		}
		if !l.hasDate {
			y, m, d := now.Date()
			t = time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.Local)
		}
		if end && l.hasDate && !strings.Contains(l.layout, "15") {
			// A date alone, as an end: that day at the time of day now.
			t = time.Date(t.Year(), t.Month(), t.Day(), now.Hour(), now.Minute(), now.Second(), 0, time.Local)
		}
		if end && !l.hasSec && strings.Contains(l.layout, "15") {
			// HH:MM as an end: the whole minute.
			return t.Add(time.Minute - time.Millisecond), nil
		}
		return wholeSecond(t), nil
	}
	// Seconds since the epoch, as in audit(SECONDS.MILLIS:SERIAL).
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) && n >= 0 && n < 1<<40 {
		t := time.UnixMilli(int64(math.Round(n * 1000)))
		if end && !strings.Contains(s, ".") {
			return wholeSecond(t), nil
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: not a time: want one of %s, YYYY-MM-DD [HH:MM:SS], MM/DD/YY[YY] [HH:MM:SS], HH:MM:SS, RFC 3339, or epoch seconds",
		s, strings.Join(timeKeywords, ", "))
}

// bootTime returns when the system booted, to the second, as ausearch
// computes it: now minus /proc/uptime rounded.
func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, fmt.Errorf("boot: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return time.Time{}, fmt.Errorf("boot: /proc/uptime: %q", b)
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("boot: /proc/uptime: %w", err)
	}
	return time.Now().Truncate(time.Second).Add(-time.Duration(math.Round(up)) * time.Second), nil
}
