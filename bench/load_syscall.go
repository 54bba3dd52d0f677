package bench

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// syscallLoad calls getppid(2), the cheapest system call, under a rule that
// audits it for this process only: each call is one event (SYSCALL,
// PROCTITLE and EOE records).
type syscallLoad struct{ pid int }

func newSyscallLoad(pid int) *syscallLoad { return &syscallLoad{pid: pid} }

func (l *syscallLoad) Name() string { return LoadSyscall }

func (l *syscallLoad) Rules(key string) []string {
	return []string{fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -F pid=%d -k %s", l.pid, key)}
}

func (l *syscallLoad) Matcher(key string) Matcher { return keyMatcher("SYSCALL", 1300, key) }

func (l *syscallLoad) RecordsPerEvent() int { return 3 }

func (l *syscallLoad) Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error) {
	return drive(ctx, spec, func(int) (worker, error) {
		return worker{
			op:     func() error { unix.Getppid(); return nil },
			finish: func() (int64, error) { return 0, nil },
		}, nil
	})
}
