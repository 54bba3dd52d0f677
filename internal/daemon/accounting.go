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
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
	"github.com/auditdrain/auditdrain/reader"
	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// Version is auditdrain's version, written in its DAEMON_START records.
const Version = "0.1.0"

// Record types auditdrain writes into the log itself, from auditd's daemon
// range so ausearch -m finds them.
const (
	typeDaemonStart = 1200
	typeDaemonEnd   = 1201
	typeDaemonErr   = 1209 // op=lost accounting and op=ratelimit summaries
)

// Loss causes, as they appear in the accounting records, status and the
// auditdrain_records_lost_total{cause} metric.
const (
	causeKernel      = "kernel"      // the kernel's lost counter moved
	causeOverrun     = "overrun"     // ENOBUFS on the socket (events, not records)
	causeTruncated   = "truncated"   // records longer than the receive buffer
	causeDropped     = "dropped"     // overflow_action = drop
	causeOversized   = "oversized"   // records larger than the ring can hold
	causeRateLimited = "ratelimited" // suppressed by a ratelimit rule
	causeGap         = "gap"         // serial gaps (a heuristic, not proof of loss)
	causeDisk        = "disk"        // records the writer could not write
	causeSockDrop    = "sockdrop"    // multicast: datagrams the kernel dropped at our socket (/proc/net/netlink Drops)
)

var lossCauses = []string{causeKernel, causeOverrun, causeTruncated, causeDropped, causeOversized, causeRateLimited, causeGap, causeDisk, causeSockDrop}

// losses is a snapshot of every loss counter, cumulative since start.
type losses [9]uint64

func (l losses) any() bool {
	for _, n := range l {
		if n != 0 {
			return true
		}
	}
	return false
}

func (l losses) sub(o losses) losses {
	var d losses
	for i := range l {
		d[i] = l[i] - o[i]
	}
	return d
}

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
	k.lost.Add(counterDelta(k.lastLost, s.Lost))
	k.lastLost = s.Lost
	k.stallJiffies.Add(counterDelta(k.lastWait, s.BacklogWaitTimeActual))
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

// counterDelta is how much a kernel uint32 counter moved from prev to cur:
// modulo 2^32 across a wrap, but a counter that went down from below 2^31
// was reset (auditctl --reset-lost), and then cur is what accrued since.
func counterDelta(prev, cur uint32) uint64 {
	if cur < prev && prev < 1<<31 {
		return uint64(cur)
	}
	return uint64(cur - prev)
}

// gapTracker counts serial numbers never seen, over a window of recent
// serials, so records that arrive out of order (queue order is not serial
// order) are not counted. A serial is judged missing once the highest
// serial seen is a whole window past it. It runs on the drain goroutine.
//
// Serial gaps are a heuristic: a rate-limit drop or a record lost after
// queueing leaves a gap, but so do serials used by records that were never
// meant for us; they are reported apart from certain loss.
type gapTracker struct {
	seen    [4096]uint64 // slot serial%len holds serial when seen
	hi      uint64       // highest serial seen
	judged  uint64       // every serial <= judged has been judged
	started bool
	gaps    atomic.Uint64
	late    atomic.Uint64 // records for serials already judged
}

const gapWindow = uint64(len(gapTracker{}.seen))

func (g *gapTracker) observe(serial uint64) {
	if serial == 0 {
		return
	}
	if !g.started {
		g.started = true
		g.hi = serial
		g.judged = serial - 1
		g.seen[serial%gapWindow] = serial
		return
	}
	if serial <= g.judged {
		if serial+1<<31 < g.judged {
			// The kernel's 32-bit serial wrapped (or the kernel
			// restarted its count): start over rather than call every
			// later record late.
			g.started = false
			g.observe(serial)
			return
		}
		g.late.Add(1)
		return
	}
	if serial > g.hi+1<<31 {
		// A record from before a serial wrap, arriving after the tracker
		// started over: late, not 4 billion missing serials.
		g.late.Add(1)
		return
	}
	if serial > g.hi {
		if serial >= gapWindow && serial-gapWindow > g.judged {
			limit := serial - gapWindow // judge every x in (judged, limit]
			var missing uint64
			// Serials above hi were never seen: count them without a loop.
			if limit > g.hi {
				missing += limit - g.hi
				limit = g.hi
			}
			for x := g.judged + 1; x <= limit; x++ {
				if g.seen[x%gapWindow] != x {
					missing++
				}
			}
			g.judged = serial - gapWindow
			if missing > 0 {
				g.gaps.Add(missing)
			}
		}
		g.hi = serial
	}
	g.seen[serial%gapWindow] = serial
}

// observeRecord feeds one record's serial to the tracker.
func (g *gapTracker) observeRecord(p []byte) {
	if _, _, serial, ok := record.Header(p); ok {
		g.observe(serial)
	}
}

