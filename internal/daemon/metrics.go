package daemon

import (
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/writer"
	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the daemon's counters as Prometheus metrics. It reads
// the same atomics as Status at scrape time, so metrics cost nothing on the
// hot path.
type collector struct {
	d *Daemon

	recordsRead, recordsWritten, bytesWritten, syscalls, fsyncs *prometheus.Desc
	lost, droppedByType, rateLimited                            *prometheus.Desc
	backlog, backlogPeak, stall                                 *prometheus.Desc
	ringBytes, ringHigh, ringCap                                *prometheus.Desc
	fsyncSeconds, latencySeconds, durability, notWritten        *prometheus.Desc
	pluginLost, pluginDelivered, pluginQueue, pluginRestarts    *prometheus.Desc
}

func newCollector(d *Daemon) *collector {
	n := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("auditdrain_"+name, help, labels, nil)
	}
	return &collector{
		d:              d,
		recordsRead:    n("records_read_total", "Audit records read from the kernel."),
		recordsWritten: n("records_written_total", "Audit records written to the log (including auditdrain's own)."),
		bytesWritten:   n("bytes_written_total", "Bytes appended to log segments (compressed)."),
		syscalls:       n("recv_syscalls_total", "recvmmsg calls that returned records."),
		fsyncs:         n("fsyncs_total", "fsync calls on log segments."),
		lost:           n("records_lost_total", "Records lost or not written, by cause (gap is a serial-gap heuristic; overrun counts socket overflow events).", "cause"),
		droppedByType:  n("records_dropped_total", "Records dropped by overflow_action = drop, by record type.", "type"),
		rateLimited:    n("records_ratelimited_total", "Records suppressed by ratelimit rules, by key.", "key"),
		backlog:        n("kernel_backlog", "Records waiting in the kernel's audit queue at the last poll."),
		backlogPeak:    n("kernel_backlog_peak", "Highest kernel backlog seen by the 1 s poll."),
		stall:          n("kernel_stall_jiffies_total", "Jiffies audited programs slept waiting for backlog room (backlog_wait_time_actual delta)."),
		ringBytes:      n("ring_bytes", "Bytes in the ring between reader and writer."),
		ringHigh:       n("ring_high_water_bytes", "Most bytes ever in the ring."),
		ringCap:        n("ring_capacity_bytes", "Ring capacity."),
		fsyncSeconds:   n("fsync_seconds", "Duration of each fsync of a log segment."),
		latencySeconds: n("write_latency_seconds", "Per record: the age of its batch's oldest record (kernel timestamp) when the batch's frame was written."),
		durability:     n("durability_window_seconds", "At each fsync, how long the oldest record it made durable had waited since it was read."),
		notWritten:     n("records_not_written_total", "Records the writer could not write, by disk condition.", "cause"),
		// One series per configured plugin (plugin_dir's active files).
		pluginLost:      n("plugin_records_lost_total", "Records a plugin did not get (loss cause plugin: its queue was full, it was suspended, given up or dead), by plugin file.", "plugin"),
		pluginDelivered: n("plugin_records_delivered_total", "Records handed to a plugin, by plugin file.", "plugin"),
		pluginQueue:     n("plugin_queue_records", "Records waiting in a plugin's queue, by plugin file.", "plugin"),
		pluginRestarts:  n("plugin_restarts", "Restarts of a plugin's program since it was (re)loaded, by plugin file.", "plugin"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.recordsRead, c.recordsWritten, c.bytesWritten, c.syscalls, c.fsyncs,
		c.lost, c.droppedByType, c.rateLimited, c.backlog, c.backlogPeak, c.stall, c.ringBytes, c.ringHigh,
		c.ringCap, c.fsyncSeconds, c.latencySeconds, c.durability, c.notWritten,
		c.pluginLost, c.pluginDelivered, c.pluginQueue, c.pluginRestarts,
		fwdRecordsDesc, fwdBytesDesc, fwdLagBytes, fwdLagRecords, fwdLagSeconds} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.Status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.recordsRead, s.RecordsRead)
	counter(c.recordsWritten, s.RecordsWritten)
	counter(c.bytesWritten, s.BytesWritten)
	counter(c.syscalls, s.Syscalls)
	counter(c.fsyncs, s.Fsyncs)
	for cause := range pipeline.NumCauses {
		counter(c.lost, s.Lost[cause.String()], cause.String())
	}
	for t, n := range s.DroppedByType {
		counter(c.droppedByType, n, t)
	}
	for k, n := range s.RateLimitedByKey {
		counter(c.rateLimited, n, k)
	}
	for _, p := range s.Plugins {
		counter(c.pluginLost, p.Lost, p.Name)
		counter(c.pluginDelivered, p.Delivered, p.Name)
		gauge(c.pluginQueue, float64(p.QueueDepth), p.Name)
		gauge(c.pluginRestarts, float64(p.Restarts), p.Name)
	}
	gauge(c.backlog, float64(s.KernelBacklog))
	gauge(c.backlogPeak, float64(s.KernelBacklogPeak))
	counter(c.stall, s.KernelStallJiffies)
	gauge(c.ringBytes, float64(s.RingBytes))
	gauge(c.ringHigh, float64(s.RingHighWater))
	gauge(c.ringCap, float64(s.RingCapacity))
	collectForward(s, ch)
	if w := c.d.wcur.Load(); w != nil {
		ws := w.Stats()
		ch <- histogram(c.fsyncSeconds, ws.FsyncLatency, float64(ws.FsyncNanosTotal)/1e9)
		ch <- histogram(c.latencySeconds, ws.Latency, 0)
		ch <- histogram(c.durability, ws.DurabilityWindow, 0)
		for i, n := range ws.RecordsNotWritten {
			counter(c.notWritten, n, writer.Cause(i).String())
		}
	}
}

// histogram converts a writer histogram to a Prometheus constant histogram.
// The writer keeps no sum of latencies; sum is passed when known.
func histogram(d *prometheus.Desc, h writer.LatencyHistogram, sum float64) prometheus.Metric {
	buckets := make(map[float64]uint64, writer.NumLatencyBuckets-1)
	var cum uint64
	for i := 0; i < writer.NumLatencyBuckets-1; i++ {
		cum += h.Counts[i]
		buckets[writer.LatencyBucketBound(i).Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count(), sum, buckets)
}
