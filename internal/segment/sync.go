package segment

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Datasync runs Datasync(2) on f: it flushes f's data, and the metadata
// needed to read it back (its size), to stable storage. It returns how
// long the call took.
func Datasync(f *os.File) (int64, error) {
	return timedSync(f, "fdatasync", unix.Fdatasync)
}

// Fsync runs fsync(2) on f: data and metadata. It returns how long the
// call took.
func Fsync(f *os.File) (int64, error) {
	return timedSync(f, "fsync", unix.Fsync)
}

func timedSync(f *os.File, name string, sync func(fd int) error) (int64, error) {
	start := time.Now()
	var err error
	for {
		err = sync(int(f.Fd()))
		if err != unix.EINTR {
			break
		}
	}
	nanos := time.Since(start).Nanoseconds()
	if err != nil {
		return nanos, os.NewSyscallError(name, err)
	}
	return nanos, nil
}

// SyncDir fsyncs a directory so that a file created or removed in it
// survives a crash. It returns how long the fsync took.
func SyncDir(dir string) (int64, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("segment: open directory %q for fsync: %w", dir, err)
	}
	defer d.Close()
	start := time.Now()
	err = d.Sync()
	nanos := time.Since(start).Nanoseconds()
	if err != nil {
		return nanos, fmt.Errorf("segment: fsync directory %q: %w", dir, err)
	}
	return nanos, nil
}
