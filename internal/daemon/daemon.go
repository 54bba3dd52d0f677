// Package daemon owns the running pipeline of `auditdrain run`: it checks
// privileges, applies the kernel settings and rules on the control socket,
// opens the writer, the ring and the reader in that order, moves records
// reader -> ring -> writer on two goroutines (what happens to each record on
// the way is internal/pipeline's policy), serves the control endpoint,
// and on shutdown stops the producers before the consumers (unregister,
// drain the socket, close the ring, drain it, close the writer with a final
// fsync), logging how long each phase took.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/internal/service"
	"github.com/auditdrain/auditdrain/internal/tally"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
	libaudit "github.com/elastic/go-libaudit/v2"
)

// Options are the run-time choices that are not part of the config file.
type Options struct {
	// Discard replaces the writer by a counter: the floor any reader can
	// reach, used by the bench.
	Discard bool
	// Log receives the daemon's log lines (stderr in production).
	Log io.Writer
	// BeforeAppend, if set, runs on the drain goroutine before each record
	// is written: tests use it to stall the writer.
	BeforeAppend func()
}

// Daemon is one running pipeline.
type Daemon struct {
	cfg  config.Config
	opts Options

	ctl  *auditctl.Conn
	rd   *reader.Reader
	ring *ring.Ring
	w    *writer.Writer // nil in discard mode
	// wcur is d.w for goroutines that do not hold d.owner (status,
	// metrics, rotate, the forwarder): a failed upgrade replaces d.w under
	// d.owner. wbase holds the records and losses of the writers replaced.
	wcur                    atomic.Pointer[writer.Writer]
	wbaseRecords, wbaseLost atomic.Uint64
	ctrl                    *controlServer

	started time.Time

	// push is the reader's callback, stored once (no allocation per batch).
	push func(typ uint16, p []byte) error
	// sink is the drain loop's callback, stored once.
	sink func(typ uint16, p []byte)

	pipe    *pipeline.Pipeline // the per-record policy: Push on the reader, Filter under owner
	tally   *tally.Counter     // top's counts: Count and Tick under owner (nil in discard mode)
	kpoll   *kernelPoller
	status0 libaudit.AuditStatus // kernel status at start, for restore_kernel_settings
	// kernelSent: applyKernel changed a setting, so status0 is no longer
	// the kernel's status.
	kernelSent bool
	// deferStatus: the socket was adopted, and the status (status0), the
	// settings and the rules come once reading has resumed (adoptedKernel).
	deferStatus bool

	// owner is held by whoever serves the writer (see readLoop): the
	// writer's Append, Tick and Flush, the pipeline's Filter and the fields
	// below are used only under it.
	owner sync.Mutex
	// inline: the reader's thread may serve the writer itself (reader's
	// thread only). Off when a BeforeAppend hook stalls the writer in
	// tests (a real writer with no batch free makes room() false instead).
	inline bool
	// room reports whether the writer can take the largest record now
	// without waiting for a batch (under owner).
	room func() bool
	// inlineSink is inlineAppend, stored once; inlineBytes is what the
	// current inline pass appended.
	inlineSink  func(typ uint16, p []byte) bool
	inlineBytes int
	// pacer: the reader's thread's wait after a small batch (pace.go).
	pacer reader.Pacer
	// lastAppend is when records last went to the writer (zero: never).
	lastAppend time.Time

	// Accounting, under owner: the last loss snapshot written into
	// the log, and a reusable buffer for the records auditdrain writes.
	lastLoss    pipeline.Losses
	lastStall   uint64
	lastAccount time.Time
	lossActive  bool
	lossLast    time.Time // last second with loss
	selfBuf     []byte
	stopPolling context.CancelFunc

	rules *ruleSource
	// plugins runs plugins.d: every record the pipeline passes is
	// dispatched to it on the drain goroutine, which never waits for it.
	plugins    *pluginSet
	pluginLoss []pipeline.PluginLoss // drain goroutine's buffer for op=lost
	// healthDrained is the drained count at the last watchdog check
	// (watchdog goroutine only).
	healthDrained uint64

	// discard-mode and drain-loop counters.
	drained     atomic.Uint64
	selfRecords atomic.Uint64 // records auditdrain wrote itself (start, end, accounting)
	writeErr    atomic.Pointer[error]

	stopping atomic.Bool

	// fwd forwards the log (forward_url); fwdHook is the writer's
	// BeforeDelete, counting what retention deletes unsent (forward.go).
	fwd     *forwarding
	fwdHook fwdHook

	handover // the audit socket across exec and restart (upgrade.go)
}

