package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/auditdrain/auditdrain/writer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what the control endpoint's /status returns and what
// `auditdrain status` prints.
type Status struct {
	PID           int     `json:"pid"`
	Mode          string  `json:"mode"`
	Discard       bool    `json:"discard"`
	LogDir        string  `json:"log_dir"`
	UptimeSeconds float64 `json:"uptime_seconds"`

	RecordsRead uint64 `json:"records_read"`
	BytesRead   uint64 `json:"bytes_read"`
	Syscalls    uint64 `json:"recv_syscalls"`
	Truncated   uint64 `json:"truncated"`
	Overruns    uint64 `json:"overruns"`
	Replaces    uint64 `json:"replace_requests"`

	RingBytes     int `json:"ring_bytes"`
	RingHighWater int `json:"ring_high_water"`
	RingCapacity  int `json:"ring_capacity"`

	RecordsDrained uint64  `json:"records_drained"`
	EOESkipped     uint64  `json:"eoe_not_written"`
	RecordsWritten uint64  `json:"records_written"`
	Batches        uint64  `json:"batches"`
	BytesIn        uint64  `json:"bytes_formatted"`
	BytesWritten   uint64  `json:"bytes_written"`
	Segments       uint64  `json:"segments"`
	Fsyncs         uint64  `json:"fsyncs"`
	FsyncMaxMs     float64 `json:"fsync_max_ms"`
	FsyncAvgMs     float64 `json:"fsync_avg_ms"`
	LatencyP50Ms   float64 `json:"latency_p50_ms"`
	LatencyP99Ms   float64 `json:"latency_p99_ms"`
	// LatencyCounts are the latency histogram's records per bucket (the
	// bounds of writer.LatencyBucketBound, then one for above 10 s), so
	// that a client can take the quantiles of an interval (the bench's
	// step) from two readings.
	LatencyCounts []uint64 `json:"latency_counts,omitempty"`
	LatencyMaxMs  float64  `json:"latency_max_ms"`
	FsyncP50Ms    float64  `json:"fsync_p50_ms"`
	FsyncP99Ms    float64  `json:"fsync_p99_ms"`
	// Durability window: age of the oldest record each fsync made durable.
	DurabilityP50Ms float64           `json:"durability_window_p50_ms"`
	DurabilityP99Ms float64           `json:"durability_window_p99_ms"`
	DurabilityMaxMs float64           `json:"durability_window_max_ms"`
	RecordsSynced   uint64            `json:"records_synced"`
	NotWritten      map[string]uint64 `json:"records_not_written,omitempty"`
	Suspended       bool              `json:"writing_suspended"`
	SuspendCause    string            `json:"suspend_cause,omitempty"`
	FreeBytes       int64             `json:"log_fs_free_bytes"`
	SegmentsDeleted uint64            `json:"segments_deleted"`
	WriteErrors     uint64            `json:"write_errors"`
	WriteError      string            `json:"last_write_error,omitempty"`

	SelfRecords uint64 `json:"self_records"`

	// The audit socket across upgrades and restarts (socketstatus.go):
	// where it came from, the pid the kernel shows registered ("registered
	// by pid X, read by pid Y" when it is not this process: adopted after
	// a restart), whether systemd's fd store holds it, its receive buffer
	// and what is queued in it, and how many seconds of records at the
	// current rate the socket and the kernel's backlog hold while no one
	// reads (a restart longer than that loses records, counted as kernel
	// lost or serial gaps).
	AuditSocket          string  `json:"audit_socket"`
	RegisteredPID        int     `json:"registered_pid"`
	Registration         string  `json:"registration,omitempty"`
	SocketFDStored       bool    `json:"socket_in_fd_store"`
	SocketRcvBuf         int     `json:"socket_rcvbuf_bytes"`
	SocketQueued         int     `json:"socket_queued_bytes"`
	RecordsPerSecond     float64 `json:"records_per_second"`
	RestartBudgetSeconds float64 `json:"restart_budget_seconds,omitempty"`

	// Loss accounting, cumulative since start. lost_total excludes serial
	// gaps, which are a heuristic.
	LostTotal          uint64            `json:"lost_total"`
	Lost               map[string]uint64 `json:"lost_by_cause"`
	DroppedByType      map[string]uint64 `json:"dropped_by_type,omitempty"`
	DroppedByKey       map[string]uint64 `json:"dropped_events_by_key,omitempty"`
	RateLimitedByKey   map[string]uint64 `json:"ratelimited_by_key,omitempty"`
	LateSerials        uint64            `json:"late_serial_records"`
	KernelBacklog      uint64            `json:"kernel_backlog"`
	KernelBacklogPeak  uint64            `json:"kernel_backlog_peak"`
	KernelStallJiffies uint64            `json:"kernel_stall_jiffies"`

	// Rules: how many of the configured rules are in the kernel, and the
	// lines the kernel refused at the last load or reload.
	RulesLoaded  int         `json:"rules_loaded"`
	RulesRefused []RuleError `json:"rules_refused,omitempty"`

	// Plugins: each active plugin of plugin_dir. What a plugin lost (loss
	// cause plugin) is not missing from the log, so it is not in
	// lost_total or lost_by_cause.
	Plugins []PluginStatus `json:"plugins,omitempty"`

	// Forwarding (forward_url): the cursor, what the server acknowledged,
	// and the lag behind the log (forward.go).
	ForwardURL        string  `json:"forward_url,omitempty"`
	ForwardConnected  bool    `json:"forward_connected,omitempty"`
	ForwardCursor     string  `json:"forward_cursor,omitempty"`
	ForwardRecords    uint64  `json:"forward_records,omitempty"`
	ForwardBytes      uint64  `json:"forward_bytes_sent,omitempty"`
	ForwardLagBytes   int64   `json:"forward_lag_bytes,omitempty"`
	ForwardLagRecords uint64  `json:"forward_lag_records,omitempty"`
	ForwardLagSeconds float64 `json:"forward_lag_seconds,omitempty"`
	// Latency of the last batches: oldest record's time to the ack.
	ForwardLatencyP50Ms float64 `json:"forward_latency_p50_ms,omitempty"`
	ForwardLatencyP99Ms float64 `json:"forward_latency_p99_ms,omitempty"`
	ForwardErrors       uint64  `json:"forward_errors,omitempty"`
	ForwardLastError    string  `json:"forward_last_error,omitempty"`
}

