package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdrain/auditdrain/internal/ring"
)

// Defaults of auditd 3.0.9's auditd.conf.
const (
	// DefaultQueueDepth is q_depth's default: records per plugin queue.
	DefaultQueueDepth = 2000
	// DefaultMaxRestarts is max_restarts' default.
	DefaultMaxRestarts = 10
	// DefaultStopTimeout is how long Stop waits for a plugin to exit after
	// SIGTERM before it sends SIGKILL, and the longest it spends writing a
	// plugin's queued records to it first.
	DefaultStopTimeout = 5 * time.Second
)

// queueBytesPerRecord sizes a plugin's ring: QueueDepth records in at most
// QueueDepth*queueBytesPerRecord bytes (kernel records average 200-400
// bytes), within [ring.MinSize, maxQueueBytes].
const (
	queueBytesPerRecord = 512
	maxQueueBytes       = 64 << 20
)

// Overflow is what happens when a plugin's queue is full (auditd.conf's
// overflow_action, applied per plugin). In every case the record is
// dropped for that plugin only and counted in its Lost; the drain never
// waits.
type Overflow int

const (
	// OverflowSyslog (auditd's default, syslog) also logs, at most once
	// every overflowLogEvery per plugin, how many records were dropped.
	OverflowSyslog Overflow = iota
	// OverflowIgnore (ignore) only counts.
	OverflowIgnore
	// OverflowSuspend (suspend) stops passing records to the plugin until
	// the next Reload; every record meanwhile is counted lost.
	OverflowSuspend
)

// overflowLogEvery limits the queue-full log lines of one plugin.
const overflowLogEvery = 10 * time.Second

// Options tune a Dispatcher. The zero value is usable except for
// MaxRestarts, whose zero means "never restart" (auditd's default is
// DefaultMaxRestarts).
type Options struct {
	// QueueDepth is the number of records each plugin's queue holds
	// (q_depth); 0 means DefaultQueueDepth.
	QueueDepth int
	// MaxRestarts is how often a plugin that exits is restarted
	// (max_restarts); then it is given up until the next Reload.
	MaxRestarts int
	// Overflow is the action on a full plugin queue (overflow_action).
	Overflow Overflow
	// Node is the node name (name_format), "" for none. With a node name
	// the string line carries "node=Node " and binary frames are
	// ProtocolVer2 frames of the formatted line, as in auditd.
	Node string
	// Log receives the dispatcher's messages (a plugin exited, was
	// restarted, was given up, its queue is full); nil discards them.
	Log func(format string, args ...any)
	// Format appends a record's line, newline included, to dst: the
	// string format and the data of ProtocolVer2 frames. It must produce
	// exactly one line per record and is called from the plugins' own
	// goroutines, concurrently. nil means auditd's plugin line,
	// "[node=Node ]type=NAME msg=PAYLOAD\n".
	Format func(dst []byte, typ uint16, payload []byte) []byte
	// StopTimeout bounds each step of stopping a plugin (writing its
	// queue, waiting after SIGTERM); 0 means DefaultStopTimeout.
	StopTimeout time.Duration
	// Output receives the plugins' stdout and stderr; nil means
	// /dev/null (auditd's, once daemonized).
	Output *os.File
}

// Plugin states reported by Stats.
const (
	StateStarting   = "starting"   // program not started yet
	StateRunning    = "running"    // program running
	StateListening  = "listening"  // af_unix socket open
	StateRestarting = "restarting" // program exited, being restarted
	StateFailed     = "failed"     // given up until the next Reload
	StateStopping   = "stopping"
	StateStopped    = "stopped"
)

// Stats is a snapshot of one plugin.
type Stats struct {
	Name   string // the plugin file's name
	Path   string // its program, or builtin_af_unix
	Format Format
	State  string
	// Pid is the running program's pid, 0 when none.
	Pid int
	// Restarts counts the restarts after the program exited.
	Restarts int
	// Clients is the number of connected af_unix clients.
	Clients int
	// QueueDepth is the number of records in the plugin's queue now.
	QueueDepth int
	// Delivered counts records handed to the plugin: written to its stdin
	// (and not found unread there when it exited), or, for af_unix,
	// written to a client (once per client).
	Delivered uint64
	// Lost counts the plugin's records that it will never get: dropped
	// when its queue was full, while it was suspended or given up, left
	// unread in its stdin when it exited, not written at Stop; for
	// af_unix, records a connected client could not take.
	Lost uint64
}