func (d *Daemon) logf(format string, args ...any) {
	fmt.Fprintf(d.opts.Log, "auditdrain: "+format+"\n", args...)
}

// Run runs the daemon until ctx is cancelled (SIGTERM/SIGINT), then shuts
// down without losing what it has read. ready, if not nil, is called once the
// daemon is registered, the rules are loaded and the writer is open.
func Run(ctx context.Context, cfg config.Config, opts Options, ready func(*Daemon)) error {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	mode := cfg.Mode
	popts, err := pipelineOptions(cfg)
	if err != nil {
		return err
	}
	if err := checkPrivileges(mode); err != nil {
		return err
	}
	d := &Daemon{cfg: cfg, opts: opts, started: time.Now()}
	defer d.closeAll()
	// Setting GOMAXPROCS (to the value the runtime chose at start) stops
	// the runtime from re-reading the cgroup's CPU limit every second: a
	// periodic wake-up of an idle daemon, for a limit that does not
	// change under it.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))

	phase := time.Now()
	steps := startSteps{last: phase}
	// Rules are parsed before anything touches the kernel: a bad line stops
	// the start with nothing half-done.
	if d.rules, err = prepareRules(cfg); err != nil {
		return fmt.Errorf("daemon: reading the rules: %w", err)
	}
	// An audit socket handed over by the program this one replaced, or by
	// systemd's fd store, is adopted: its registration is ours.
	in, adopt, err := inheritedSocket()
	if err != nil {
		return err
	}
	d.openState(&in)
	// An adopted socket (a restart, an upgrade) is read before anything
	// is asked of the kernel: after a restart under load the kernel's
	// queue is over backlog_limit, and until the socket is read again
	// every request on the control socket waits (audit_receive
	// "penalizes the sender"): 1.2 s per start seen under systemd at
	// 20,000 events/s, while the socket overflowed. The status, the
	// settings and the rules come once reading has resumed.
	deferKernel := adopt && mode == reader.ModeUnicast && in.counters
	d.deferStatus = deferKernel
	dial := auditctl.Dial
	if deferKernel {
		dial = auditctl.DialDeferred
	}
	if d.ctl, err = dial(); err != nil {
		return err
	}
	var st libaudit.AuditStatus
	if !deferKernel {
		if st, err = d.ctl.Status(); err != nil {
			return fmt.Errorf("daemon: reading kernel audit status: %w", err)
		}
		d.status0 = st
	}
	if mode == reader.ModeUnicast && !adopt && st.PID != 0 && st.PID != uint32(os.Getpid()) && processAlive(int(st.PID)) {
		return registeredError(int(st.PID))
	}

	// The ring before the writer: an inherited ring's last frame is
	// judged before the writer repairs its segment (inflight.go).
	if err := d.openRing(in.ringFD); err != nil {
		return err
	}
	if !opts.Discard {
		wc, err := d.writerConfig()
		if err != nil {
			return err
		}
		if d.w, err = writer.Open(wc); err != nil {
			return err
		}
		d.w.At(d.ring.Written(), d.ring.Written())
		d.wcur.Store(d.w)
		steps.mark("state and writer")
		// The first record read after a restart is compared with the
		// highest serial the previous run left in the log.
		popts.PrevSerial = lastSerialBefore(cfg.LogDir, d.w.LastRepair())
	}
	d.ring.DeferWakeups()
	popts.Replayed = d.inflight
	popts.Emit = d.writeSelfPayload
	if d.pipe, err = pipeline.New(d.ring, popts); err != nil {
		return err
	}
	if !opts.Discard {
		d.tally = tally.New(time.Now())
	}
	if err := d.newPlugins(); err != nil {
		return err
	}
	var inp *inherited
	if adopt {
		inp = &in
	}
	d.rd, err = d.openReader(mode, inp)
	if err != nil {
		if errors.Is(err, reader.ErrAlreadyRegistered) {
			if st, serr := d.ctl.Status(); serr == nil && st.PID != 0 {
				return registeredError(int(st.PID))
			}
		}
		return err
	}
	steps.mark("ring, plugins and socket")
	if !deferKernel {
		if err := d.applyKernel(); err != nil {
			return err
		}
		steps.mark("kernel settings and rules")
		if st, err = d.ctl.Status(); err != nil {
			return fmt.Errorf("daemon: reading kernel audit status: %w", err)
		}
	}
	d.storeSocket()
	d.storeRing()
	lost0, wait0 := st.Lost, st.BacklogWaitTimeActual
	if in.counters {
		// Counted from where the previous program (before the exec, or
		// before the crash: the state page) last polled them.
		lost0, wait0 = in.lost, in.wait
	}
	if d.kpoll, err = newKernelPoller(lost0, wait0); err != nil {
		return err
	}
	d.kpoll.pid.Store(st.PID)
	d.saveState()
	d.kpoll.after = func() {
		d.saveState()
		d.rate.sample(d.rd.Stats().Records, time.Now())
		d.idleAccount()
	}
	d.kpoll.activity = func() uint64 { return d.rd.Stats().Records }
	d.kpoll.quietRate = reader.DefaultPaceRate
	if mode == reader.ModeMulticast {
		d.kpoll.drops = d.rd.SocketDrops
		d.kpoll.poll() // the baseline of the socket's Drops
	}
	pollCtx, stopPolling := context.WithCancel(context.Background())
	d.stopPolling = stopPolling
	go d.kpoll.run(pollCtx, time.Second)
	if d.ctrl, err = startControl(cfg.ControlSocket, d); err != nil {
		return err
	}
	if err := d.startForward(); err != nil {
		return err
	}
	steps.mark("poller, control socket and forwarder")

	d.push = d.pipe.Push
	d.sink = d.append
	d.inline = opts.BeforeAppend == nil
	d.inlineSink = d.inlineAppend
	d.pacer.Max = paceFor(paceConfig{cfg.ReadPace, cfg.FlushInterval, cfg.RcvBuf, opts.Discard})
	d.pacer.Fill = d.rd.BatchSize()
	d.room = func() bool { return true }
	if d.w != nil {
		maxRec := d.rd.MaxRecord()
		d.room = func() bool { return d.w.Room(maxRec) }
	}
	d.owner.Lock()
	d.lastAccount = time.Now()
	// After the writer opened, before READY: the plugins get what the log
	// gets, auditdrain's start record first.
	d.startPlugins()
	d.writeSelf(record.TypeDaemonStart, d.startRecord(mode))
	d.repairRecord()
	d.owner.Unlock()
	reading, draining := newLoop(d.readLoop), newLoop(d.drainLoop)
	d.lifecycle.Lock()
	d.reading, d.draining, d.runCtx = reading, draining, ctx
	d.lifecycle.Unlock()
	if deferKernel {
		if err := d.adoptedKernel(); err != nil {
			return errors.Join(err, d.shutdown(reading, draining))
		}
		steps.mark("kernel status, settings and rules (while reading)")
	}
	dest := "log dir " + cfg.LogDir
	if opts.Discard {
		dest = "discard mode: nothing is written"
	}
	d.logf("started in %v%s: %s mode, pid %d, %s, %s",
		time.Since(phase).Round(time.Millisecond), steps, mode, os.Getpid(), d.rules.summary(), dest)
	d.logf("ready")
	notifyCtx, stopNotify := context.WithCancel(context.Background())
	notified := make(chan struct{})
	go func() { d.notifyLoop(notifyCtx); close(notified) }()
	defer func() { stopNotify(); <-notified }()
	if ready != nil {
		ready(d)
	}

	var runErr error
	select {
	case <-ctx.Done():
		d.logf("stopping: %v", context.Cause(ctx))
	case <-reading.done:
		runErr = fmt.Errorf("daemon: reader stopped: %w", reading.err)
	case <-draining.done:
		runErr = fmt.Errorf("daemon: writer stopped: %w", draining.err)
	}
	return errors.Join(runErr, d.shutdown(reading, draining))
}