// RuleError is a line of the configured rules that the kernel refused.
type RuleError struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Rule  string `json:"rule"`  // the line, as written
	Error string `json:"error"` // the kernel's answer ("no such file or directory")
}

// String is the line `auditdrain status` prints for e: file:line, the rule
// and the kernel's answer.
func (e RuleError) String() string {
	return fmt.Sprintf("%s:%d: %q: %s", e.File, e.Line, e.Rule, e.Error)
}

// Status returns the daemon's counters. Safe from any goroutine.
func (d *Daemon) Status() Status {
	d.kpoll.refresh(time.Second)
	rs := d.rd.Stats()
	s := Status{
		PID:            os.Getpid(),
		Mode:           d.rd.Mode().String(),
		Discard:        d.opts.Discard,
		LogDir:         d.cfg.LogDir,
		UptimeSeconds:  time.Since(d.started).Seconds(),
		RecordsRead:    rs.Records,
		BytesRead:      rs.Bytes,
		Syscalls:       rs.Syscalls,
		Truncated:      rs.Truncated,
		Overruns:       rs.Overruns,
		Replaces:       rs.Replaces,
		RingBytes:      d.ring.Len(),
		RingHighWater:  d.ring.HighWater(),
		RingCapacity:   d.ring.Cap(),
		RecordsDrained: d.drained.Load(),
	}
	s.SelfRecords = d.selfRecords.Load()
	d.socketStatus(&s)
	l := d.currentLosses()
	s.Lost = l.Map()
	s.LostTotal = l.Total()
	ps := d.pipe.Stats()
	s.EOESkipped = ps.EOESkipped
	s.LateSerials = ps.LateSerials
	s.DroppedByType, s.DroppedByKey = d.pipe.DropSummary()
	s.RateLimitedByKey = d.pipe.RateLimitedByKey()
	s.KernelBacklog = d.kpoll.backlog.Load()
	s.KernelBacklogPeak = d.kpoll.backlogPeak.Load()
	s.KernelStallJiffies = d.kpoll.stallJiffies.Load()
	s.RulesLoaded, s.RulesRefused = d.rules.statusRules()
	d.forwardStatus(&s)
	s.Plugins = d.plugins.snapshot()
	if w := d.wcur.Load(); w != nil {
		ws := w.Stats()
		s.RecordsWritten = d.wbaseRecords.Load() + ws.Records
		s.Batches = ws.Batches
		s.BytesIn = ws.BytesIn
		s.BytesWritten = ws.BytesOut
		s.Segments = ws.Segments
		s.Fsyncs = ws.Fsyncs
		s.FsyncMaxMs = float64(ws.FsyncNanosMax) / 1e6
		if ws.Fsyncs > 0 {
			s.FsyncAvgMs = float64(ws.FsyncNanosTotal) / float64(ws.Fsyncs) / 1e6
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		s.LatencyP50Ms = ms(ws.Latency.Quantile(0.5))
		s.LatencyP99Ms = ms(ws.Latency.Quantile(0.99))
		s.LatencyCounts = ws.Latency.Counts[:]
		s.LatencyMaxMs = ms(ws.Latency.Max)
		s.FsyncP50Ms = ms(ws.FsyncLatency.Quantile(0.5))
		s.FsyncP99Ms = ms(ws.FsyncLatency.Quantile(0.99))
		s.DurabilityP50Ms = ms(ws.DurabilityWindow.Quantile(0.5))
		s.DurabilityP99Ms = ms(ws.DurabilityWindow.Quantile(0.99))
		s.DurabilityMaxMs = ms(ws.DurabilityWindow.Max)
		s.RecordsSynced = ws.RecordsSynced
		for i, n := range ws.RecordsNotWritten {
			if n > 0 {
				if s.NotWritten == nil {
					s.NotWritten = map[string]uint64{}
				}
				s.NotWritten[writer.Cause(i).String()] = n
			}
		}
		s.Suspended = ws.Suspended
		if ws.Suspended {
			s.SuspendCause = ws.SuspendCause.String()
		}
		s.FreeBytes = ws.FreeBytes
		s.SegmentsDeleted = ws.SegmentsDeleted
		s.WriteErrors = ws.WriteErrors
		if err := w.Err(); err != nil {
			s.WriteError = err.Error()
		}
	}
	return s
}

// DefaultControlDir holds the default control socket; it is made 0700.
const DefaultControlDir = "/run/auditdrain"

// controlServer serves the daemon's status over HTTP on a root-only unix
// socket.
type controlServer struct {
	path    string
	srv     *http.Server
	metrics *http.Server // optional TCP listener for /metrics only
}

func startControl(path string, d *Daemon) (*controlServer, error) {
	if path == "" {
		return nil, nil
	}
	// The directory, not only the socket, is private: the socket exists
	// with umask permissions between Listen and Chmod.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("daemon: control socket directory: %w", err)
	}
	if filepath.Dir(path) == DefaultControlDir {
		if err := os.Chmod(DefaultControlDir, 0o700); err != nil {
			return nil, fmt.Errorf("daemon: control socket directory: %w", err)
		}
	}
	// A socket file left by a daemon that died is removed; a live one is
	// another daemon, which the registration check has already refused
	// (or a multicast daemon: then say so).
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("daemon: control socket %s is in use by another running auditdrain; pick another with control_socket = PATH", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("daemon: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: control socket: %w", err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newTopCollector(d)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: metrics: %w", err)
	}
	if err := reg.Register(newCollector(d)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: metrics: %w", err)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(d.Status())
	})
	mux.HandleFunc("GET /top", d.serveTop)
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("POST /upgrade", d.serveUpgrade)
	cs := &controlServer{path: path, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	if addr := d.cfg.MetricsListen; addr != "" {
		tln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("daemon: metrics_listen %q: %w", addr, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics)
		cs.metrics = &http.Server{Handler: mmux, ReadHeaderTimeout: 5 * time.Second}
		go cs.metrics.Serve(tln)
	}
	go cs.srv.Serve(ln)
	return cs, nil
}

func (c *controlServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.srv.Shutdown(ctx)
	if c.metrics != nil {
		c.metrics.Shutdown(ctx)
	}
	os.Remove(c.path)
}

// ErrNotRunning is FetchStatus's error when no daemon listens on the
// control socket: the socket is missing, or left by a daemon that died.
var ErrNotRunning = errors.New("no auditdrain daemon is running")

// FetchStatus asks the daemon listening on path for its status. When none
// listens there, the error wraps ErrNotRunning.
func FetchStatus(path string) (Status, error) {
	var s Status
	err := fetchJSON(path, "status", &s)
	return s, err
}

// controlClient is an HTTP client of the control socket at path; timeout
// 0 is none.
func controlClient(path string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}},
	}
}

// fetchJSON decodes the answer to GET /what on the control socket at path
// into v. When no daemon listens there, the error wraps ErrNotRunning.
func fetchJSON(path, what string, v any) error {
	resp, err := controlClient(path, 3*time.Second).Get("http://auditdrain/" + what)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%w (no control socket at %s)", ErrNotRunning, path)
		case errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("%w (nothing listens on the control socket %s)", ErrNotRunning, path)
		}
		return fmt.Errorf("asking the daemon at %s: %w", path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("daemon at %s: %s: %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding the %s from %s: %w", what, path, err)
	}
	return nil
}

// unwrapURLError drops net/http's `Get "http://auditdrain/status":` from
// err: the request URL is made up, the socket path says where.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
