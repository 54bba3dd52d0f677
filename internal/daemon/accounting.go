package daemon

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/blocksys"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/reader"
	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// Version is auditdrain's version, written in its DAEMON_START records.
const Version = "0.1.0"

// kernelPoller polls the kernel's status on a socket of its own
// (auditctl.StatusSocket): lost delta, backlog and its peak, and how long
// audited programs were made to wait (backlog_wait_time_actual).
//
// It is an idle daemon's only periodic wake-up, and it is made to cost as
// little as it can. Its goroutine sleeps in ppoll on an eventfd with the
// time left to the next poll and polls with two blocking system calls: no
// runtime timer is armed and the netpoller is not involved (a time.Ticker
// and the netpoller-based control Conn, which re-arms a read deadline per
// request, woke three more threads per poll). Every second while anything
// moves; after quietPolls polls in a row that saw nothing move (fewer
// than quietRate records a second read, no kernel backlog, loss or stall:
// idle, or everyday rates), every idleEvery, until the reader reads a full
// batch (kick) or a status request refreshes it.
type kernelPoller struct {
	// mu is held by poll: the socket and the last* fields.
	mu  sync.Mutex
	st  *auditctl.StatusSocket
	efd int // eventfd: written by kick and stop, wakes run
	// fds and ts are run's arguments to ppoll, off its stack.
	fds unix.PollFd
	ts  unix.Timespec

	lost         atomic.Uint64 // lost since start
	stallJiffies atomic.Uint64 // backlog_wait_time_actual since start: jiffies audited programs slept (HZ per second)
	backlog      atomic.Uint64
	backlogPeak  atomic.Uint64
	lastLost     uint32
	lastWait     uint32
	lastPoll     atomic.Int64  // time of the last successful poll, Unix nanoseconds
	done         chan struct{} // closed when run returns
	// sockDrops: in multicast mode, the data socket's Drops since start.
	sockDrops    atomic.Uint64
	drops        func() (uint64, error) // nil in unicast mode
	drops0       uint64
	dropsKnown   bool
	polls        atomic.Uint64
	pollErrors   atomic.Uint64
	backlogLimit atomic.Uint64
	// activity, if set, counts what the daemon has read: a poll that sees
	// it unchanged saw nothing move.
	activity     func() uint64
	lastActivity uint64
	// quietRate: fewer records a second than this since the last poll do
	// not count as moving (0: any record does). At everyday rates the
	// poller then backs off as when idle; the reader kicks it on a full
	// batch, and a poll that sees backlog, loss or stall polls again
	// every second.
	quietRate uint64
	// backedOff: run waits idleEvery between polls (set by run, cleared
	// by kick).
	backedOff atomic.Bool
	pid       atomic.Uint32 // the registered audit daemon's pid
	// after, if set, runs after each periodic poll (on run's goroutine).
	after func()
}

const (
	// quietPolls polls in a row that see nothing move make the poller
	// back off to idleEvery.
	quietPolls = 3
	// idleEvery is the poll period of an idle daemon.
	idleEvery = 10 * time.Second
)

func newKernelPoller(lost0, wait0 uint32) (*kernelPoller, error) {
	st, err := auditctl.OpenStatusSocket()
	if err != nil {
		return nil, fmt.Errorf("daemon: opening the status socket: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("daemon: %w", os.NewSyscallError("eventfd", err))
	}
	return &kernelPoller{st: st, efd: efd, lastLost: lost0, lastWait: wait0, done: make(chan struct{})}, nil
}

// run polls every period while anything moves, and every idleEvery
// otherwise, until ctx is cancelled.
func (k *kernelPoller) run(ctx context.Context, every time.Duration) {
	defer close(k.done)
	defer context.AfterFunc(ctx, k.stop)()
	k.fds = unix.PollFd{Fd: int32(k.efd), Events: unix.POLLIN}
	var cnt [8]byte
	quiet := 0
	next := time.Now().Add(every)
	for ctx.Err() == nil {
		if left := time.Until(next); left > 0 {
			k.ts = unix.NsecToTimespec(left.Nanoseconds())
			// Its P is idle at once (blocksys): sysmon goes back to sleep.
			n, _, _ := blocksys.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&k.fds)), 1, uintptr(unsafe.Pointer(&k.ts)), 0, 0, 0) // EINTR: look at the time again
			if n > 0 {
				unix.Read(k.efd, cnt[:]) // kicked (or stopped: the loop ends)
				next = time.Now()
			}
			continue
		}
		if k.poll() {
			quiet = 0
		} else {
			quiet++
		}
		if k.after != nil {
			k.after()
		}
		wait := every
		if quiet >= quietPolls {
			wait = max(every, idleEvery)
			k.backedOff.Store(true)
		} else {
			k.backedOff.Store(false)
		}
		next = time.Now().Add(wait)
	}
}

// kick makes a backed-off poller poll now and every second again. Cheap
// when it is not backed off (one atomic load): the reader calls it after
// each full batch (records arrive faster than it reads them).
func (k *kernelPoller) kick() {
	if k.backedOff.Load() && k.backedOff.CompareAndSwap(true, false) {
		k.wake()
	}
}

// stop wakes run, which returns if its context is done.
func (k *kernelPoller) stop() { k.wake() }

func (k *kernelPoller) wake() {
	var one [8]byte
	one[0] = 1
	unix.Write(k.efd, one[:])
}

// refresh polls now, from the caller's goroutine, if the last poll is
// older than maxAge and no poll is under way: a status request on an idle
// daemon reads fresh kernel counters.
func (k *kernelPoller) refresh(maxAge time.Duration) {
	if time.Since(time.Unix(0, k.lastPoll.Load())) < maxAge || !k.mu.TryLock() {
		return
	}
	k.pollLocked()
	k.mu.Unlock()
}

// close releases the sockets; run must have returned (or never started).
func (k *kernelPoller) close() {
	k.st.Close()
	unix.Close(k.efd)
}

// poll reads the status once. Counters are uint32 in the kernel: deltas
// are taken modulo 2^32 so a wrap is not an absurd count. It reports
// whether anything moved since the last poll: records read, kernel
// backlog, loss, stall or socket drops.
func (k *kernelPoller) poll() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pollLocked()
}

func (k *kernelPoller) pollLocked() bool {
	s, err := k.st.Status()
	if err != nil {
		k.pollErrors.Add(1)
		return true
	}
	k.polls.Add(1)
	now := time.Now().UnixNano()
	prev := k.lastPoll.Swap(now)
	moved := s.Backlog != 0 || s.Lost != k.lastLost || s.BacklogWaitTimeActual != k.lastWait
	if k.activity != nil {
		if a := k.activity(); a != k.lastActivity {
			el := now - prev
			if k.quietRate == 0 || prev == 0 || el <= 0 || (a-k.lastActivity)*uint64(time.Second) >= k.quietRate*uint64(el) {
				moved = true
			}
			k.lastActivity = a
		}
	}
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
			if n-k.drops0 != k.sockDrops.Load() {
				moved = true
			}
			k.sockDrops.Store(n - k.drops0)
		}
	}
	k.backlogLimit.Store(uint64(s.BacklogLimit))
	k.pid.Store(s.PID)
	if uint64(s.Backlog) > k.backlogPeak.Load() {
		k.backlogPeak.Store(uint64(s.Backlog))
	}
	return moved
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
	if w := d.wcur.Load(); w != nil {
		l[pipeline.CauseDisk] = d.wbaseLost.Load() + w.Stats().RecordsLost
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
	if err := d.w.Append(typ, p); err != nil {
		d.noteWriteErr(err)
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