// loop is a goroutine whose end and error can be waited for more than once.
type loop struct {
	done chan struct{}
	err  error
}

func newLoop(f func() error) *loop {
	l := &loop{done: make(chan struct{})}
	go func() { l.err = f(); close(l.done) }()
	return l
}

func (l *loop) wait() error { <-l.done; return l.err }

// closed reports whether ch is closed, without waiting.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// defaultBacklogWaitTime is the kernel's own default (60 s at HZ=250).
const defaultBacklogWaitTime = 15000

// applyKernel sets the kernel's audit settings and loads the rules. The
// daemon is already registered, so every record these changes cause (the
// CONFIG_CHANGE records) reaches the log.
func (d *Daemon) applyKernel() error {
	c := d.cfg
	if d.status0.Enabled == 2 {
		// -e 2 locked the configuration until reboot: nothing can be
		// changed, but records can still be read.
		d.logf("the kernel's audit configuration is locked (enabled 2) until reboot: keeping its settings and rules")
		d.rules = &ruleSource{where: "none (configuration locked)"}
		return nil
	}
	if c.Mode == reader.ModeMulticast {
		// Beside a registered daemon the kernel's settings and rules are
		// that daemon's: only an explicit rules file is loaded.
		if c.Rules != "" {
			return d.loadRules(c.AllowPanic, nil)
		}
		return nil
	}
	// Only what differs from the kernel's status is sent: a restart finds
	// the settings of the previous run, and each change is a CONFIG_CHANGE
	// record that the kernel makes this process (not the registered pid
	// after adopting a socket) wait to queue while the backlog is full.
	st0 := d.status0
	if c.Failure >= 0 && uint32(c.Failure) != st0.Failure {
		d.kernelSent = true
		if err := d.ctl.SetFailure(uint32(c.Failure), c.AllowPanic); err != nil {
			return fmt.Errorf("daemon: setting failure mode %d: %w", c.Failure, err)
		}
	}
	var s libaudit.AuditStatus
	if c.BacklogLimit >= 0 && uint32(c.BacklogLimit) != st0.BacklogLimit {
		s.Mask |= libaudit.AuditStatusBacklogLimit
		s.BacklogLimit = uint32(c.BacklogLimit)
	}
	switch wait := c.BacklogWaitTime; c.KernelBackpressure {
	case config.BackpressureDrop:
		s.BacklogWaitTime = 0
	case config.BackpressureWait:
		if wait <= 0 {
			wait = defaultBacklogWaitTime
		}
		s.BacklogWaitTime = uint32(wait)
	default:
		if wait >= 0 {
			s.BacklogWaitTime = uint32(wait)
		} else {
			s.BacklogWaitTime = st0.BacklogWaitTime
		}
	}
	if s.BacklogWaitTime != st0.BacklogWaitTime {
		s.Mask |= libaudit.AuditStatusBacklogWaitTime
	}
	if c.RateLimit >= 0 && uint32(c.RateLimit) != st0.RateLimit {
		s.Mask |= libaudit.AuditStatusRateLimit
		s.RateLimit = uint32(c.RateLimit)
	}
	if s.Mask != 0 {
		d.kernelSent = true
		if err := d.ctl.Set(s); err != nil {
			return fmt.Errorf("daemon: applying kernel settings (backlog_limit %d, backlog_wait_time %d, rate_limit %d): %w",
				c.BacklogLimit, c.BacklogWaitTime, c.RateLimit, err)
		}
	}
	// enabled comes before the rules, as auditd enables auditing before
	// augenrules loads them: a rules -e line (-e 2 locks the
	// configuration) is the last word, and when loading stops at a refused
	// rule before it, auditing is still enabled. The rules' control lines
	// (-b, -f, --backlog_wait_time) override the settings above, as they
	// do after auditd starts.
	if c.Enabled >= 0 && uint32(c.Enabled) != st0.Enabled {
		d.kernelSent = true
		if err := d.ctl.SetEnabled(uint32(c.Enabled)); err != nil {
			return fmt.Errorf("daemon: setting enabled %d: %w", c.Enabled, err)
		}
	}
	var known *libaudit.AuditStatus // the kernel's status, when nothing was sent since status0
	if !d.kernelSent {
		known = &st0
	}
	if err := d.loadRules(c.AllowPanic, known); err != nil {
		return err
	}
	// kernel_backpressure is an explicit choice about stalling programs:
	// it wins over a rules.d --backlog_wait_time (unless -e 2 locked it),
	// the only thing that can have changed it since it was set above.
	rulesWait := d.rules != nil && d.rules.set != nil && d.rules.set.BacklogWaitTime != nil
	if rulesWait && (c.KernelBackpressure == config.BackpressureWait || c.KernelBackpressure == config.BackpressureDrop) {
		if st, err := d.ctl.Status(); err == nil && st.Enabled != 2 && st.BacklogWaitTime != s.BacklogWaitTime {
			if err := d.ctl.SetBacklogWaitTime(s.BacklogWaitTime); err != nil {
				return fmt.Errorf("daemon: kernel_backpressure = %s: setting backlog_wait_time %d: %w", c.KernelBackpressure, s.BacklogWaitTime, err)
			}
		}
	}
	return nil
}

