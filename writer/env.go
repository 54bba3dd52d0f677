package writer

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds what the appender needs from the outside world, as
// small interfaces: a clock and the segment files. Production uses the
// real clock and *os.File; tests substitute a manual clock and files that
// fail on demand (settings.env), so the disk-full, space-left, disk-error
// and suspend/resume paths run without root and without a small file
// system.

// clock is the Writer's time source: Append's batch times, the appender's
// fsync timer and check ticker, event and notice times.
type clock interface {
	Now() time.Time
	// NewTimer returns a stopped timer.
	NewTimer() timer
	NewTicker(d time.Duration) ticker
}

// timer is a one-shot timer whose channel has room for one tick, as
// time.Timer's.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// ticker delivers the time every period, dropping ticks for a slow
// reader, as time.Ticker.
type ticker interface {
	C() <-chan time.Time
	Stop()
	// Reset restarts a stopped (or running) ticker with period d.
	Reset(d time.Duration)
}

// segFile is an open segment file as the appender uses it.
type segFile interface {
	// Write appends p with one write(2).
	Write(p []byte) (int, error)
	// Truncate cuts the file to size bytes (a partial write off).
	Truncate(size int64) error
	// Sync runs fsync (full) or fdatasync and returns how long it took.
	Sync(full bool) (nanos int64, err error)
	// Links returns the file's link count (0 once it was removed).
	Links() (uint64, error)
	Close() error
}

// env is the appender's clock and file system.
type env struct {
	clock clock
	// create creates a segment file (see segment.Create) and returns it
	// with its size.
	create func(path string, logGroup int, compressed bool, onSync func(nanos int64)) (segFile, int64, error)
	// statfs returns the free space (available to unprivileged users, as
	// auditd counts it) and the size of the file system holding f, or the
	// log directory dir when f is nil (no segment open).
	statfs func(dir *os.File, f segFile) (free, total int64, err error)
}

// osEnv is the real clock and file system.
func osEnv() env {
	var st unix.Statfs_t // used by the appender goroutine only
	return env{
		clock: realClock{},
		create: func(path string, logGroup int, compressed bool, onSync func(int64)) (segFile, int64, error) {
			f, size, err := createSegment(path, logGroup, compressed, onSync)
			if err != nil {
				return nil, 0, err
			}
			return osFile{f}, size, nil
		},
		statfs: func(dir *os.File, f segFile) (int64, int64, error) {
			fd := int(dir.Fd())
			if of, ok := f.(osFile); ok {
				fd = int(of.Fd())
			}
			if err := unix.Fstatfs(fd, &st); err != nil {
				return -1, -1, err
			}
			bs := st.Frsize
			if bs <= 0 {
				bs = st.Bsize
			}
			return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil
		},
	}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer() timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return realTimer{t}
}

func (realClock) NewTicker(d time.Duration) ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time   { return t.t.C }
func (t realTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t realTimer) Stop()                 { t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time   { return t.t.C }
func (t realTicker) Stop()                 { t.t.Stop() }
func (t realTicker) Reset(d time.Duration) { t.t.Reset(d) }

// osFile is a segment file on disk.
type osFile struct{ *os.File }

func (f osFile) Sync(full bool) (int64, error) { return syncFile(f.File, full) }

func (f osFile) Links() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return uint64(st.Nlink), nil
}