// Dispatcher runs the plugins and hands each of them every record given to
// Dispatch. Dispatch is called from one goroutine at a time (the drain);
// Start, Reload, Stop and Stats may be called from any goroutine.
type Dispatcher struct {
	opts Options

	// active is what Dispatch reads, one atomic load per record; it is
	// replaced, never modified, by Start, Reload and Stop.
	active atomic.Pointer[[]*plugin]

	mu       sync.Mutex // serializes Start, Reload, Stop
	plugins  []*plugin  // the current plugins (active or not yet started)
	started  bool
	stopped  bool
	retiring sync.WaitGroup // plugins stopping after a Reload
}

// New checks the active configs of cfgs (inactive ones are ignored) and
// prepares a queue for each; nothing runs before Start. Two configs with the
// same Name are an error.
func New(cfgs []Config, opts Options) (*Dispatcher, error) {
	if opts.QueueDepth <= 0 {
		opts.QueueDepth = DefaultQueueDepth
	}
	if opts.MaxRestarts < 0 {
		opts.MaxRestarts = 0
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Format == nil {
		opts.Format = newLineFormatter(opts.Node).appendLine
	}
	d := &Dispatcher{opts: opts}
	ps, err := d.build(cfgs, nil)
	if err != nil {
		return nil, err
	}
	d.plugins = ps
	return d, nil
}

// build makes a plugin for each active config, reusing those of keep
// (by name) that may stay as they are.
func (d *Dispatcher) build(cfgs []Config, keep map[string]*plugin) ([]*plugin, error) {
	seen := make(map[string]bool)
	var ps []*plugin
	for _, c := range cfgs {
		if !c.Active {
			continue
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("plugins: two plugins named %q", c.Name)
		}
		seen[c.Name] = true
		if p := keep[c.Name]; p != nil {
			ps = append(ps, p)
			continue
		}
		p, err := d.newPlugin(c)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Start starts the plugins: the programs (in their own goroutines; one
// that cannot start is retried like one that exited) and the af_unix
// sockets (an error here leaves that plugin failed, the others run, and is
// returned). Dispatch hands records to the plugins from then on.
func (d *Dispatcher) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.stopped {
		return errors.New("plugins: Start called twice or after Stop")
	}
	d.started = true
	var errs []error
	for _, p := range d.plugins {
		errs = append(errs, p.start())
	}
	ps := d.plugins
	d.active.Store(&ps)
	return errors.Join(errs...)
}

// Dispatch hands one record to every plugin: it copies it into each
// plugin's own queue, or, when that queue is full (or the plugin is
// suspended or given up), counts it lost for that plugin. It never blocks,
// takes no lock and does not allocate. payload is not retained. Dispatch
// must be called from one goroutine at a time (it is the single producer
// of every plugin queue); before Start and after Stop it does nothing.
func (d *Dispatcher) Dispatch(typ uint16, payload []byte) {
	ps := d.active.Load()
	if ps == nil {
		return
	}
	for _, p := range *ps {
		p.offer(typ, payload)
	}
}

// offer is Dispatch for one plugin.
func (p *plugin) offer(typ uint16, payload []byte) {
	if p.afUnix != nil && p.afUnix.nclients.Load() == 0 {
		return // nobody to send it to: not a loss
	}
	if p.failed.Load() || p.suspended.Load() ||
		p.pushed.Load()-p.consumed.Load() >= p.depth || len(payload) > p.q.MaxRecord() {
		p.overflow()
		return
	}
	ok, err := p.q.TryPush(typ, payload)
	if ok {
		p.pushed.Add(1)
		return
	}
	if err == nil || err == ring.ErrClosed {
		p.overflow()
	}
}

// overflow counts one record dropped by Dispatch.
func (p *plugin) overflow() {
	p.lostQueue.Add(1)
	if p.overflowAction == OverflowSuspend && !p.failed.Load() {
		p.suspended.Store(true)
	}
}

// Reload applies a new set of configs, as auditd does on SIGHUP: a plugin
// whose config (path, type, args, format) and program file are unchanged
// keeps running and gets SIGHUP (and is no longer suspended); a new
// plugin, a changed one or one given up after too many restarts is started
// afresh (the old one stopped); a removed or inactive one is stopped. The
// stops run in the background (Stop waits for them), except af_unix ones,
// whose socket path may be reused at once.
func (d *Dispatcher) Reload(cfgs []Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started || d.stopped {
		return errors.New("plugins: Reload before Start or after Stop")
	}
	old := make(map[string]*plugin, len(d.plugins))
	for _, p := range d.plugins {
		old[p.cfg.Name] = p
	}
	keep := make(map[string]*plugin)
	for _, c := range cfgs {
		if p := old[c.Name]; p != nil && c.Active && p.unchanged(c) {
			keep[c.Name] = p
		}
	}
	ps, err := d.build(cfgs, keep)
	if err != nil {
		return err
	}
	var retire []*plugin
	for name, p := range old {
		if keep[name] == nil {
			retire = append(retire, p)
		}
	}
	// Stop replaced af_unix plugins first: the new one may bind the
	// same path.
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.opts.StopTimeout+time.Second)
	defer cancel()
	for _, p := range retire {
		if p.afUnix != nil {
			p.stop(ctx)
		}
	}
	var errs []error
	for _, p := range ps {
		if keep[p.cfg.Name] != nil {
			p.reload()
		} else {
			errs = append(errs, p.start())
		}
	}
	d.plugins = ps
	d.active.Store(&ps)
	for _, p := range retire {
		if p.afUnix == nil {
			d.retiring.Add(1)
			go func() {
				defer d.retiring.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*d.opts.StopTimeout+time.Second)
				defer cancel()
				if err := p.stop(ctx); err != nil {
					d.logf("%v", err)
				}
			}()
		}
	}
	return errors.Join(errs...)
}

// Stop stops every plugin: no more records are taken, each plugin's queue
// is written to it (for at most StopTimeout), its stdin is closed and it
// gets SIGTERM; one still running StopTimeout later, or when ctx is done,
// gets SIGKILL. The af_unix sockets are closed and removed. Stop returns
// once all have exited; the error names the plugins that had to be
// killed.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	ps := d.plugins
	d.active.Store(nil)
	d.mu.Unlock()

	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stop(ctx)
		}()
	}
	wg.Wait()
	d.retiring.Wait()
	return errors.Join(errs...)
}

