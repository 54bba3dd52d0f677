package writer

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data, and the metadata needed to read it back (its
// size), to stable storage. It returns how long the call took.
func fdatasync(f *os.File) (int64, error) {
	start := time.Now()
	var err error
	for {
		err = unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			break
		}
	}
	nanos := time.Since(start).Nanoseconds()
	if err != nil {
		return nanos, os.NewSyscallError("fdatasync", err)
	}
	return nanos, nil
}

// fsync flushes f's data and metadata to stable storage. It returns how
// long the call took.
func fsync(f *os.File) (int64, error) {
	start := time.Now()
	var err error
	for {
		err = unix.Fsync(int(f.Fd()))
		if err != unix.EINTR {
			break
		}
	}
	nanos := time.Since(start).Nanoseconds()
	if err != nil {
		return nanos, os.NewSyscallError("fsync", err)
	}
	return nanos, nil
}

// syncFile runs fsync (full) or fdatasync on f.
func syncFile(f *os.File, full bool) (int64, error) {
	if full {
		return fsync(f)
	}
	return fdatasync(f)
}

// syncDir fsyncs a directory so that a file created or removed in it
// survives a crash. It returns how long the fsync took.
func syncDir(dir string) (int64, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("writer: open directory %q for fsync: %w", dir, err)
	}
	defer d.Close()
	start := time.Now()
	err = d.Sync()
	nanos := time.Since(start).Nanoseconds()
	if err != nil {
		return nanos, fmt.Errorf("writer: fsync directory %q: %w", dir, err)
	}
	return nanos, nil
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