// The records' path: the reader's thread, locked to its OS thread and
// blocked in recvmmsg, pushes each batch into the ring. Then, as long as
// the writer can take the batch without waiting, that same thread drains
// the ring into the writer right away: at everyday rates the one thread the
// kernel woke does all the work, and no other thread is woken for a record.
// It hands the ring to the drain loop (one wake-up) only when it must not
// wait: the writer's batches are all in flight (backpressure), or someone
// else is serving the writer. The ring then absorbs what the reader keeps
// reading while the writer catches up.
//
// Whoever serves the writer (drains the ring, appends, ticks, writes the
// accounting records) holds d.owner: the reader's thread (TryLock, never
// waiting), the drain loop, or the kernel poller (the accounting of an idle
// pipeline). No periodic timer runs for records: the reader's thread waits
// in recvmmsg with a timeout only while the writer holds records not yet
// sealed (until the batch is due, Writer.SealDue), and without a timeout
// otherwise; the drain loop waits for the ring without a timeout.

// inlineMax bounds what the reader's thread drains in one pass (payload
// bytes), so that accounting and timers are looked at under a steady load.
const inlineMax = 256 << 10

// readLoop moves records from the socket into the ring, and on to the
// writer when it can, until shutdown.
func (d *Daemon) readLoop() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The records written at start (DAEMON_START, a repair notice) are
	// pending: look at the writer within flush_interval.
	timeout := d.cfg.FlushInterval
	for {
		n, err := d.rd.ReadBatchTimeout(timeout, d.push)
		if n > 0 && d.rd.LastFull() {
			d.kpoll.kick() // a burst: poll the kernel every second
		}
		if err != nil {
			d.ring.Wake()
			if d.stopping.Load() {
				return nil
			}
			if d.parkIfAsked() {
				continue
			}
			return err
		}
		timeout = d.pace(n, d.afterRead())
	}
}

