package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrUntrusted is wrapped by every error of CheckTrusted about a file that
// someone other than root could have written.
var ErrUntrusted = errors.New("untrusted file")

// trustedUID is the owner a trusted file must have: root. Tests set it to
// their own uid so that they run without root.
var trustedUID = 0

// CheckTrusted reports whether path, after symbolic links, is a regular file
// that only root can have written: owned by uid 0 and not writable by its
// group or by others. auditdrain runs as root, so a file it executes (an
// exec action's program) or that decides what it does (the config file, a
// rules file) must pass: otherwise whoever can write the file runs programs
// as root. auditd refuses such files the same way. The error wraps
// ErrUntrusted (or the fs error) and names the file, its owner and mode.
func CheckTrusted(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkInfo(path, fi, false)
}

// checkTrustedDir is CheckTrusted for a rules.d directory: the directory
// itself (it decides which files are read) and every *.rules file in it
// that internal/rulesd would read.
func checkTrustedDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := checkInfo(dir, fi, true); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".rules") {
			continue
		}
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue // rulesd skips it with a warning
		}
		if err := checkInfo(p, fi, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkInfo applies the trust rules to fi, the Stat of path.
func checkInfo(path string, fi fs.FileInfo, dir bool) error {
	want, kind := fi.Mode().IsRegular(), "a regular file"
	if dir {
		want, kind = fi.IsDir(), "a directory"
	}
	if !want {
		return fmt.Errorf("%w: %s is not %s (%s)", ErrUntrusted, path, kind, fi.Mode().Type())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: no owner information", ErrUntrusted, path)
	}
	perm := fi.Mode().Perm()
	if int(st.Uid) != trustedUID || perm&0o022 != 0 {
		return fmt.Errorf("%w: %s is owned by uid %d with mode %04o; it must be owned by uid %d (root) and not writable by group or others",
			ErrUntrusted, path, st.Uid, perm, trustedUID)
	}
	return nil
}

// isNullDevice reports whether fi is /dev/null's character device (1, 3):
// whoever writes it, it reads empty, so `--config /dev/null` means "the
// defaults".
func isNullDevice(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
}
