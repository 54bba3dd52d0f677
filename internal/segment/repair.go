package segment

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// RepairReport says what Repair found and did.
type RepairReport struct {
	Path       string
	ValidBytes int64  // bytes kept: the segment's size after repair (before the trailer Repair appended, if any)
	CutBytes   int64  // bytes cut off the tail and copied to BrokenPath
	Frames     int    // frames kept (zstd data and skippable frames), or lines kept for a plain segment
	BrokenPath string // where the cut bytes were saved; "" if nothing was cut
	Removed    bool   // the zstd segment had no valid frame and was removed
	// Indexed is set when Repair appended the index trailer that the
	// segment's writer did not write (it crashed).
	Indexed bool
}

// repairIndex is what repair learns about a zstd segment's valid prefix.
type repairIndex struct {
	zstd    bool
	idx     Tally // its records
	trailer bool  // it ends with a valid index trailer
}

// maxRepairFrame bounds the memory one decoded frame may take while
// verifying (frames written by auditdrain are one batch, or one record).
const maxRepairFrame = 1 << 30

// Repair finds the end of the valid prefix of a segment and cuts the
// rest, which a crash during a write can leave behind (a torn tail), then
// gives a zstd segment the index trailer its writer did not write.
//
// For a zstd segment (*.zst) it walks the frames by their headers (magic,
// frame header, block headers, optional checksum; skippable frames are
// kept as they are) and decodes each data frame to verify its content
// checksum (a frame without one ends the valid prefix) and that its text
// ends with a newline. For a plain segment
// the valid prefix ends after the last '\n' that precedes the first NUL
// byte (audit text never contains NUL).
//
// If anything follows the valid prefix, those bytes are copied to
// <path>.broken (replacing an older copy) and fsynced, the segment is
// truncated to the valid prefix and fsynced. A zstd segment left with
// nothing valid is removed instead (an empty file is not valid zstd), so
// only the .broken copy remains. A zstd segment that does not end with a
// valid index trailer then gets one (RepairReport.Indexed), fsynced.
// Afterwards `zstd -t` accepts the segment.
func Repair(path string) (RepairReport, error) {
	rep, ri, err := repair(path)
	if err != nil || !ri.zstd || rep.Removed || ri.trailer {
		return rep, err
	}
	if err := appendTrailer(path, &ri.idx, rep.ValidBytes); err != nil {
		return rep, err
	}
	rep.Indexed = true
	return rep, nil
}

// repair cuts the torn tail of a segment and returns what it learnt about
// the records of the rest.
func repair(path string) (rep RepairReport, ri repairIndex, err error) {
	rep = RepairReport{Path: path}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return rep, ri, fmt.Errorf("segment: repair: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return rep, ri, fmt.Errorf("segment: repair: %w", err)
	}
	size := fi.Size()
	compressed := isZstd(path)
	if compressed {
		ri.zstd = true
		rep.ValidBytes, rep.Frames, err = validZstd(f, size, &ri)
	} else {
		rep.ValidBytes, rep.Frames, err = validPlain(f)
	}
	if err != nil {
		return rep, ri, fmt.Errorf("segment: repair %q: %w", path, err)
	}
	if rep.ValidBytes >= size {
		rep.ValidBytes = size
		return rep, ri, nil
	}
	return rep, ri, cutTail(f, fi, &rep, compressed)
}

// cutTail saves the bytes after rep.ValidBytes to the .broken file and
// truncates the segment there (or removes it when nothing is valid).
func cutTail(f *os.File, fi os.FileInfo, rep *RepairReport, compressed bool) error {
	path, size := rep.Path, fi.Size()
	rep.CutBytes = size - rep.ValidBytes
	rep.BrokenPath = path + brokenSuffix
	if err := saveTail(f, rep.ValidBytes, rep.BrokenPath, fi.Mode().Perm()); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if compressed && rep.ValidBytes == 0 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("segment: repair: remove %q: %w", path, err)
		}
		rep.Removed = true
		_, err := SyncDir(dir)
		return err
	}
	if err := f.Truncate(rep.ValidBytes); err != nil {
		return fmt.Errorf("segment: repair: truncate %q to %d bytes: %w", path, rep.ValidBytes, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("segment: repair: fsync %q: %w", path, err)
	}
	return nil
}

// validZstd returns the length of the longest prefix of whole, verified
// frames and how many frames it holds, and summarizes its records in ri.
func validZstd(f *os.File, size int64, ri *repairIndex) (int64, int, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxRepairFrame))
	if err != nil {
		return 0, 0, fmt.Errorf("create zstd decoder: %w", err)
	}
	defer dec.Close()
	fr := frameReader{r: bufio.NewReaderSize(f, 256<<10), remain: size}
	var valid int64
	var frames int
	var text []byte
	for {
		kind, err := fr.next()
		switch {
		case err == io.EOF:
			return valid, frames, nil
		case errors.Is(err, errTorn) || errors.Is(err, ErrCorrupt):
			return valid, frames, nil
		case err != nil:
			return 0, 0, err
		}
		if kind == frameData {
			if !fr.checksum {
				// Nothing to verify its content against (auditdrain
				// always writes the checksum): the valid prefix ends here.
				return valid, frames, nil
			}
			text, err = dec.DecodeAll(fr.buf, text[:0])
			if err != nil || (len(text) > 0 && text[len(text)-1] != '\n') {
				return valid, frames, nil
			}
			ri.idx.addText(text)
			ri.idx.Frames++
			ri.trailer = false
		} else {
			_, data, ok := parseTrailer(fr.buf)
			ri.trailer = ok && data == valid
		}
		valid += int64(len(fr.buf))
		frames++
	}
}

// validPlain returns the length of the prefix of whole lines before the
// first NUL byte, and the number of lines.
func validPlain(f *os.File) (int64, int, error) {
	r := bufio.NewReaderSize(f, 256<<10)
	buf := make([]byte, 64<<10)
	var pos, valid int64
	var lines int
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			chunk = chunk[:i]
			err = io.EOF
		}
		lines += bytes.Count(chunk, []byte{'\n'})
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			valid = pos + int64(i) + 1
		}
		pos += int64(len(chunk))
		if err == io.EOF {
			return valid, lines, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
}

// saveTail copies f's bytes from off to the end into a new file at path,
// fsyncs it and its directory.
func saveTail(f *os.File, off int64, path string, mode os.FileMode) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("segment: repair: create %q: %w", path, err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, off, 1<<62)); err != nil {
		out.Close()
		return fmt.Errorf("segment: repair: copy the torn tail to %q: %w", path, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("segment: repair: fsync %q: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("segment: repair: close %q: %w", path, err)
	}
	_, err = SyncDir(filepath.Dir(path))
	return err
}

// appendTrailer appends the index trailer for the segment's first
// dataBytes bytes and fsyncs it.
func appendTrailer(path string, idx *Tally, dataBytes int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("segment: index %q: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(idx.AppendTrailer(nil, dataBytes)); err != nil {
		_ = f.Truncate(dataBytes)
		return fmt.Errorf("segment: index %q: %w", path, err)
	}
	if _, err := Datasync(f); err != nil {
		return fmt.Errorf("segment: index %q: %w", path, err)
	}
	return nil
}
