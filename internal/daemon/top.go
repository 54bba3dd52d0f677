package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/tally"
	"github.com/prometheus/client_golang/prometheus"
)

// What `auditdrain top` and `auditdrain doctor` read: the drain side
// counts each record (d.tally.Count in append, under d.owner), account
// publishes the counts once a second (tickTally), and the control socket
// serves them as /top and as bounded Prometheus series (topCollector).

// tickTally publishes the counts as of now with the kernel's state and the
// losses since start. Under d.owner.
func (d *Daemon) tickTally(now time.Time, losses pipeline.Losses) {
	if d.tally == nil {
		return
	}
	d.tally.Tick(now, tally.Kernel{
		Backlog:      d.kpoll.backlog.Load(),
		BacklogPeak:  d.kpoll.backlogPeak.Load(),
		BacklogLimit: d.kpoll.backlogLimit.Load(),
		Losses:       losses,
	})
}

// Top returns the counts as of the last second. ok is false before the
// first second has passed (or in discard mode, which counts nothing).
func (d *Daemon) Top() (tally.Top, bool) {
	if d.tally == nil {
		return tally.Top{}, false
	}
	return d.tally.Top()
}

// serveTop is the control socket's GET /top.
func (d *Daemon) serveTop(w http.ResponseWriter, _ *http.Request) {
	t, ok := d.Top()
	if !ok {
		http.Error(w, "no counts yet: the daemon publishes them once a second", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(t)
}

// FetchTop asks the daemon listening on path for its counts (GET /top).
// When none listens there, the error wraps ErrNotRunning.
func FetchTop(path string) (tally.Top, error) {
	var t tally.Top
	err := fetchJSON(path, "top", &t)
	return t, err
}

// metricRows is how many rows of each top table become Prometheus series:
// the cardinality stays bounded whatever the traffic.
const metricRows = 10

// topCollector exposes the top tables as metrics: events by key, syscall,
// exe and auid, records by type, each limited to the metricRows busiest
// names (a name leaving the top stops being exported). Read at scrape
// time from the last published second.
type topCollector struct {
	d                                  *Daemon
	events, records, byDim, backlogLim *prometheus.Desc
}

func newTopCollector(d *Daemon) *topCollector {
	return &topCollector{
		d:          d,
		events:     prometheus.NewDesc("auditdrain_events_total", "Events (SYSCALL and URINGOP records) drained from the kernel.", nil, nil),
		records:    prometheus.NewDesc("auditdrain_records_counted_total", "Records drained from the kernel and counted by type.", nil, nil),
		byDim:      prometheus.NewDesc("auditdrain_top_events_total", fmt.Sprintf("Events by dim (key, syscall, exe, auid, uid; type counts records) and name, for the %d busiest names of each dim only (a top-k sketch: at least this many).", metricRows), []string{"dim", "name"}, nil),
		backlogLim: prometheus.NewDesc("auditdrain_kernel_backlog_limit", "The kernel's backlog_limit at the last poll.", nil, nil),
	}
}

func (c *topCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.records
	ch <- c.byDim
	ch <- c.backlogLim
}

func (c *topCollector) Collect(ch chan<- prometheus.Metric) {
	t, ok := c.d.Top()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(t.Events))
	ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(t.Records))
	ch <- prometheus.MustNewConstMetric(c.backlogLim, prometheus.GaugeValue, float64(t.BacklogLimit))
	for _, tab := range t.Tables {
		rows := tab.Rows
		if len(rows) > metricRows {
			rows = rows[:metricRows]
		}
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(c.byDim, prometheus.CounterValue, float64(r.Total), tab.Dim, r.Name)
		}
	}
}
