package daemon

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/reader"
	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// Version is auditdrain's version, written in its DAEMON_START records.
const Version = "0.1.0"

// kernelPoller polls the kernel's status every second on the control
// socket: lost delta, backlog and its peak, and how long audited programs
// were made to wait (backlog_wait_time_actual).
type kernelPoller struct {
	ctl *auditctl.Conn

	lost         atomic.Uint64 // lost since start
	stallJiffies atomic.Uint64 // backlog_wait_time_actual since start: jiffies audited programs slept (HZ per second)
	backlog      atomic.Uint64
	backlogPeak  atomic.Uint64
	lastLost     uint32
	lastWait     uint32
	done         chan struct{} // closed when run returns
	// sockDrops: in multicast mode, the data socket's Drops since start.
	sockDrops    atomic.Uint64
	drops        func() (uint64, error) // nil in unicast mode
	drops0       uint64
	dropsKnown   bool
	polls        atomic.Uint64
	pollErrors   atomic.Uint64
	backlogLimit atomic.Uint64
	// after, if set, runs after each periodic poll (on run's goroutine).
	after func()
}

func newKernelPoller(ctl *auditctl.Conn, lost0, wait0 uint32) *kernelPoller {
	return &kernelPoller{ctl: ctl, lastLost: lost0, lastWait: wait0, done: make(chan struct{})}
}

func (k *kernelPoller) run(ctx context.Context, every time.Duration) {
	defer close(k.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.poll()
			if k.after != nil {
				k.after()
			}
		}
	}
}

// poll reads the status once. Counters are uint32 in the kernel: deltas
// are taken modulo 2^32 so a wrap is not an absurd count.
func (k *kernelPoller) poll() {
	s, err := k.ctl.Status()
	if err != nil {
		k.pollErrors.Add(1)
		return
	}
	k.polls.Add(1)
	k.lost.Add(pipeline.CounterDelta(k.lastLost, s.Lost))
	k.lastLost = s.Lost
	k.stallJiffies.Add(pipeline.CounterDelta(k.lastWait, s.BacklogWaitTimeActual))
	k.lastWait = s.BacklogWaitTimeActual
	k.backlog.Store(uint64(s.Backlog))
	if k.drops != nil {
		if n, err := k.drops(); err == nil {
			if !k.dropsKnown {
				k.drops0, k.dropsKnown = n, true
			}
			k.sockDrops.Store(n - k.drops0)
		}
	}
	k.backlogLimit.Store(uint64(s.BacklogLimit))
	if uint64(s.Backlog) > k.backlogPeak.Load() {
		k.backlogPeak.Store(uint64(s.Backlog))
	}
}

// currentLosses snapshots every loss counter, cumulative since start.
func (d *Daemon) currentLosses() pipeline.Losses {
	rs := d.rd.Stats()
	ps := d.pipe.Stats()
	var l pipeline.Losses
	l[pipeline.CauseKernel] = d.kpoll.lost.Load()
	l[pipeline.CauseOverrun] = rs.Overruns
	l[pipeline.CauseTruncated] = rs.Truncated
	l[pipeline.CauseDropped] = ps.Dropped
	l[pipeline.CauseOversized] = ps.Oversized
	l[pipeline.CauseRateLimited] = ps.RateLimited
	l[pipeline.CauseGap] = ps.Gaps
	if d.w != nil {
		l[pipeline.CauseDisk] = d.w.Stats().RecordsLost
	}
	l[pipeline.CauseSockDrop] = d.kpoll.sockDrops.Load()
	l[pipeline.CauseForward] = d.forwardLost()
	return l
}

// account runs about once a second under d.owner:
// it writes one op=lost record for any loss since the last one, one
// op=ratelimit record per suppressing key, and logs when loss starts and
// stops.
func (d *Daemon) account(now time.Time) {
	d.lastAccount = now
	cur := d.currentLosses()
	delta := cur.Sub(d.lastLoss)
	stall := d.kpoll.stallJiffies.Load()
	dStall := stall - d.lastStall
	d.lastLoss, d.lastStall = cur, stall
	d.tickTally(now, cur)
	d.pipe.FlushRateLimits(now)
	d.pluginLoss = d.plugins.lossDelta(d.pluginLoss)
	if delta.Any() || len(d.pluginLoss) > 0 {
		d.selfBuf = pipeline.AppendLossRecord(d.selfBuf[:0], now.UnixMilli(), delta, dStall, d.pluginLoss...)
		d.writeSelfPayload(record.TypeDaemonErr, d.selfBuf)
		d.lossLast = now
		if !d.lossActive {
			d.lossActive = true
			msg := string(d.selfBuf)
			if i := strings.Index(msg, "): "); i >= 0 {
				msg = msg[i+3:]
			}
			d.logf("records are being lost or dropped in the last second: %s", msg)
		}
		return
	}
	if d.lossActive && now.Sub(d.lossLast) >= 10*time.Second {
		d.lossActive = false
		d.logf("loss stopped; totals since start: %s", cur)
	}
}

// writeSelf writes a record auditdrain makes itself (start, end, accounting).
func (d *Daemon) writeSelf(typ uint16, payload string) {
	d.selfBuf = record.AppendStamp(d.selfBuf[:0], time.Now().UnixMilli(), 0)
	d.selfBuf = append(d.selfBuf, payload...)
	d.writeSelfPayload(typ, d.selfBuf)
}

// writeSelfPayload writes a record auditdrain made itself, stamp included
// (also the pipeline's Emit), and hands it to the plugins, as auditd hands
// them its own records. The caller holds d.owner (or is the only goroutine
// left), which also keeps the plugins' dispatcher single-producer.
func (d *Daemon) writeSelfPayload(typ uint16, p []byte) {
	d.selfRecords.Add(1)
	d.lastAppend = time.Now()
	if d.w == nil {
		return
	}
	d.plugins.disp.Dispatch(typ, p)
	if err := d.w.Append(typ, p); err != nil && d.writeErr.Load() == nil {
		d.writeErr.Store(&err)
	}
}

func (d *Daemon) startRecord(mode reader.Mode) string {
	var uts unix.Utsname
	unix.Uname(&uts)
	return fmt.Sprintf("op=start ver=%s format=raw kernel=%s mode=%s auid=%d pid=%d uid=%d res=success",
		Version, unix.ByteSliceToString(uts.Release[:]), mode, loginUID(), os.Getpid(), os.Getuid())
}

func (d *Daemon) endRecord() string {
	rs := d.rd.Stats()
	return fmt.Sprintf("op=terminate records_read=%d lost_total=%d auid=%d pid=%d res=success",
		rs.Records, d.currentLosses().Total(), loginUID(), os.Getpid())
}

func loginUID() int64 {
	b, err := os.ReadFile("/proc/self/loginuid")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// restoreKernel puts back the settings found at start.
func (d *Daemon) restoreKernel() error {
	s := d.status0
	s.Mask = libaudit.AuditStatusBacklogLimit | libaudit.AuditStatusBacklogWaitTime | libaudit.AuditStatusRateLimit
	if err := d.ctl.Set(s); err != nil {
		return fmt.Errorf("daemon: restoring kernel settings (backlog_limit %d, backlog_wait_time %d, rate_limit %d): %w",
			s.BacklogLimit, s.BacklogWaitTime, s.RateLimit, err)
	}
	return nil
}