// Stats returns a snapshot of every current plugin, in config order.
func (d *Dispatcher) Stats() []Stats {
	d.mu.Lock()
	ps := d.plugins
	d.mu.Unlock()
	out := make([]Stats, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.stats())
	}
	return out
}

func (d *Dispatcher) logf(format string, args ...any) {
	if d.opts.Log != nil {
		d.opts.Log(format, args...)
	}
}

// plugin is one running plugin: its queue and counters, and its feeder
// goroutine, which owns everything on the consumer side (the program or
// the socket).
type plugin struct {
	d              *Dispatcher
	cfg            Config
	q              *ring.Ring
	depth          uint64
	overflowAction Overflow
	enc            encoder
	batchBytes     int

	// Producer side (Dispatch).
	pushed    atomic.Uint64
	lostQueue atomic.Uint64 // dropped by Dispatch
	suspended atomic.Bool   // OverflowSuspend hit; cleared by Reload
	failed    atomic.Bool   // given up (or could not start); set by the feeder

	// Consumer side (the feeder).
	consumed  atomic.Uint64
	delivered atomic.Uint64
	lostFeed  atomic.Uint64 // lost by the feeder

	afUnix *afUnix    // non-nil for builtin_af_unix
	exec   *execState // non-nil for a program

	mu       sync.Mutex // guards the fields below (control path only)
	state    string
	pid      int
	proc     *os.Process
	restarts int
	ino      uint64 // inode of the program when it was started
	stopCtx  context.Context
	stopBy   time.Time // set by stop
	started  bool
	done     chan struct{} // closed when the feeder has finished

	lastOverflowLog time.Time // feeder only
	reportedLost    uint64    // feeder only
}

func (d *Dispatcher) newPlugin(c Config) (*plugin, error) {
	size := d.opts.QueueDepth * queueBytesPerRecord
	size = max(ring.MinSize, min(size, maxQueueBytes))
	q, err := ring.New(size)
	if err != nil {
		return nil, fmt.Errorf("plugins: plugin %s: %w", c.Name, err)
	}
	p := &plugin{
		d:              d,
		cfg:            c,
		q:              q,
		depth:          uint64(d.opts.QueueDepth),
		overflowAction: d.opts.Overflow,
		enc:            encoder{format: c.Format, ver: ProtocolVer, line: d.opts.Format},
		batchBytes:     64 << 10,
		state:          StateStarting,
		done:           make(chan struct{}),
	}
	if d.opts.Node != "" {
		p.enc.ver = ProtocolVer2
	}
	if c.Format == FormatBinary {
		p.batchBytes = 8 << 10 // each record becomes a FrameLen frame
	}
	if c.Type == TypeBuiltin {
		mode, path, err := afUnixArgs(c.Args)
		if err != nil {
			return nil, fmt.Errorf("plugins: plugin %s: %w", c.Name, err)
		}
		p.afUnix = &afUnix{path: path, mode: mode}
	} else {
		if c.Path == "" {
			return nil, fmt.Errorf("plugins: plugin %s: no path", c.Name)
		}
		p.exec = &execState{}
	}
	return p, nil
}

