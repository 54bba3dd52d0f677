package tally

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// Dim is a dimension events or records are counted by.
type Dim int

// The dimensions, in the order top shows them.
const (
	DimKey     Dim = iota // rule key of the event (NoKey for rules without one)
	DimSyscall            // syscall name (arch/name for another arch than the first seen)
	DimExe                // exe= of the event
	DimAUID               // auid= ("unset" for 4294967295)
	DimUID                // uid=
	DimType               // record type (records, not events)
	numDims
)

var dimNames = [numDims]string{"key", "syscall", "exe", "auid", "uid", "type"}

// String returns the dimension's name as in top's JSON.
func (d Dim) String() string { return dimNames[d] }

// Windows are the lengths, in seconds, of the windows rates are given over.
var Windows = [3]int{1, 10, 60}

// Rates are per-second rates over each of Windows (over the time the
// daemon has run, when it is shorter).
type Rates [3]float64

// Row is one name's counts in a dimension.
type Row struct {
	Name  string `json:"name"`
	Total uint64 `json:"total"` // since the daemon started (minus Err: at least this many)
	// Err: with a sketch, up to this many of the counted events may belong
	// to names evicted before (0 when exact).
	Err   uint64 `json:"err,omitempty"`
	Rate  Rates  `json:"per_second"` // over the last 1, 10, 60 s
	Share Rates  `json:"share"`      // of the events (records, for type) in each window, 0..1
}

// Table is the rows of one dimension, the busiest (over 10 s, then in
// total) first.
type Table struct {
	Dim  string `json:"dim"`
	Unit string `json:"unit"` // events or records
	// Complete: every name ever counted is listed; when false the sketch
	// is full and a name not listed may have been counted and evicted.
	Complete bool  `json:"complete"`
	Rows     []Row `json:"rows"`
}

// LossRow is one loss cause's counters.
type LossRow struct {
	Cause    string `json:"cause"`
	Total    uint64 `json:"total"`     // since the daemon started
	LastHour uint64 `json:"last_hour"` // over the last hour (or since start)
	Rate     Rates  `json:"per_second"`
}

// Top is what `auditdrain top` shows: a snapshot of the counts and rates.
type Top struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Windows       [3]int    `json:"windows_seconds"`
	Events        uint64    `json:"events"`  // SYSCALL and URINGOP records since start
	Records       uint64    `json:"records"` // records since start
	EventRate     Rates     `json:"events_per_second"`
	RecordRate    Rates     `json:"records_per_second"`

	Backlog       uint64 `json:"kernel_backlog"`
	BacklogPeak   uint64 `json:"kernel_backlog_peak"`
	BacklogPeak1m uint64 `json:"kernel_backlog_peak_60s"` // highest of the 1 s polls in the last minute
	BacklogLimit  uint64 `json:"kernel_backlog_limit"`

	Loss         []LossRow `json:"loss"`
	LostTotal    uint64    `json:"lost_total"`     // certain causes, since start
	LostLastHour uint64    `json:"lost_last_hour"` // certain causes
	HourCovered  float64   `json:"last_hour_covered_seconds"`
	Tables       []Table   `json:"tables"`
}

// Table returns the table of dimension name ("key", "exe"...), or nil.
func (t Top) Table(dim string) *Table {
	for i := range t.Tables {
		if t.Tables[i].Dim == dim {
			return &t.Tables[i]
		}
	}
	return nil
}

// Row returns the row of name in the table, or nil.
func (t *Table) Row(name string) *Row {
	if t == nil {
		return nil
	}
	for i := range t.Rows {
		if t.Rows[i].Name == name {
			return &t.Rows[i]
		}
	}
	return nil
}

