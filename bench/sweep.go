package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/writer"
)

// KernelDefaultBacklogWaitTime is the kernel's default backlog_wait_time
// (60 s in jiffies at HZ 250), the one --stall runs under.
const KernelDefaultBacklogWaitTime = 15000

const (
	// backlogPollInterval is how often the backlog poller samples.
	backlogPollInterval = 10 * time.Millisecond
	// settleWindow is how long the backlog must stay empty and the
	// reader's progress unchanged for a step's records to count as drained.
	settleWindow = 300 * time.Millisecond
	// drainTimeout bounds the wait for a reader to drain after the load.
	drainTimeout = 60 * time.Second
)

// Options configure a bench run.
type Options struct {
	// Readers under test, in the order of the first rate (the order
	// alternates from one rate to the next).
	Readers []string
	// Load is the load's name (LoadSyscall, ...).
	Load string
	// Rates are the offered rates in events/s, swept low to high; 0 = flat out.
	Rates []float64
	// Duration is how long each step's load runs.
	Duration time.Duration
	// Threads is the number of load threads.
	Threads int
	// Settings are the kernel settings every step runs under.
	Settings Settings
	// Stall marks a --stall run (a backlog_wait_time where programs wait
	// rather than records being dropped); reported only.
	Stall bool
	// Sets are --set key=value options passed to auditdrain.
	Sets []string
	// Bin is the auditdrain binary under test (run, cat, status).
	Bin string
	// Self is the auditdrain binary that runs the bench's own helpers: the
	// load worker and the floor reader. It defaults to Bin; `auditdrain
	// bench --bin OLD` keeps this executable as Self, so an older build can
	// be measured in today's harness.
	Self string
	// Auditd is the auditd binary; auditd readers are skipped, with a
	// note, when it is missing.
	Auditd string
	// AuditdConf is auditd's shipped configuration, the base of both
	// auditd readers' configurations.
	AuditdConf string
	// Idle, when positive, adds an idle step for each reader before the
	// sweep: its CPU and wake-ups over Idle with the rules loaded and no
	// load.
	Idle time.Duration
	// Rules are extra audit rules (auditctl syntax, one per line) loaded
	// beside the load's for every load step (not the idle steps: such
	// rules audit the whole machine, which is then not idle): a realistic
	// rule set (Debian's STIG example, an unfiltered execve rule) makes
	// records from the whole machine, and bytes and CPU per record are
	// then figures of an everyday host. They are deleted after each step.
	Rules []string
	// WorkDir is where each step's temporary directory is made.
	WorkDir string
	// Log, when set, receives notes while the run waits (for the
	// machine-wide lock).
	Log io.Writer
	// Progress, when set, is called before each step with the number of
	// steps done and a description of the next, and once at the end with
	// an empty description (done < total when interrupted), from the
	// goroutine that called Run.
	Progress func(done, total int, current string)
}

