package forward

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// Position names a frame of a host's log: its segment and byte offset.
type Position struct {
	Seq    uint64 `json:"segment"`
	Offset int64  `json:"offset"`
}

// Less reports whether p comes before o in the log.
func (p Position) Less(o Position) bool {
	return p.Seq < o.Seq || p.Seq == o.Seq && p.Offset < o.Offset
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Seq, p.Offset) }

// Cursor is the forwarder's durable position in the log: everything
// before (Seq, Offset) has been acknowledged by the server.
type Cursor struct {
	Seq    uint64 `json:"segment"`
	Offset int64  `json:"offset"` // after the last acknowledged frame (0: from the start of Seq)
	// Boot is the boot id that names the frames of segment Seq in message
	// ids: the boot in which the forwarder first read that segment, kept
	// so that a replay after a reboot carries the same ids.
	Boot string `json:"boot"`
	// Last is the last frame acknowledged (zero: none yet): the next
	// message's Auditdrain-Prev, which lets a collector see a gap.
	Last Position `json:"last"`
	// LastSerial is the highest serial acknowledged.
	LastSerial uint64 `json:"last_serial"`
	// SegRecords counts the records of segment Seq acknowledged.
	SegRecords uint64 `json:"segment_records"`
	// Records and Frames count what was acknowledged, in all.
	Records uint64 `json:"records"`
	Frames  uint64 `json:"frames"`
	// Lost counts records of segments deleted before they were sent.
	Lost uint64 `json:"lost"`
}

// loadJSON reads the JSON file path into v; found is false if it does not
// exist.
func loadJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("forward: %s: %w", path, err)
	}
	return true, nil
}

// storeJSON writes v to path durably: a temporary file, fsynced, renamed
// over path, the directory fsynced.
func storeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("forward: write %s: %w", tmp, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("forward: write %s: %w", tmp, err)
	}
	if _, err := segment.Fsync(f); err != nil {
		f.Close()
		return fmt.Errorf("forward: %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	_, err = segment.SyncDir(filepath.Dir(path))
	return err
}