// afterRead runs on the reader's thread after each batch (or timeout). It
// serves the writer itself when it can do so without waiting, else hands
// the ring to the drain loop. It returns how long the next read may wait
// (0: no limit) before the writer must be looked at again.
func (d *Daemon) afterRead() time.Duration {
	if !d.inline || !d.owner.TryLock() {
		d.ring.Wake()
		return d.cfg.FlushInterval
	}
	now := time.Now()
	if d.room() {
		d.inlineBytes = 0
		if d.ring.DrainWhile(d.inlineSink) > 0 {
			d.lastAppend = now
		}
	}
	err := d.serve(now, 0)
	due := d.sealWait(now)
	d.owner.Unlock()
	if err != nil {
		// The drain loop meets the same error, reports it and ends.
		d.inline = false
		d.ring.Kick()
		return d.cfg.FlushInterval
	}
	if d.ring.Len() > 0 {
		d.ring.Wake() // the writer had no room for all of it
		return d.cfg.FlushInterval
	}
	return due
}

// inlineAppend is the reader's thread's per-record callback: it appends the
// record and goes on while the writer has room for the next one without
// waiting, up to inlineMax bytes.
func (d *Daemon) inlineAppend(typ uint16, p []byte) bool {
	d.append(typ, p)
	d.inlineBytes += len(p)
	return d.inlineBytes < inlineMax && d.room()
}