// Result is a whole bench run: what it ran on, with what, and what it found.
type Result struct {
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Load     string    `json:"load"`
	Threads  int       `json:"threads"`
	Duration float64   `json:"duration_seconds"`
	Settings Settings  `json:"settings"`
	Stall    bool      `json:"stall"`
	Sets     []string  `json:"set,omitempty"`
	Readers  []string  `json:"readers"`
	Idle     []Idle    `json:"idle,omitempty"`
	Steps    []Step    `json:"steps"`
	Knees    []Knee    `json:"knees"`
	Ratios   []Ratio   `json:"ratios,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
}

// ErrOptions is wrapped by the errors for invalid Options.
var ErrOptions = errors.New("bench: invalid options")

// validate checks o, and drops the auditd readers when auditd is missing,
// returning a note saying so.
func (o *Options) validate() (notes []string, err error) {
	if len(o.Readers) == 0 {
		return nil, fmt.Errorf("%w: no readers", ErrOptions)
	}
	for i, r := range o.Readers {
		if !slices.Contains(AllReaders(), r) {
			return nil, fmt.Errorf("%w: %w %q (want some of %v)", ErrOptions, ErrUnknownReader, r, AllReaders())
		}
		if slices.Contains(o.Readers[:i], r) {
			return nil, fmt.Errorf("%w: reader %q given twice", ErrOptions, r)
		}
	}
	if len(o.Rates) == 0 {
		return nil, fmt.Errorf("%w: no rates", ErrOptions)
	}
	for _, r := range o.Rates {
		if r < 0 {
			return nil, fmt.Errorf("%w: negative rate %v", ErrOptions, r)
		}
	}
	if o.Duration <= 0 {
		return nil, fmt.Errorf("%w: duration %v", ErrOptions, o.Duration)
	}
	if o.Threads < 1 {
		return nil, fmt.Errorf("%w: %d threads", ErrOptions, o.Threads)
	}
	if slices.Contains(o.Readers, ReaderAuditdrain) || slices.Contains(o.Readers, ReaderDiscard) {
		if _, err := os.Stat(o.Bin); err != nil {
			return nil, fmt.Errorf("%w: auditdrain binary: %w", ErrOptions, err)
		}
	}
	if slices.ContainsFunc(o.Readers, isAuditd) {
		_, err1 := os.Stat(o.Auditd)
		_, err2 := os.Stat(o.AuditdConf)
		if err := errors.Join(err1, err2); err != nil {
			o.Readers = slices.DeleteFunc(slices.Clone(o.Readers), isAuditd)
			notes = append(notes, fmt.Sprintf("auditd readers skipped: auditd is not installed (%v)", err))
			if len(o.Readers) == 0 {
				return notes, fmt.Errorf("%w: no reader left to run (%v)", ErrOptions, err)
			}
		}
	}
	return notes, nil
}

// plannedStep is one step of a sweep before it runs.
type plannedStep struct {
	rate   float64
	reader string
}

// plan lists the steps of a sweep: rates in the order given; within each
// rate every reader, in the given order for even rate indexes and reversed
// for odd ones, so that no reader always runs first or last (a machine
// warming up or filling its page cache favours no one).
func plan(readers []string, rates []float64) []plannedStep {
	var out []plannedStep
	for i, rate := range rates {
		order := slices.Clone(readers)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, r := range order {
			out = append(out, plannedStep{rate: rate, reader: r})
		}
	}
	return out
}

// Run runs the sweep against the kernel. It holds the machine-wide audit
// lock throughout, and restores the kernel's settings and removes its rules
// before returning, also when ctx is cancelled (then the steps measured so
// far are returned with ctx's error). Readers are started fresh for every
// step.
func Run(ctx context.Context, o Options) (*Result, error) {
	return run(ctx, o, auditctl.LockMachine)
}

// run is Run with the machine lock taken by lock; a test that already holds
// it (flock does not nest within a process) passes one that does nothing.
func run(ctx context.Context, o Options, lock func() (func(), error)) (_ *Result, err error) {
	notes, err := o.validate()
	if err != nil {
		return nil, err
	}
	res := &Result{
		Machine:  readMachine(),
		Started:  time.Now(),
		Load:     o.Load,
		Threads:  o.Threads,
		Duration: o.Duration.Seconds(),
		Settings: o.Settings,
		Stall:    o.Stall,
		Sets:     o.Sets,
		Readers:  o.Readers,
		Notes:    notes,
	}
	if res.Machine.HZAssumed {
		res.Notes = append(res.Notes, fmt.Sprintf("kernel HZ unknown; stall times assume HZ %d", res.Machine.HZ))
	}

	scratch, err := os.MkdirTemp(o.WorkDir, "auditdrain-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: cannot create work directory in %q: %w", o.WorkDir, err)
	}
	defer os.RemoveAll(scratch)
	// This process's load only names the load and checks it can be set
	// up; each step runs it in a fresh process (startLoadProcess).
	load, err := NewLoad(o.Load, scratch, os.Getpid())
	if err != nil {
		return nil, err
	}

	waiting := time.AfterFunc(time.Second, func() {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "bench: waiting for the machine-wide audit lock (%s): another test or benchmark is using the kernel\n", auditctl.LockPath)
		}
	})
	unlock, err := lock()
	waiting.Stop()
	if err != nil {
		return nil, fmt.Errorf("bench: cannot take the machine-wide audit lock: %w", err)
	}
	defer unlock()
	k, err := openKernel()
	if err != nil {
		return nil, err
	}
	defer k.close()
	defer func() { err = errors.Join(err, k.restore()) }()

	env := &readerEnv{
		bin:        o.Bin,
		self:       o.self(),
		sets:       o.Sets,
		settings:   o.Settings,
		auditd:     o.Auditd,
		auditdConf: o.AuditdConf,
		kernel:     k,
	}
	s := &sweeper{o: o, env: env, k: k, load: load, scratch: scratch, hz: res.Machine.HZ}
	steps := plan(o.Readers, o.Rates)
	if o.Idle > 0 {
		for i, name := range o.Readers {
			if ctx.Err() != nil || name == ReaderNone {
				continue
			}
			if o.Progress != nil {
				o.Progress(0, len(steps), fmt.Sprintf("%s idle for %v", name, o.Idle))
			}
			res.Idle = append(res.Idle, s.idleStep(ctx, i, name, o.Idle))
		}
	}
	for i, p := range steps {
		if ctx.Err() != nil {
			break
		}
		if o.Progress != nil {
			o.Progress(i, len(steps), fmt.Sprintf("%s at %s", p.reader, rateLabel(p.rate)))
		}
		st := s.step(ctx, i, p)
		res.Steps = append(res.Steps, st)
		if st.notAudited() {
			err = fmt.Errorf("%w: %s read %d records and 0 of the %d events the load caused, and the kernel lost none", ErrNotAudited, st.Reader, st.Records, st.Events)
			break
		}
	}
	if o.Progress != nil {
		o.Progress(len(res.Steps), len(steps), "")
	}
	res.Knees = Knees(res.Steps)
	res.Ratios = Ratios(res.Knees, ReaderAuditdrain)
	return res, errors.Join(err, ctx.Err())
}

// self returns the binary that runs the load worker and the floor reader.
func (o Options) self() string {
	if o.Self != "" {
		return o.Self
	}
	return o.Bin
}

// sweeper runs the steps of one Run. It is used by Run's goroutine only.
type sweeper struct {
	o       Options
	env     *readerEnv
	k       *kernel
	load    Load
	scratch string
	hz      int
}

// step runs one step: a fresh reader, the kernel settings, the load's
// rules, the load, a drain, the reader's figures, and the count of what
// reached its output. Whatever fails is recorded in the Step's Error; the
// reader is stopped and the rules deleted in every case.
func (s *sweeper) step(ctx context.Context, idx int, p plannedStep) Step {
	m := measure{reader: p.reader, load: s.load.Name(), offered: p.rate, hz: s.hz}
	if err := s.measure(ctx, idx, p, &m); err != nil {
		m.err = err
	}
	return newStep(m)
}

func (s *sweeper) measure(ctx context.Context, idx int, p plannedStep, m *measure) (err error) {
	// Cleanup must run to completion even when ctx is cancelled.
	cctx := context.WithoutCancel(ctx)
	dir, err := os.MkdirTemp(s.o.WorkDir, "auditdrain-bench-"+p.reader+"-")
	if err != nil {
		return fmt.Errorf("bench: cannot create step directory in %q: %w", s.o.WorkDir, err)
	}
	defer os.RemoveAll(dir)

	r, err := startReader(ctx, s.env, p.reader, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	if err := s.k.apply(s.o.Settings); err != nil {
		return err
	}
	if err := s.settle(ctx, r); err != nil {
		return err
	}
	before, err := s.k.status()
	if err != nil {
		return err
	}
	// The daemon's latency histogram now, so that the step's figures
	// count only the records of the step (not the start's frames); read
	// before the CPU, which the status request costs.
	var latBefore map[string]any
	if r.isDaemon() {
		if latBefore, err = r.daemonStatus(ctx); err != nil {
			return err
		}
	}
	cpuBefore, _, err := r.usage()
	if err != nil {
		return err
	}
	m.perEvent = s.load.RecordsPerEvent()

	// The load's process starts now, after audit is enabled, so its
	// threads are audited; the rules are scoped to its pid.
	lp, err := startLoadProcess(ctx, s.o.self(), s.load.Name(), s.scratch)
	if err != nil {
		return err
	}
	defer lp.close()
	key := fmt.Sprintf("adbench_%d_%d", os.Getpid(), idx)
	rules := append(lp.Rules(key), s.o.Rules...)
	// The discard reader's count of records read is all there is to go
	// by: measure how many records adding the rules made (a CONFIG_CHANGE
	// and the records of the syscall that sent it); deleting them makes
	// about as many.
	var recRules, recStart, overhead int64
	if r.estimated() {
		if recRules, err = r.progress(ctx); err != nil {
			return err
		}
	}
	if err := s.k.addRules(rules); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.k.deleteRules()) }()
	if r.estimated() {
		// Only the kernel is watched here: the status command run by
		// progress would itself be audited by the exec load's rule.
		if err := s.settleKernel(ctx); err != nil {
			return err
		}
		if recStart, err = r.progress(ctx); err != nil {
			return err
		}
		overhead = recStart - recRules
	}

	poller, err := startBacklogPoller(backlogPollInterval)
	if err != nil {
		return err
	}
	m.out, err = lp.Run(ctx, LoadSpec{Rate: p.rate, Threads: s.o.Threads, Duration: s.o.Duration, Key: key})
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("bench: step interrupted: %w", ctx.Err())
	}
	// Deleting the rules logs records, which also makes the kernel retry
	// any record waiting in its retry queue.
	err = errors.Join(err, s.k.deleteRules())
	err = errors.Join(err, s.settle(cctx, r))
	peak, perr := poller.Stop()
	m.backlogPeak = peak
	if err = errors.Join(err, perr); err != nil {
		return err
	}
	after, err := s.k.status()
	if err != nil {
		return err
	}
	m.lostBefore, m.lostAfter = before.Lost, after.Lost
	m.waitBefore, m.waitAfter = before.BacklogWaitTimeActual, after.BacklogWaitTimeActual
	if !r.alive() {
		return fmt.Errorf("bench: reader %s died during the step (output: %s)", r.name, r.output.String())
	}

	// The CPU is read before the daemon is asked for its latency (a
	// status request costs it some).
	cpuAfter, rss, err := r.usage()
	if err != nil {
		return err
	}
	if r.isDaemon() {
		st, err := r.daemonStatus(cctx)
		if err != nil {
			return err
		}
		m.p50, m.p99 = stepLatency(latBefore, st)
	}
	if r.estimated() {
		n, err := r.recordsRead(cctx)
		if err != nil {
			return err
		}
		m.counted, m.estimated = true, true
		m.records = n - recStart
		m.onDisk = estimateEvents(m.records, overhead, m.perEvent, m.out.Events)
	}
	m.cpuSeconds, m.peakRSS = cpuAfter-cpuBefore, rss
	if err := r.stop(); err != nil {
		return err
	}
	switch r.name {
	case ReaderAuditdrain, ReaderAuditd, ReaderAuditdRaw, ReaderAuditdData:
		c, size, err := r.count(cctx, lp.Matcher(key))
		if err != nil {
			return err
		}
		m.counted, m.onDisk, m.records, m.bytes = true, c.Matched, c.Records, size
	}
	return nil
}

// settle waits until the kernel backlog is empty and the reader's progress
// has not changed for settleWindow.
func (s *sweeper) settle(ctx context.Context, r *runningReader) error {
	deadline := time.Now().Add(drainTimeout)
	last, since := int64(-1), time.Now()
	for {
		st, err := s.k.status()
		if err != nil {
			return err
		}
		p, err := r.progress(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if p != last || st.Backlog != 0 {
			last, since = p, now
		} else if now.Sub(since) >= settleWindow {
			return nil
		}
		if now.After(deadline) {
			return fmt.Errorf("bench: reader %s not drained after %v (backlog %d)", r.name, drainTimeout, st.Backlog)
		}
		if !r.alive() {
			return fmt.Errorf("bench: reader %s exited (output: %s)", r.name, r.output.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// settleKernel waits until the kernel backlog has stayed empty for
// settleWindow.
func (s *sweeper) settleKernel(ctx context.Context) error {
	deadline := time.Now().Add(drainTimeout)
	since := time.Now()
	for {
		st, err := s.k.status()
		if err != nil {
			return err
		}
		now := time.Now()
		if st.Backlog != 0 {
			since = now
		} else if now.Sub(since) >= settleWindow {
			return nil
		}
		if now.After(deadline) {
			return fmt.Errorf("bench: kernel backlog still %d after %v", st.Backlog, drainTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stepLatency returns the p50 and p99 (ms) of the records written between
// two status readings, from the daemon's per-record latency histogram
// (latency_counts), interpolated linearly within the bucket holding the
// quantile, as Prometheus' histogram_quantile does; a daemon without it
// (bench --bin OLD) gives its lifetime figures (upper bucket bounds).
func stepLatency(before, after map[string]any) (p50, p99 *float64) {
	b, okB := latencyCounts(before)
	a, okA := latencyCounts(after)
	maxMs, _ := statusNumber(after, "latency_max_ms")
	if !okA || !okB {
		return positive(after, "latency_p50_ms"), positive(after, "latency_p99_ms")
	}
	var h writer.LatencyHistogram
	for i := range h.Counts {
		if a[i] >= b[i] {
			h.Counts[i] = a[i] - b[i]
		}
	}
	h.Max = time.Duration(maxMs * float64(time.Millisecond))
	if h.Count() == 0 {
		return nil, nil
	}
	ms := func(q float64) *float64 {
		v := float64(interpolate(h, q)) / float64(time.Millisecond)
		return &v
	}
	return ms(0.5), ms(0.99)
}

// interpolate returns the q-quantile of h, linear within its bucket
// (whose top is h.Max for the last bucket, or when h.Max is lower).
func interpolate(h writer.LatencyHistogram, q float64) time.Duration {
	rank := q * float64(h.Count())
	var cum float64
	lower := time.Duration(0)
	for i, c := range h.Counts {
		upper := writer.LatencyBucketBound(i)
		if upper == 0 || (h.Max > 0 && h.Max < upper) {
			upper = max(h.Max, lower)
		}
		if c > 0 && cum+float64(c) >= rank {
			return lower + time.Duration(float64(upper-lower)*(rank-cum)/float64(c))
		}
		cum += float64(c)
		lower = upper
	}
	return h.Max
}

// latencyCounts returns a status's latency_counts.
func latencyCounts(st map[string]any) ([writer.NumLatencyBuckets]uint64, bool) {
	var c [writer.NumLatencyBuckets]uint64
	l, ok := statusValue(st, "latency_counts").([]any)
	if !ok || len(l) != len(c) {
		return c, false
	}
	for i, v := range l {
		n, ok := v.(float64)
		if !ok {
			return c, false
		}
		c[i] = uint64(n)
	}
	return c, true
}

// positive returns a pointer to the daemon status number key when it is
// present and above zero (a reader that does not measure it reports 0).
func positive(st map[string]any, key string) *float64 {
	if n, ok := statusNumber(st, key); ok && n > 0 {
		return &n
	}
	return nil
}
