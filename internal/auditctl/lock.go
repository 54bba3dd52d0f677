package auditctl

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// LockPath is the file whose exclusive flock serializes everything on this
// machine that changes the kernel's audit configuration for a test or a
// benchmark: the tests using internal/audittest and the bench command.
const LockPath = "/run/auditdrain-test.lock"

// LockMachine takes the machine-wide lock (flock LOCK_EX on LockPath),
// waiting as long as another process holds it. unlock releases it; calling
// unlock more than once is harmless. The kernel releases the lock when the
// process exits, however it exits.
//
// flock locks belong to an open file: a process that calls LockMachine again
// before unlocking waits for itself forever.
func LockMachine() (unlock func(), err error) {
	unlock, _, err = lockMachine(true)
	return unlock, err
}

// TryLockMachine is LockMachine without the wait: when another process holds
// the lock it returns ok false and a nil error at once.
func TryLockMachine() (unlock func(), ok bool, err error) {
	return lockMachine(false)
}

func lockMachine(wait bool) (func(), bool, error) {
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("auditctl: opening machine lock: %w", err)
	}
	fd := int(f.Fd())
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if !wait && errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("auditctl: locking %s: %w", LockPath, os.NewSyscallError("flock", err))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = unix.Flock(fd, unix.LOCK_UN)
			_ = f.Close()
		})
	}, true, nil
}