// serve drains at most maxBytes from the ring into the writer (none when
// maxBytes is 0), then seals a batch that is due and writes the accounting
// records when a second has passed. The caller holds d.owner.
func (d *Daemon) serve(now time.Time, maxBytes int) error {
	if maxBytes > 0 && d.ring.Drain(maxBytes, d.sink) > 0 {
		d.lastAppend = now
	}
	if ep := d.writeErr.Load(); ep != nil {
		return *ep
	}
	if now.Sub(d.lastAccount) >= time.Second {
		d.account(now)
	}
	if d.w != nil {
		return d.w.Tick(now)
	}
	return nil
}

// sealWait returns how long the reader may wait before the writer must be
// ticked: until its open batch is due to be sealed (Writer.SealDue),
// rounded up to a multiple of flush_interval, or 0 (no limit) when no
// batch is open. Rounded, the timeout keeps the same value from batch to
// batch, and the reader sets it on its socket only when it changes. The
// caller holds d.owner.
func (d *Daemon) sealWait(now time.Time) time.Duration {
	if d.w == nil {
		return 0
	}
	due, ok := d.w.SealDue()
	if !ok {
		return 0
	}
	step := d.cfg.FlushInterval
	n := (due.Sub(now) + step - 1) / step
	return max(n, 1) * step
}

// drainLoop moves records from the ring into the writer when the reader's
// thread handed them over, until the ring is closed and empty.
func (d *Daemon) drainLoop() error {
	for {
		// A reader waiting for a shared ring's space is looked after every
		// flush_interval until it has room (see below).
		var wait time.Duration
		if d.ring.Shared() && d.ring.ProducerWaiting() {
			wait = d.cfg.FlushInterval
		}
		ok := d.ring.Wait(wait)
		d.owner.Lock()
		// One bounded drain per pass, so accounting and Tick still run
		// under a load that never lets the ring empty.
		err := d.serve(time.Now(), 4<<20)
		if err == nil && d.w != nil && d.ring.Shared() && d.ring.ProducerWaiting() {
			// A shared ring's space comes back only once its records are
			// written: seal the open batch instead of waiting for its
			// time, and when nothing is left to write (the records were
			// all left out: rate limit, EOE), release them here.
			err = d.w.Flush()
			if mark, settled := d.w.Settled(); settled {
				d.ring.Release(mark)
			}
		}
		d.owner.Unlock()
		if err != nil {
			return err
		}
		if !ok && d.ring.Closed() && d.ring.Len() == 0 {
			return nil
		}
	}
}

