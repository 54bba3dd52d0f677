package daemon

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/auditdrain/auditdrain/internal/forward"
	"github.com/prometheus/client_golang/prometheus"
)

// forwarding is the daemon's forwarder (forward_url set): it tails the
// log from disk on its own goroutine, so it never stalls the drain.
type forwarding struct {
	f    *forward.Forwarder
	stop context.CancelFunc
	done chan struct{}
}

// fwdHook is the writer's BeforeDelete: set before the writer opens,
// pointing at the forwarder once it exists.
type fwdHook struct {
	p atomic.Pointer[forward.Forwarder]
}

func (h *fwdHook) beforeDelete(path string) {
	if f := h.p.Load(); f != nil {
		f.BeforeDelete(path)
	}
}

// startForward starts the forwarder when forward_url is set.
func (d *Daemon) startForward() error {
	c := d.cfg.Forward
	if c.URL == "" || d.w == nil {
		return nil
	}
	conn := forward.ConnOptions{URL: c.URL, User: c.User, Password: c.Password, Token: c.Token,
		NKeySeed: c.NKeySeed, Creds: c.Creds, TLSCA: c.TLSCA, TLSCert: c.TLSCert, TLSKey: c.TLSKey,
		Insecure: c.Insecure, Name: "auditdrain"}
	if err := conn.Check(); err != nil {
		return fmt.Errorf("daemon: forward_url: %w", err)
	}
	f, err := forward.New(forward.Config{
		Dir:     d.cfg.LogDir,
		Subject: c.Subject,
		Dial: func(ctx context.Context) (forward.Sink, error) {
			return forward.NewJetStreamSink(ctx, conn, c.Stream, c.Subject, c.Replicas)
		},
		Logf: d.logf,
	}, func() uint64 { return d.wbaseRecords.Load() + d.wcur.Load().Stats().Records })
	if err != nil {
		return err
	}
	d.fwdHook.p.Store(f)
	ctx, cancel := context.WithCancel(context.Background())
	fw := &forwarding{f: f, stop: cancel, done: make(chan struct{})}
	go func() { defer close(fw.done); f.Run(ctx) }()
	d.fwd = fw
	d.logf("forwarding to %s, stream %s, subject %s.%s", c.URL, c.Stream, c.Subject, forward.SubjectToken(f.Host()))
	return nil
}

// stopForward stops the forwarder (its cursor is durable: the next start
// resumes there).
func (d *Daemon) stopForward() {
	if d.fwd != nil {
		d.fwd.stop()
		<-d.fwd.done
		d.fwd = nil
	}
}

// forwardLost is the loss cause forward's counter.
func (d *Daemon) forwardLost() uint64 {
	if f := d.fwdHook.p.Load(); f != nil {
		return f.Lost()
	}
	return 0
}

// forwardStatus fills the forward_* fields of s.
func (d *Daemon) forwardStatus(s *Status) {
	f := d.fwdHook.p.Load()
	if f == nil {
		return
	}
	st := f.Stats()
	s.ForwardURL = d.cfg.Forward.URL
	s.ForwardConnected = st.Connected
	s.ForwardCursor = fmt.Sprintf("%d:%d", st.Cursor.Seq, st.Cursor.Offset)
	s.ForwardRecords = st.Cursor.Records
	s.ForwardBytes = st.BytesSent
	s.ForwardLagBytes = st.LagBytes
	s.ForwardLagRecords = st.LagRecords
	s.ForwardLagSeconds = st.LagSeconds
	q := f.LatencyQuantiles(0.5, 0.99)
	s.ForwardLatencyP50Ms = float64(q[0].Microseconds()) / 1000
	s.ForwardLatencyP99Ms = float64(q[1].Microseconds()) / 1000
	s.ForwardErrors = st.Errors
	s.ForwardLastError = st.LastErr
}

var (
	fwdRecordsDesc = prometheus.NewDesc("auditdrain_forward_records_total", "Records acknowledged by the forwarding server (cursor, across restarts).", nil, nil)
	fwdBytesDesc   = prometheus.NewDesc("auditdrain_forward_bytes_total", "Payload bytes acknowledged by the forwarding server since start.", nil, nil)
	fwdLagBytes    = prometheus.NewDesc("auditdrain_forward_lag_bytes", "Bytes of the log after the forwarder's cursor.", nil, nil)
	fwdLagRecords  = prometheus.NewDesc("auditdrain_forward_lag_records", "Records written but not yet acknowledged by the forwarding server (estimate).", nil, nil)
	fwdLagSeconds  = prometheus.NewDesc("auditdrain_forward_lag_seconds", "Age of the newest forwarded record while records wait (0 when caught up).", nil, nil)
)

// collectForward adds the forwarder's metrics.
func collectForward(s Status, ch chan<- prometheus.Metric) {
	if s.ForwardURL == "" {
		return
	}
	ch <- prometheus.MustNewConstMetric(fwdRecordsDesc, prometheus.CounterValue, float64(s.ForwardRecords))
	ch <- prometheus.MustNewConstMetric(fwdBytesDesc, prometheus.CounterValue, float64(s.ForwardBytes))
	ch <- prometheus.MustNewConstMetric(fwdLagBytes, prometheus.GaugeValue, float64(s.ForwardLagBytes))
	ch <- prometheus.MustNewConstMetric(fwdLagRecords, prometheus.GaugeValue, float64(s.ForwardLagRecords))
	ch <- prometheus.MustNewConstMetric(fwdLagSeconds, prometheus.GaugeValue, s.ForwardLagSeconds)
}
