package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Idle is what one reader cost with the rules loaded and no load: the
// figure a fleet pays on every quiet host.
type Idle struct {
	Reader  string  `json:"reader"`
	Seconds float64 `json:"seconds"`
	// CPUTicks is the reader's user+system CPU over the idle period, in
	// ticks of 10 ms (USER_HZ), the unit `ps` and /proc/PID/stat use.
	CPUTicks int64 `json:"cpu_ticks"`
	// Wakeups is the growth of the context switches (voluntary and not)
	// of all the reader's threads: each is a wake-up or a preemption.
	Wakeups int64 `json:"wakeups"`
	// WakeupsPerSecond is Wakeups / Seconds.
	WakeupsPerSecond float64 `json:"wakeups_per_second"`
	Error            string  `json:"error,omitempty"`
}

// idleQuiet is how long the idle window starts after the reader has read
// the start-up's and the rules' own records: an idle host is one where
// nothing is pending, and those records leave work behind them in
// auditdrain for a few seconds (a low rate's frame held low_rate_hold, 2 s,
// then written and fsynced; the writer's disk checks for 3 s after a
// write; the kernel poller's three one-second polls after activity before
// it backs off to 10 s).
const idleQuiet = 6 * time.Second

// idleStep starts reader name, loads the load's rules for a load process
// that does nothing, and measures the reader over d.
func (s *sweeper) idleStep(ctx context.Context, idx int, name string, d time.Duration) Idle {
	out := Idle{Reader: name}
	if err := s.measureIdle(ctx, idx, name, d, &out); err != nil {
		out.Error = err.Error()
	}
	return out
}

func (s *sweeper) measureIdle(ctx context.Context, idx int, name string, d time.Duration, out *Idle) (err error) {
	dir, err := os.MkdirTemp(s.o.WorkDir, "auditdrain-bench-idle-"+name+"-")
	if err != nil {
		return fmt.Errorf("bench: cannot create step directory in %q: %w", s.o.WorkDir, err)
	}
	defer os.RemoveAll(dir)
	r, err := startReader(ctx, s.env, name, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	if err := s.k.apply(s.o.Settings); err != nil {
		return err
	}
	lp, err := startLoadProcess(ctx, s.o.self(), s.load.Name(), s.scratch)
	if err != nil {
		return err
	}
	defer lp.close()
	if err := s.k.addRules(lp.Rules(fmt.Sprintf("adbench_%d_idle%d", os.Getpid(), idx))); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.k.deleteRules()) }()
	// Let start-up and the rule records pass before measuring, and what
	// they leave pending (see idleQuiet).
	if err := s.settle(ctx, r); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(idleQuiet):
	}
	pid := r.pid()
	if pid == 0 {
		return nil
	}
	cpu0, _, err := procUsage(pid)
	if err != nil {
		return err
	}
	sw0, err := contextSwitches(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	cpu1, _, err := procUsage(pid)
	if err != nil {
		return err
	}
	sw1, err := contextSwitches(pid)
	if err != nil {
		return err
	}
	out.Seconds = time.Since(start).Seconds()
	out.CPUTicks = int64((cpu1-cpu0)*userHZ + 0.5)
	out.Wakeups = sw1 - sw0
	out.WakeupsPerSecond = float64(out.Wakeups) / out.Seconds
	return nil
}

// contextSwitches sums voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches over every thread of pid.
func contextSwitches(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("bench: cannot list the threads of pid %d: %v", pid, err)
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that exited meanwhile
		}
		n, err := parseSwitches(b)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		total += n
	}
	return total, nil
}

// parseSwitches adds up the two context-switch counters of a status file.
func parseSwitches(status []byte) (int64, error) {
	var total int64
	found := 0
	for line := range bytes.Lines(status) {
		for _, p := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
			if rest, ok := bytes.CutPrefix(line, []byte(p)); ok {
				n, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%w: %q", ErrProcFormat, bytes.TrimSpace(line))
				}
				total += n
				found++
			}
		}
	}
	if found != 2 {
		return 0, fmt.Errorf("%w: no context-switch counters in status", ErrProcFormat)
	}
	return total, nil
}
