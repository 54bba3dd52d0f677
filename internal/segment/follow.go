package segment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"
)

// DefaultFollowInterval is how often Follow looks for new frames and
// segments when the caller gives no interval.
const DefaultFollowInterval = 200 * time.Millisecond

// Follow writes the selected lines of the segments of dir, as Cat does,
// then the lines a running writer appends, across rotations, until ctx is
// done (`auditdrain cat --follow`, like `tail -f`). Every interval it
// reads what was appended to the newest segment after its last complete
// frame, and moves on to newer segments once they exist (the writer
// closes a segment, trailer written, before it creates the next, so a
// segment with a newer one after it is complete: a cut frame in it is
// damage). A segment removed by retention before it was read to the end
// is left for the next one. It polls (one directory listing and one
// read from the last offset per interval), it does not spin.
//
// It returns nil when ctx is done, or a *SkipError if damage was skipped;
// an error for a directory without segments (at the start), an unreadable
// directory, or a failed write to out.
func (r *Reader) Follow(ctx context.Context, out io.Writer, dir string, interval time.Duration) error {
	defer r.v.close()
	r.skips, r.lastSkip = SkipError{}, ""
	if interval <= 0 {
		interval = DefaultFollowInterval
	}
	segs, _, _, err := ScanDir(dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return noSegments(dir)
	}
	var (
		cur     Entry
		started bool
		off     int64
	)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		// Read from the current segment on, up to the newest.
		for i := 0; i < len(segs); i++ {
			s := segs[i]
			if started && (s.Seq < cur.Seq || s.Seq == cur.Seq && s.Name != cur.Name) {
				continue
			}
			if !started || s != cur {
				cur, off, started = s, 0, true
			}
			last := i == len(segs)-1
			next, err := r.catFile(out, filepath.Join(dir, s.Name), off, last, !last)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed (retention, or Repair of an empty one)
			}
			if err != nil {
				return err
			}
			off = next
		}
		select {
		case <-ctx.Done():
			return r.err()
		case <-tick.C:
		}
		if segs, _, _, err = ScanDir(dir); err != nil {
			return fmt.Errorf("segment: follow: %w", err)
		}
	}
}