// idleAccount runs on the kernel poller's goroutine after each poll: when
// no one is serving the writer, it writes the accounting records itself
// (loss seen by the kernel while no record arrives, the end of a loss
// episode) and seals them at once, since no timer runs for an idle writer.
func (d *Daemon) idleAccount() {
	if !d.owner.TryLock() {
		return // the owner accounts
	}
	defer d.owner.Unlock()
	now := time.Now()
	if d.ring.Closed() || d.lastAccount.IsZero() || now.Sub(d.lastAccount) < time.Second {
		return
	}
	n := d.selfRecords.Load()
	d.account(now)
	if d.selfRecords.Load() != n && d.w != nil {
		if err := d.w.Flush(); err != nil {
			d.noteWriteErr(err)
		}
	}
}

// append is the drain loop's per-record callback.
func (d *Daemon) append(typ uint16, p []byte) {
	d.drained.Add(1)
	if d.w == nil {
		return
	}
	// Where the record is in the ring: the writer's frames carry it, so
	// that its space is reused only once it is written (inflight.go).
	start, end := d.ring.Current()
	d.w.At(start, end)
	d.tally.Count(typ, p)
	if !d.pipe.Filter(typ, p) {
		d.w.At(end, end) // left out: nothing to write
		if typ == record.TypeEOE && !d.cfg.WriteEOE {
			d.plugins.disp.Dispatch(typ, p) // auditd sends EOE to plugins, though it does not log it
		}
		return
	}
	d.plugins.disp.Dispatch(typ, p)
	if d.opts.BeforeAppend != nil {
		d.opts.BeforeAppend()
	}
	if err := d.w.Append(typ, p); err != nil {
		d.noteWriteErr(err)
	}
}

// noteWriteErr keeps the writer's first error. Taking the address of a
// variable of the per-record path moves it to the heap on every call (an
// allocation per record); the parameter here is moved only when an error
// is noted.
func (d *Daemon) noteWriteErr(err error) {
	if d.writeErr.Load() == nil {
		d.writeErr.Store(&err)
	}
}

