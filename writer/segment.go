package writer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// fileMode returns the mode of segment files for a log group (see
// Config.LogGroup).
func fileMode(logGroup int) os.FileMode {
	if logGroup > 0 {
		return 0o640
	}
	return 0o600
}

// createSegment creates segment path with the mode and group of a log
// group (see segment.Create).
func createSegment(path string, logGroup int, compressed bool, onSync func(nanos int64)) (*os.File, int64, error) {
	return segment.Create(path, fileMode(logGroup), logGroup, compressed, onSync)
}

// ensureDir creates dir if missing, with mode 0700 (0750 and the log group
// when logGroup > 0), and fsyncs its parent.
func ensureDir(dir string, logGroup int) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("writer: %q is not a directory", dir)
		}
		return nil
	}
	mode := os.FileMode(0o700)
	if logGroup > 0 {
		mode = 0o750
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("writer: create directory %q: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil { // umask
		return fmt.Errorf("writer: chmod %o %q: %w", mode, dir, err)
	}
	if logGroup > 0 {
		if err := os.Chown(dir, -1, logGroup); err != nil {
			return fmt.Errorf("writer: chgrp %d %q: %w", logGroup, dir, err)
		}
	}
	_, err := segment.SyncDir(filepath.Dir(dir))
	return err
}
