package writer

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Segment file names: audit-NNNNNNNNNN.log.zst or audit-NNNNNNNNNN.log.
const (
	segPrefix    = "audit-"
	segDigits    = 10
	extPlain     = ".log"
	extZstd      = ".log.zst"
	brokenSuffix = ".broken"
)

// segmentMagic is the payload of the skippable frame that opens every zstd
// segment. It makes a segment that holds no records yet a valid zstd file
// (zstd -t rejects an empty file) and marks the format version.
const segmentMagic = "auditdrain segment v1\n"

// skippableMagic is the first skippable-frame magic number (0x184D2A50).
const skippableMagic = 0x184D2A50

// segmentHeader returns the skippable frame written at the start of each
// zstd segment.
func segmentHeader() []byte {
	h := make([]byte, 8, 8+len(segmentMagic))
	binary.LittleEndian.PutUint32(h[0:], skippableMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(segmentMagic)))
	return append(h, segmentMagic...)
}

func segmentName(seq uint64, compressed bool) string {
	ext := extPlain
	if compressed {
		ext = extZstd
	}
	return fmt.Sprintf("%s%0*d%s", segPrefix, segDigits, seq, ext)
}

func segmentPath(dir string, seq uint64, compressed bool) string {
	return filepath.Join(dir, segmentName(seq, compressed))
}

// parseSegmentName returns the sequence number of a segment file name, and
// whether the name is a .broken copy of one.
func parseSegmentName(name string) (seq uint64, broken, ok bool) {
	rest, found := strings.CutPrefix(name, segPrefix)
	if !found {
		return 0, false, false
	}
	rest, broken = strings.CutSuffix(rest, brokenSuffix)
	num, found := strings.CutSuffix(rest, extZstd)
	if !found {
		if num, found = strings.CutSuffix(rest, extPlain); !found {
			return 0, false, false
		}
	}
	if len(num) < segDigits {
		return 0, false, false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false, false
	}
	return seq, broken, true
}

type segEntry struct {
	seq  uint64
	name string
}

// scanDir lists the segments of dir in sequence order and returns the
// highest sequence number used by any segment or .broken file.
func scanDir(dir string) (segs []segEntry, maxSeq uint64, found bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, false, fmt.Errorf("writer: list segments in %q: %w", dir, err)
	}
	for _, e := range ents {
		seq, broken, ok := parseSegmentName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		if !found || seq > maxSeq {
			maxSeq, found = seq, true
		}
		if !broken {
			segs = append(segs, segEntry{seq, e.Name()})
		}
	}
	slices.SortFunc(segs, func(a, b segEntry) int {
		if a.seq != b.seq {
			if a.seq < b.seq {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return segs, maxSeq, found, nil
}

// Segments returns the paths of the segment files in dir in write order
// (by sequence number). .broken copies made by Repair are not included.
func Segments(dir string) ([]string, error) {
	segs, _, _, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(segs))
	for i, s := range segs {
		paths[i] = filepath.Join(dir, s.name)
	}
	return paths, nil
}

// fileMode returns the mode of segment files for a log group (see
// Config.LogGroup).
func fileMode(logGroup int) os.FileMode {
	if logGroup > 0 {
		return 0o640
	}
	return 0o600
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
	_, err := syncDir(filepath.Dir(dir))
	return err
}

// createSegment creates a new segment file exclusively for appending, with
// the mode and group of the config, writes the zstd segment header, fsyncs
// the file and then the directory. It returns the open file and its size.
// The fsync durations are returned for the caller's statistics.
func createSegment(path string, logGroup int, compressed bool, onSync func(nanos int64)) (*os.File, int64, error) {
	mode := fileMode(logGroup)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|unix.O_NOFOLLOW, mode)
	if err != nil {
		return nil, 0, fmt.Errorf("writer: create segment %q: %w", path, err)
	}
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		os.Remove(path) // best effort: leave no segment without its header
		return nil, 0, err
	}
	if err := f.Chmod(mode); err != nil { // umask
		return fail(fmt.Errorf("writer: chmod %o %q: %w", mode, path, err))
	}
	if logGroup >= 0 {
		if err := f.Chown(-1, logGroup); err != nil {
			return fail(fmt.Errorf("writer: chgrp %d %q: %w", logGroup, path, err))
		}
	}
	var size int64
	if compressed {
		h := segmentHeader()
		n, err := f.Write(h)
		size = int64(n)
		if err != nil {
			return fail(fmt.Errorf("writer: write header to %q: %w", path, err))
		}
		nanos, err := fdatasync(f)
		onSync(nanos)
		if err != nil {
			return fail(fmt.Errorf("writer: fsync %q: %w", path, err))
		}
	}
	nanos, err := syncDir(filepath.Dir(path))
	onSync(nanos)
	if err != nil {
		return fail(err)
	}
	return f, size, nil
}
