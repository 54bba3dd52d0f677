package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fileLoad opens a file for writing under a watched directory, writes a byte
// and closes it, under a watch rule (dir, perm=wa) scoped to this process:
// each open for writing is one event (write and close are not audited by a
// watch).
type fileLoad struct {
	pid int
	dir string
}

func newFileLoad(scratch string, pid int) (*fileLoad, error) {
	if scratch == "" {
		return nil, fmt.Errorf("bench: file load needs a scratch directory")
	}
	dir := filepath.Join(scratch, "watched")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: cannot create watched directory %q: %w", dir, err)
	}
	return &fileLoad{pid: pid, dir: dir}, nil
}

func (l *fileLoad) Name() string { return LoadFile }

func (l *fileLoad) Rules(key string) []string {
	return []string{fmt.Sprintf("-a always,exit -F arch=b64 -F dir=%s -F perm=wa -F pid=%d -k %s", l.dir, l.pid, key)}
}

func (l *fileLoad) Matcher(key string) Matcher { return keyMatcher("SYSCALL", 1300, key) }

// RecordsPerEvent: SYSCALL, CWD, PATH, PROCTITLE, EOE (opening the file
// that already exists; only its creation, once per thread, adds a PATH for
// the directory).
func (l *fileLoad) RecordsPerEvent() int { return 5 }

func (l *fileLoad) Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error) {
	one := []byte{'x'}
	return drive(ctx, spec, func(thread int) (worker, error) {
		path := filepath.Join(l.dir, fmt.Sprintf("f%d", thread))
		return worker{
			op: func() error {
				fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
				if err != nil {
					return fmt.Errorf("cannot open %q: %w", path, err)
				}
				_, werr := unix.Write(fd, one)
				cerr := unix.Close(fd)
				if werr != nil {
					return fmt.Errorf("cannot write %q: %w", path, werr)
				}
				if cerr != nil {
					return fmt.Errorf("cannot close %q: %w", path, cerr)
				}
				return nil
			},
			finish: func() (int64, error) { return 0, nil },
		}, nil
	})
}
