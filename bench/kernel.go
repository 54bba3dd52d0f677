package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	libaudit "github.com/elastic/go-libaudit/v2"
)

// ErrKernelBusy is returned when the kernel's audit state does not allow a
// bench: another audit daemon is registered, or the configuration is
// immutable.
var ErrKernelBusy = errors.New("bench: kernel audit subsystem not available")

// Settings are the kernel audit settings every step runs under, the same
// for every reader.
type Settings struct {
	BacklogLimit    uint32 `json:"backlog_limit"`
	BacklogWaitTime uint32 `json:"backlog_wait_time"`
	RateLimit       uint32 `json:"rate_limit"`
}

// restoredMask is every status field the bench changes and puts back. The
// failure mode is never touched.
const restoredMask = libaudit.AuditStatusEnabled | libaudit.AuditStatusBacklogLimit |
	libaudit.AuditStatusRateLimit | libaudit.AuditStatusBacklogWaitTime

// kernel is the bench's session with the kernel audit subsystem: it saved
// the status at the start, tracks the rules it added, and puts both back.
// A kernel is used by one goroutine (the sweep's); the backlog poller dials
// its own connection.
type kernel struct {
	conn  *auditctl.Conn
	saved libaudit.AuditStatus
	added []auditctl.Rule // added and not yet deleted
}

// openKernel dials the kernel and saves its status. It refuses when an
// audit daemon is registered (the bench must be able to register its
// readers) or when the configuration is locked.
func openKernel() (*kernel, error) {
	conn, err := auditctl.Dial()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	st, err := conn.Status()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("bench: cannot read audit status: %w", err)
	}
	switch {
	case st.Enabled == 2:
		conn.Close()
		return nil, fmt.Errorf("%w: audit configuration is immutable (enabled 2)", ErrKernelBusy)
	case st.PID != 0:
		conn.Close()
		return nil, fmt.Errorf("%w: audit daemon pid %d is registered; stop it before benchmarking", ErrKernelBusy, st.PID)
	}
	return &kernel{conn: conn, saved: st}, nil
}

func (k *kernel) status() (libaudit.AuditStatus, error) {
	st, err := k.conn.Status()
	if err != nil {
		return st, fmt.Errorf("bench: cannot read audit status: %w", err)
	}
	return st, nil
}

// apply enables auditing under s.
func (k *kernel) apply(s Settings) error {
	err := k.conn.Set(libaudit.AuditStatus{
		Mask:            restoredMask,
		Enabled:         1,
		BacklogLimit:    s.BacklogLimit,
		RateLimit:       s.RateLimit,
		BacklogWaitTime: s.BacklogWaitTime,
	})
	if err != nil {
		return fmt.Errorf("bench: cannot set backlog_limit %d, backlog_wait_time %d, rate_limit %d: %w",
			s.BacklogLimit, s.BacklogWaitTime, s.RateLimit, err)
	}
	return nil
}

// addRules adds rules given in auditctl syntax, all or none.
func (k *kernel) addRules(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	rs, err := auditctl.ParseRules("bench", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		return fmt.Errorf("bench: cannot parse rules %q: %w", lines, err)
	}
	if err := k.conn.AddRules(rs); err != nil {
		return fmt.Errorf("bench: cannot add rules %q: %w", lines, err)
	}
	k.added = append(k.added, rs...)
	return nil
}

// deleteRules deletes the rules the bench added.
func (k *kernel) deleteRules() error {
	var errs []error
	var kept []auditctl.Rule
	for _, r := range k.added {
		if err := k.conn.DeleteRule(r.Wire); err != nil {
			errs = append(errs, fmt.Errorf("bench: cannot delete rule %q: %w", r.Text, err))
			kept = append(kept, r)
		}
	}
	k.added = kept
	return errors.Join(errs...)
}

// restore deletes the bench's rules and puts back the saved enabled flag,
// backlog_limit, rate_limit and backlog_wait_time.
func (k *kernel) restore() error {
	errs := []error{k.deleteRules()}
	s := k.saved
	s.Mask = restoredMask
	if err := k.conn.Set(s); err != nil {
		errs = append(errs, fmt.Errorf("bench: cannot restore audit status (enabled %d, backlog_limit %d, rate_limit %d, backlog_wait_time %d): %w",
			s.Enabled, s.BacklogLimit, s.RateLimit, s.BacklogWaitTime, err))
	}
	return errors.Join(errs...)
}

func (k *kernel) close() error { return k.conn.Close() }

// waitRegistered waits until the kernel's registered audit daemon is pid,
// until exited is closed (the process died), or until timeout.
func (k *kernel) waitRegistered(ctx context.Context, pid int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := k.status()
		if err != nil {
			return err
		}
		if int(st.PID) == pid {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: pid %d not registered as the audit daemon after %v (registered: %d)", pid, timeout, st.PID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("bench: pid %d exited before registering as the audit daemon", pid)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitUnregistered waits, up to timeout, until pid is no longer the
// registered audit daemon.
func (k *kernel) waitUnregistered(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := k.status()
		if err != nil {
			return err
		}
		if int(st.PID) != pid {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: pid %d still registered as the audit daemon %v after it exited", pid, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backlogPoller samples the kernel backlog on its own connection and
// goroutine and keeps the peak. Start it with startBacklogPoller; Stop it
// once, from the goroutine that started it.
type backlogPoller struct {
	stop chan struct{}
	done chan struct{}
	peak uint32
	err  error
}

// startBacklogPoller starts polling the audit status every interval.
func startBacklogPoller(interval time.Duration) (*backlogPoller, error) {
	conn, err := auditctl.Dial()
	if err != nil {
		return nil, fmt.Errorf("bench: backlog poller: %w", err)
	}
	p := &backlogPoller{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer conn.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			st, err := conn.Status()
			if err != nil {
				p.err = fmt.Errorf("bench: backlog poller: %w", err)
				return
			}
			p.peak = max(p.peak, st.Backlog)
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p, nil
}

// Stop stops the poller and returns the highest backlog it saw.
func (p *backlogPoller) Stop() (uint32, error) {
	close(p.stop)
	<-p.done
	return p.peak, p.err
}
