package writer

import (
	"fmt"
	"os"

	"github.com/auditdrain/auditdrain/internal/segment"
	"golang.org/x/sys/unix"
)

// syncFile runs fsync (full) or fdatasync on f.
func syncFile(f *os.File, full bool) (int64, error) {
	if full {
		return segment.Fsync(f)
	}
	return segment.Datasync(f)
}

// lockDir takes an exclusive, non-blocking flock on dir, held until the
// returned file is closed, so that two Writers never share a directory
// (Open's repair would cut the other's segment).
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("writer: open directory %q to lock it: %w", dir, err)
	}
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %q", ErrDirLocked, dir)
		}
		return nil, fmt.Errorf("writer: lock directory %q: %w", dir, os.NewSyscallError("flock", err))
	}
	return d, nil
}