// shutdown stops the producers before the consumers: unregister so the
// kernel sends nothing more, drain what is already in the socket, close the
// ring, let the drain loop empty it, close the writer (final fsync).
func (d *Daemon) shutdown(reading, draining *loop) error {
	t0 := time.Now()
	d.lifecycle.Lock() // not during an upgrade
	d.stopping.Store(true)
	// If the writer dies at any point from here on, nothing empties the
	// ring: release a reader blocked on it, whatever step shutdown is at.
	go func() { <-draining.done; d.ring.Close() }()
	var errs []error
	if d.rd.Mode() == reader.ModeUnicast && d.keepRegistration() {
		// The registration stays with the socket (see keepRegistration).
	} else if d.rd.Mode() == reader.ModeUnicast {
		// Records still in the kernel's queue when we unregister are freed
		// without being counted anywhere (no audit=1 hold queue): keep
		// reading until the queue is empty, for a bounded time, if there
		// is still a pipeline to read into.
		if !closed(reading.done) && !closed(draining.done) {
			d.waitKernelQueue(2 * time.Second)
		}
		if err := d.ctl.Unregister(); err != nil {
			errs = append(errs, fmt.Errorf("daemon: unregistering: %w", err))
		}
	}
	// Wake the reader, wait for it to leave its loop, then empty the socket
	// (twice, a moment apart: kauditd may be mid-send when we unregister).
	d.rd.SetDeadline(time.Now())
	if err := reading.wait(); err != nil {
		errs = append(errs, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := d.rd.Drain(d.push); err != nil {
			errs = append(errs, err)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs := d.rd.Stats()
	d.logf("reader stopped in %v: %d records read", time.Since(t0).Round(time.Millisecond), rs.Records)

	t1 := time.Now()
	d.ring.Close()
	if err := draining.wait(); err != nil {
		errs = append(errs, err)
	}
	// The drain loop is gone: this goroutine now owns the writer.
	d.stopPolling()
	<-d.kpoll.done
	d.kpoll.poll()
	d.account(time.Now())
	d.writeSelf(record.TypeDaemonEnd, d.endRecord())
	// Before the writer closes: the plugins get their queues.
	if err := d.stopPlugins(); err != nil {
		errs = append(errs, err)
	}
	// (Not when the status was never read: an adopted socket's start that
	// stopped before adoptedKernel.)
	if d.cfg.RestoreKernelSettings && !d.deferStatus && d.rd.Mode() == reader.ModeUnicast && d.status0.Enabled != 2 {
		if err := d.restoreKernel(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.w != nil {
		if err := d.w.Close(); err != nil {
			errs = append(errs, err)
		}
		ws := d.w.Stats()
		d.logf("writer closed in %v: %d records, %d bytes on disk, %d fsyncs", time.Since(t1).Round(time.Millisecond), ws.Records, ws.BytesOut, ws.Fsyncs)
	} else {
		d.logf("discarded %d records", d.drained.Load())
	}
	return errors.Join(errs...)
}

// waitKernelQueue waits, at most max, until the kernel's audit queue is
// empty, while the reader keeps reading.
func (d *Daemon) waitKernelQueue(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		st, err := d.ctl.Status()
		if err != nil || st.Backlog == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.logf("the kernel's audit queue did not empty within %v; records left in it are lost at unregistering", max)
}

// closeAll releases whatever was opened; safe after a partial start.
func (d *Daemon) closeAll() {
	d.stopForward()
	if d.stopPolling != nil {
		d.stopPolling()
		<-d.kpoll.done
	}
	if d.kpoll != nil {
		d.kpoll.close()
	}
	if d.ctrl != nil {
		d.ctrl.Close()
	}
	if d.rd != nil {
		if d.rd.Mode() == reader.ModeUnicast && !d.stopping.Load() && d.ctl != nil && !d.fdStored.Load() {
			d.ctl.Unregister()
		}
		d.rd.Close()
	}
	if d.ring != nil {
		d.ring.Close()
	}
	d.stopPlugins() // a no-op after shutdown's
	if d.w != nil {
		d.w.Close()
	}
	if d.ctl != nil {
		d.ctl.Close()
	}
}

// startSteps times the slow steps of a start, for its log line: a start
// that takes long (a torn segment to repair, a kernel that makes the
// daemon wait to queue a CONFIG_CHANGE record in a full backlog) says
// where the time went.
type startSteps struct {
	last time.Time
	slow []string
}

// mark ends the step called name; a step over 100 ms is kept for String.
func (s *startSteps) mark(name string) {
	now := time.Now()
	if d := now.Sub(s.last); d >= 100*time.Millisecond {
		s.slow = append(s.slow, fmt.Sprintf("%s %v", name, d.Round(time.Millisecond)))
	}
	s.last = now
}

// String is " (step 1.2s, ...)", or "" when no step was slow.
func (s startSteps) String() string {
	if len(s.slow) == 0 {
		return ""
	}
	return " (" + strings.Join(s.slow, ", ") + ")"
}

// adoptedKernel is, for an adopted socket, what a start does with the
// kernel before it reads (see Run): read the status, check that the socket
// still holds the registration, apply the settings and the rules. It runs
// while the reader drains the socket, so its requests do not wait on a
// full kernel queue.
func (d *Daemon) adoptedKernel() error {
	st, err := d.ctl.Status()
	if err != nil {
		return fmt.Errorf("daemon: reading kernel audit status: %w", err)
	}
	d.status0, d.deferStatus = st, false
	d.kpoll.pid.Store(st.PID)
	if st.PID == 0 {
		// Released meanwhile (someone set pid 0): the socket cannot
		// register while the reader reads it. Stop, and let the next
		// start open a socket of its own.
		if _, err := service.NewNotifier().RemoveFD(service.FDNameAudit); err != nil {
			d.logf("%v", err)
		}
		return fmt.Errorf("daemon: the adopted audit socket is no longer registered (the kernel shows pid 0): stopping, so that the next start registers anew")
	}
	d.logf("adopted the audit socket %s, registered by pid %d", d.socketSource, st.PID)
	return d.applyKernel()
}
