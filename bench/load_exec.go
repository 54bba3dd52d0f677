package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// execTarget is the program the exec load starts.
const execTarget = "/bin/true"

// execLoad forks and executes /bin/true and waits for it, under a rule that
// audits execve(2) by the children of this process only: each start is one
// event.
type execLoad struct {
	pid  int
	path string
}

func newExecLoad(pid int) (*execLoad, error) {
	if _, err := os.Stat(execTarget); err != nil {
		return nil, fmt.Errorf("bench: exec load needs %s: %w", execTarget, err)
	}
	return &execLoad{pid: pid, path: execTarget}, nil
}

func (l *execLoad) Name() string { return LoadExec }

func (l *execLoad) Rules(key string) []string {
	return []string{fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", l.pid, key)}
}

func (l *execLoad) Matcher(key string) Matcher { return keyMatcher("SYSCALL", 1300, key) }

// RecordsPerEvent: SYSCALL, EXECVE, CWD, two PATH (program and dynamic
// loader), PROCTITLE, EOE.
func (l *execLoad) RecordsPerEvent() int { return 7 }

func (l *execLoad) Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error) {
	argv := []string{"true"}
	attr := &syscall.ProcAttr{Env: []string{}}
	return drive(ctx, spec, func(int) (worker, error) {
		return worker{
			op: func() error {
				// ForkExec returns only after the child's execve succeeded
				// (or failed, then with its error).
				pid, err := syscall.ForkExec(l.path, argv, attr)
				if err != nil {
					return fmt.Errorf("cannot start %s: %w", l.path, err)
				}
				var ws syscall.WaitStatus
				for {
					_, err = syscall.Wait4(pid, &ws, 0, nil)
					if !errors.Is(err, syscall.EINTR) {
						break
					}
				}
				if err != nil {
					return fmt.Errorf("cannot wait for %s (pid %d): %w", l.path, pid, err)
				}
				return nil
			},
			finish: func() (int64, error) { return 0, nil },
		}, nil
	})
}