// appendAuditStamp appends "audit(SEC.MSEC:0): " for now: the header of the
// records auditdrain writes itself (serial 0: the kernel never uses it).
func appendAuditStamp(b []byte, now time.Time) []byte {
	ms := now.UnixMilli()
	b = append(b, "audit("...)
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	frac := ms % 1000
	if frac < 100 {
		b = append(b, '0')
	}
	if frac < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, frac, 10)
	return append(b, ":0): "...)
}

// lossRecord formats one op=lost accounting record for the deltas d over
// the last interval.
func lossRecord(b []byte, now time.Time, d losses, stallJiffies uint64) []byte {
	b = appendAuditStamp(b[:0], now)
	b = append(b, "op=lost"...)
	for i, c := range lossCauses {
		b = append(b, ' ')
		b = append(b, c...)
		b = append(b, '=')
		b = strconv.AppendUint(b, d[i], 10)
	}
	b = append(b, " stall_jiffies="...)
	b = strconv.AppendUint(b, stallJiffies, 10)
	return append(b, " res=failed"...)
}

// currentLosses snapshots every loss counter, cumulative since start.
func (d *Daemon) currentLosses() losses {
	rs := d.rd.Stats()
	var l losses
	l[0] = d.kpoll.lost.Load()
	l[1] = rs.Overruns
	l[2] = rs.Truncated
	l[3] = d.over.dropped.Load()
	l[4] = d.over.oversized.Load()
	l[5] = d.rateLimited()
	l[6] = d.gaps.gaps.Load()
	if d.w != nil {
		l[7] = d.w.Stats().RecordsLost
	}
	l[8] = d.kpoll.sockDrops.Load()
	return l
}

func (d *Daemon) rateLimited() uint64 {
	if d.limiter == nil {
		return 0
	}
	var n uint64
	for _, k := range d.limiter.Stats() {
		n += k.Suppressed
	}
	return n
}

// account runs about once a second on the goroutine that owns the writer:
// it writes one op=lost record for any loss since the last one, one
// op=ratelimit record per suppressing key, and logs when loss starts and
// stops.
func (d *Daemon) account(now time.Time) {
	d.lastAccount = now
	cur := d.currentLosses()
	delta := cur.sub(d.lastLoss)
	stall := d.kpoll.stallJiffies.Load()
	dStall := stall - d.lastStall
	d.lastLoss, d.lastStall = cur, stall
	if d.limiter != nil {
		d.limiter.Flush(d.rateLimitRecord)
	}
	if delta.any() {
		d.selfBuf = lossRecord(d.selfBuf, now, delta, dStall)
		d.writeSelfBuf(typeDaemonErr)
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
		d.logf("loss stopped; totals since start: %s", formatLosses(cur))
	}
}

func formatLosses(l losses) string {
	b := make([]byte, 0, 128)
	for i, c := range lossCauses {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, c...)
		b = append(b, '=')
		b = strconv.AppendUint(b, l[i], 10)
	}
	return string(b)
}

// rateLimitRecord writes one op=ratelimit summary for a key.
func (d *Daemon) rateLimitRecord(key string, suppressed uint64) {
	b := appendAuditStamp(d.selfBuf[:0], time.Now())
	b = append(b, "op=ratelimit key="...)
	b = strconv.AppendQuote(b, key)
	b = append(b, " suppressed="...)
	b = strconv.AppendUint(b, suppressed, 10)
	d.selfBuf = append(b, " res=failed"...)
	d.writeSelfBuf(typeDaemonErr)
}

// writeSelf writes a record auditdrain makes itself (start, end, accounting).
func (d *Daemon) writeSelf(typ uint16, payload string) {
	d.selfBuf = appendAuditStamp(d.selfBuf[:0], time.Now())
	d.selfBuf = append(d.selfBuf, payload...)
	d.writeSelfBuf(typ)
}

func (d *Daemon) writeSelfBuf(typ uint16) {
	d.selfRecords.Add(1)
	if d.w == nil {
		return
	}
	if err := d.w.Append(typ, d.selfBuf); err != nil && d.writeErr.Load() == nil {
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
		rs.Records, sumLosses(d.currentLosses()), loginUID(), os.Getpid())
}

func sumLosses(l losses) uint64 {
	var n uint64
	for i, c := range lossCauses {
		if c != causeGap { // a heuristic, not counted as certain loss
			n += l[i]
		}
	}
	return n
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

// newLimiter builds the rate limiter from the ratelimit keys (nil when no
// limit is configured, so the hot path skips it).
func newLimiter(rc ratelimit.Config) (*ratelimit.Limiter, error) {
	if len(rc.Rules) == 0 && rc.Default == nil {
		return nil, nil
	}
	return ratelimit.New(rc)
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
