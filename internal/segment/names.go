package segment

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
	namePrefix = "audit-"
	nameDigits = 10
	extPlain   = ".log"
	extZstd    = ".log.zst"
	// brokenSuffix is appended to a segment's name for the copy of the
	// torn tail Repair cut off it.
	brokenSuffix = ".broken"
)

// headerMagic is the payload of the skippable frame that opens every zstd
// segment. It makes a segment that holds no records yet a valid zstd file
// (zstd -t rejects an empty file) and marks the format version.
const headerMagic = "auditdrain segment v1\n"

// skippableMagic is the first skippable-frame magic number (0x184D2A50).
const skippableMagic = 0x184D2A50

// header is the skippable frame written at the start of each zstd segment.
var header = func() []byte {
	h := make([]byte, 8, 8+len(headerMagic))
	binary.LittleEndian.PutUint32(h[0:], skippableMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(headerMagic)))
	return append(h, headerMagic...)
}()

// isZstd reports whether path names a zstd segment (by its extension).
func isZstd(path string) bool { return strings.HasSuffix(path, ".zst") }

// Name returns the file name of segment number seq.
func Name(seq uint64, compressed bool) string {
	ext := extPlain
	if compressed {
		ext = extZstd
	}
	return fmt.Sprintf("%s%0*d%s", namePrefix, nameDigits, seq, ext)
}

// Path returns the path of segment number seq in dir.
func Path(dir string, seq uint64, compressed bool) string {
	return filepath.Join(dir, Name(seq, compressed))
}

// parseName returns the sequence number of a segment file name, and
// whether the name is a .broken copy of one.
func parseName(name string) (seq uint64, broken, ok bool) {
	rest, found := strings.CutPrefix(name, namePrefix)
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
	if len(num) < nameDigits {
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

// Entry is one segment file of a directory.
type Entry struct {
	Seq  uint64
	Name string
}

// ScanDir lists the segments of dir in sequence order (not the .broken
// copies) and returns the highest sequence number used by any segment or
// .broken file (found is false when there is none), so that a new segment
// never reuses a number.
func ScanDir(dir string) (segs []Entry, maxSeq uint64, found bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, false, fmt.Errorf("segment: list segments in %q: %w", dir, err)
	}
	for _, e := range ents {
		seq, broken, ok := parseName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		if !found || seq > maxSeq {
			maxSeq, found = seq, true
		}
		if !broken {
			segs = append(segs, Entry{seq, e.Name()})
		}
	}
	slices.SortFunc(segs, func(a, b Entry) int {
		if a.Seq != b.Seq {
			if a.Seq < b.Seq {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return segs, maxSeq, found, nil
}

// List returns the paths of the segment files in dir in write order (by
// sequence number). .broken copies made by Repair are not included.
func List(dir string) ([]string, error) {
	segs, _, _, err := ScanDir(dir)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(segs))
	for i, s := range segs {
		paths[i] = filepath.Join(dir, s.Name)
	}
	return paths, nil
}

// Create creates a new segment file exclusively for appending, with file
// mode mode and group gid (none when gid < 0), writes the zstd segment
// header, fsyncs the file and then the directory. It returns the open file
// and its size. onSync gets the duration of each fsync, for the caller's
// statistics.
func Create(path string, mode os.FileMode, gid int, compressed bool, onSync func(nanos int64)) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|unix.O_NOFOLLOW, mode)
	if err != nil {
		return nil, 0, fmt.Errorf("segment: create %q: %w", path, err)
	}
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		os.Remove(path) // best effort: leave no segment without its header
		return nil, 0, err
	}
	if err := f.Chmod(mode); err != nil { // umask
		return fail(fmt.Errorf("segment: chmod %o %q: %w", mode, path, err))
	}
	if gid >= 0 {
		if err := f.Chown(-1, gid); err != nil {
			return fail(fmt.Errorf("segment: chgrp %d %q: %w", gid, path, err))
		}
	}
	var size int64
	if compressed {
		n, err := f.Write(header)
		size = int64(n)
		if err != nil {
			return fail(fmt.Errorf("segment: write header to %q: %w", path, err))
		}
		nanos, err := Datasync(f)
		onSync(nanos)
		if err != nil {
			return fail(fmt.Errorf("segment: fsync %q: %w", path, err))
		}
	}
	nanos, err := SyncDir(filepath.Dir(path))
	onSync(nanos)
	if err != nil {
		return fail(err)
	}
	return f, size, nil
}
