package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Load names, as given to --load.
const (
	LoadSyscall = "syscall"
	LoadExec    = "exec"
	LoadFile    = "file"
	LoadUser    = "user"
)

// ErrUnknownLoad is returned by NewLoad for a name it does not know.
var ErrUnknownLoad = errors.New("bench: unknown load")

// LoadSpec says how to run a load.
type LoadSpec struct {
	// Rate is the offered rate in events/s over all threads; 0 = flat out.
	Rate float64
	// Threads is the number of OS threads producing the load (at least 1).
	Threads int
	// Duration is how long the load runs.
	Duration time.Duration
	// Key tags the bench's events: the rule key, or the user message marker.
	Key string
}

// LoadOutcome is what a load run did.
type LoadOutcome struct {
	// Events is exactly how many audit events the run caused.
	Events int64
	// Elapsed is the wall time from the start of the run to the end of
	// its last thread.
	Elapsed time.Duration
}

// Rate returns the achieved rate in events/s.
func (o LoadOutcome) Rate() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Events) / o.Elapsed.Seconds()
}

// Load is one kind of generated audit load. A Load is safe to Run again after
// a run has returned; one run at a time.
type Load interface {
	// Name returns the load's name (LoadSyscall, ...).
	Name() string
	// Rules returns the audit rules, in auditctl syntax, that make the
	// load's operations audited, scoped to this process and tagged with key.
	// A load whose events need no rule (user) returns none.
	Rules(key string) []string
	// Matcher returns what tells one of the load's events, tagged with key,
	// among a reader's output lines.
	Matcher(key string) Matcher
	// RecordsPerEvent is how many records one event usually makes; used only
	// to estimate delivered events for a reader that writes nothing.
	RecordsPerEvent() int
	// Run produces the load and counts the events it caused. It returns
	// early, with what it did so far, when ctx is cancelled.
	Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error)
}

// NewLoad returns the load called name, whose operations are performed by
// process pid (rules are scoped to it). scratch is a directory the file
// load may write under; the caller owns it. The bench runs the load in a
// process of its own (see loadproc.go); pid is that process.
func NewLoad(name, scratch string, pid int) (Load, error) {
	switch name {
	case LoadSyscall:
		return newSyscallLoad(pid), nil
	case LoadExec:
		return newExecLoad(pid)
	case LoadFile:
		return newFileLoad(scratch, pid)
	case LoadUser:
		return newUserLoad(), nil
	}
	return nil, fmt.Errorf("%w %q (want %s, %s, %s or %s)", ErrUnknownLoad, name,
		LoadSyscall, LoadExec, LoadFile, LoadUser)
}

// worker produces one thread's share of a load. op performs one operation
// and returns nil exactly when it caused one audit event. finish releases
// the worker's resources and reports events that op counted but the kernel
// later rejected; it is never nil.
type worker struct {
	op     func() error
	finish func() (rejected int64, err error)
}

const (
	// paceBatch caps how many operations a thread does between looks at
	// the clock.
	paceBatch = 64
	// paceMaxLag is how far behind schedule a thread may fall before the
	// excess is forgiven instead of burst.
	paceMaxLag = 20 * time.Millisecond
)

// drive runs one worker per thread, each on its own locked OS thread, at
// its share of spec.Rate, for spec.Duration, and adds up the events.
func drive(ctx context.Context, spec LoadSpec, newWorker func(thread int) (worker, error)) (LoadOutcome, error) {
	threads := max(spec.Threads, 1)
	workers := make([]worker, 0, threads)
	for i := range threads {
		w, err := newWorker(i)
		if err != nil {
			for _, w := range workers {
				w.finish()
			}
			return LoadOutcome{}, fmt.Errorf("bench: cannot set up load thread %d: %w", i, err)
		}
		workers = append(workers, w)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rates := splitRate(spec.Rate, threads)
	counts := make([]int64, threads)
	runErrs := make([]error, threads)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range threads {
		wg.Go(func() {
			// Unlock before returning: a goroutine that exits locked takes
			// its OS thread with it, and a child started from that thread
			// with a parent-death signal would get it.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			counts[i], runErrs[i] = runPaced(ctx, start, spec.Duration, rates[i], workers[i].op)
			if runErrs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	out := LoadOutcome{Elapsed: time.Since(start)}

	var errs []error
	for i, w := range workers {
		out.Events += counts[i]
		if runErrs[i] != nil {
			errs = append(errs, fmt.Errorf("bench: load thread %d after %d events: %w", i, counts[i], runErrs[i]))
		}
		rejected, err := w.finish()
		out.Events -= rejected
		if err != nil {
			errs = append(errs, fmt.Errorf("bench: load thread %d: %w", i, err))
		}
	}
	return out, errors.Join(errs...)
}

// runPaced calls op at rate (0 = flat out) until d has elapsed since start
// or ctx is cancelled, and returns how many calls succeeded.
func runPaced(ctx context.Context, start time.Time, d time.Duration, rate float64, op func() error) (int64, error) {
	p := newPacer(rate, paceMaxLag)
	var done int64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		elapsed := time.Since(start)
		if elapsed >= d || ctx.Err() != nil {
			return done, nil
		}
		n, wait := p.next(elapsed, done, paceBatch)
		if n == 0 {
			timer.Reset(min(wait, d-elapsed))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return done, nil
			}
			continue
		}
		for range n {
			if err := op(); err != nil {
				return done, err
			}
			done++
		}
	}
}