// unchanged reports whether c is p's config and p may keep running under
// it (it is not given up, and its program file is the one it started).
func (p *plugin) unchanged(c Config) bool {
	a, b := p.cfg, c
	a.File, b.File, a.Warnings, b.Warnings = "", "", nil, nil
	if !reflect.DeepEqual(a, b) || p.failed.Load() {
		return false
	}
	if p.exec != nil {
		p.mu.Lock()
		ino := p.ino
		p.mu.Unlock()
		if ino != 0 && ino != inode(c.Path) {
			p.d.logf("plugins: restarting %s since its program %s changed", c.Name, c.Path)
			return false
		}
	}
	return true
}

// start opens the af_unix socket or launches the program's feeder.
func (p *plugin) start() error {
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	if p.afUnix != nil {
		if err := p.listen(); err != nil {
			p.failed.Store(true)
			p.setState(StateFailed)
			close(p.done)
			return fmt.Errorf("plugins: plugin %s: %w", p.cfg.Name, err)
		}
		go p.runAFUnix()
		return nil
	}
	go p.runExec()
	return nil
}

// reload is SIGHUP for a plugin that keeps running.
func (p *plugin) reload() {
	p.suspended.Store(false)
	if p.exec != nil {
		p.signal(hup)
	}
}

// stop makes the feeder write what is queued, shut the plugin down and
// exit, and waits for it. ctx bounds the whole.
func (p *plugin) stop(ctx context.Context) error {
	p.mu.Lock()
	p.stopCtx = ctx
	p.stopBy = time.Now().Add(p.d.opts.StopTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(p.stopBy) {
		p.stopBy = dl
	}
	started := p.started
	if p.state != StateFailed {
		p.state = StateStopping
	}
	p.mu.Unlock()
	p.q.Close()
	if !started {
		p.setState(StateStopped)
		return nil
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = StateStopped
	if p.exec != nil && p.exec.killed != "" {
		return fmt.Errorf("plugins: plugin %s %s", p.cfg.Name, p.exec.killed)
	}
	return nil
}

// stopDeadline is the time until which the feeder may still write queued
// records after Stop: StopTimeout after Stop began, or Stop's context's
// deadline if earlier.
func (p *plugin) stopDeadline() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopBy.IsZero() {
		return time.Now().Add(p.d.opts.StopTimeout)
	}
	return p.stopBy
}

func (p *plugin) stopContext() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopCtx == nil {
		return context.Background()
	}
	return p.stopCtx
}

func (p *plugin) setState(s string) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

func (p *plugin) stats() Stats {
	p.mu.Lock()
	s := Stats{Name: p.cfg.Name, Path: p.cfg.Path, Format: p.cfg.Format, State: p.state, Pid: p.pid, Restarts: p.restarts}
	p.mu.Unlock()
	if p.afUnix != nil {
		s.Clients = int(p.afUnix.nclients.Load())
	}
	s.Lost = p.lostQueue.Load() + p.lostFeed.Load()
	s.Delivered = p.delivered.Load()
	consumed := p.consumed.Load()
	if pushed := p.pushed.Load(); pushed > consumed {
		s.QueueDepth = int(pushed - consumed)
	}
	return s
}

// reportOverflow logs, for OverflowSyslog, the records Dispatch dropped
// since the last report, at most once every overflowLogEvery. Feeder only.
func (p *plugin) reportOverflow() {
	lost := p.lostQueue.Load()
	if lost == p.reportedLost || p.overflowAction == OverflowIgnore {
		return
	}
	now := time.Now()
	if now.Sub(p.lastOverflowLog) < overflowLogEvery {
		return
	}
	if p.overflowAction == OverflowSuspend && p.suspended.Load() {
		p.d.logf("plugins: plugin %s: queue full (q_depth %d); suspending records to it until a reload (%d lost so far)", p.cfg.Name, p.depth, lost)
	} else if !p.failed.Load() {
		p.d.logf("plugins: plugin %s: queue full (q_depth %d); %d records dropped for it (%d so far)", p.cfg.Name, p.depth, lost-p.reportedLost, lost)
	}
	p.reportedLost = lost
	p.lastOverflowLog = now
}

// dropQueued drains the queue counting every record lost: the feeder of a
// plugin given up keeps the queue empty this way. Feeder only.
func (p *plugin) dropQueued() {
	var n uint64
	p.q.Drain(0, func(uint16, []byte) { n++ })
	p.consumed.Add(n)
	p.lostFeed.Add(n)
}