// Top returns the counts as of the last Tick. ok is false before the first.
func (c *Counter) Top() (t Top, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filled == 0 {
		return t, false
	}
	at := func(back int) *frame { // back ticks before the last, clamped to the oldest
		back = min(back, c.filled-1)
		return &c.history[(c.next-1-back+2*len(c.history))%len(c.history)]
	}
	cur := at(0)
	var olds [3]*frame
	var secs [3]float64
	for i, w := range Windows {
		olds[i] = at(w)
		if olds[i] == cur {
			// Only one frame: rates since the start.
			secs[i] = cur.at.Sub(c.started).Seconds()
		} else {
			secs[i] = cur.at.Sub(olds[i].at).Seconds()
		}
		if secs[i] <= 0 {
			secs[i] = 1
		}
	}
	rate := func(now uint64, then func(*frame) uint64) (r Rates) {
		for i := range Windows {
			var prev uint64
			if olds[i] != cur {
				prev = then(olds[i])
			}
			if now > prev {
				r[i] = float64(now-prev) / secs[i]
			}
		}
		return r
	}
	t = Top{
		Time:          cur.at,
		UptimeSeconds: cur.at.Sub(c.started).Seconds(),
		Windows:       Windows,
		Events:        cur.events,
		Records:       cur.records,
		Backlog:       cur.kernel.Backlog,
		BacklogPeak:   cur.kernel.BacklogPeak,
		BacklogLimit:  cur.kernel.BacklogLimit,
	}
	t.EventRate = rate(cur.events, func(f *frame) uint64 { return f.events })
	t.RecordRate = rate(cur.records, func(f *frame) uint64 { return f.records })
	for i := 0; i < min(c.filled, 60); i++ {
		t.BacklogPeak1m = max(t.BacklogPeak1m, at(i).kernel.Backlog)
	}

	// Loss: per second over the windows, over the last hour, in total.
	var hourAgo pipeline.Losses
	hourAt := c.started
	if cur.at.Sub(c.started) > time.Hour {
		// The oldest minute mark no older than an hour.
		for i := c.hfilled; i >= 1; i-- {
			m := c.hour[(c.hnext-i+2*len(c.hour))%len(c.hour)]
			if cur.at.Sub(m.at) <= time.Hour {
				hourAgo, hourAt = m.losses, m.at
				break
			}
		}
	}
	t.HourCovered = cur.at.Sub(hourAt).Seconds()
	for cause := range pipeline.NumCauses {
		row := LossRow{Cause: cause.String(), Total: cur.kernel.Losses[cause]}
		row.LastHour = row.Total - min(row.Total, hourAgo[cause])
		row.Rate = rate(row.Total, func(f *frame) uint64 { return f.kernel.Losses[cause] })
		t.Loss = append(t.Loss, row)
	}
	t.LostTotal = cur.kernel.Losses.Total()
	t.LostLastHour = cur.kernel.Losses.Sub(hourAgo).Total()

	for d := range numDims {
		tab := Table{Dim: d.String(), Unit: "events", Complete: cur.complete[d]}
		denom := t.EventRate
		if d == DimType {
			tab.Unit, denom = "records", t.RecordRate
		}
		for _, it := range cur.dims[d] {
			row := Row{Name: it.name, Total: it.count - it.err, Err: it.err}
			for i := range Windows {
				var prev uint64
				if olds[i] != cur {
					prev = it.err // inserted after the old frame: counted since
					if p, ok := findItem(olds[i].dims[d], it.name); ok && p.tenure == it.tenure {
						prev = p.count
					}
				}
				if it.count > prev {
					row.Rate[i] = float64(it.count-prev) / secs[i]
				}
				if denom[i] > 0 {
					row.Share[i] = min(1, row.Rate[i]/denom[i])
				}
			}
			tab.Rows = append(tab.Rows, row)
		}
		slices.SortStableFunc(tab.Rows, func(a, b Row) int {
			switch {
			case a.Rate[1] != b.Rate[1]:
				if a.Rate[1] > b.Rate[1] {
					return -1
				}
				return 1
			case a.Total != b.Total:
				if a.Total > b.Total {
					return -1
				}
				return 1
			}
			return 0
		})
		t.Tables = append(t.Tables, tab)
	}
	return t, true
}

func findItem(items []item, name string) (item, bool) {
	for _, it := range items {
		if it.name == name {
			return it, true
		}
	}
	return item{}, false
}

// itemName turns a sketch item into the name shown: a hex value decoded (a
// rule with several keys shows them joined by ','), an auid of -1 as unset.
func itemName(s string) string {
	if len(s) > 0 && s[0] == hexTag {
		h := s[1:]
		h = h[:len(h)&^1] // a value cut at topk.MaxItem may end in half a byte
		dec, ok := record.AppendUnhex(nil, []byte(h))
		if !ok {
			return s[1:]
		}
		return string(bytes.ReplaceAll(dec, []byte{record.KeySeparator}, []byte{','}))
	}
	if s == "4294967295" {
		return "unset"
	}
	return s
}

// archName is the name go-libaudit's syscall tables are indexed by.
func archName(a uint32) string {
	return auparse.AuditArch(a).String()
}

// syscallName names syscall nr of arch a as ausearch -i does ("execve"),
// with the arch before it for another arch than x86_64 or aarch64
// ("i386/execve"), or the number when the table lacks it.
func syscallName(a uint32, nr int) string {
	an := archName(a)
	name, ok := auparse.AuditSyscalls[an][nr]
	if !ok {
		name = strconv.Itoa(nr)
	}
	switch an {
	case "x86_64", "aarch64":
		return name
	}
	return fmt.Sprintf("%s/%s", an, name)
}
