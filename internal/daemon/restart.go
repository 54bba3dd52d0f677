package daemon

import (
	"errors"
	"strconv"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/writer"
)

// writerEvent receives the writer's disk events (space left, disk full,
// suspend, resume, deletions) on the writer's goroutine and logs them.
// "syslog" actions reach the system log through stderr, which systemd
// sends to the journal and syslog.
func (d *Daemon) writerEvent(ev writer.Event) {
	d.logf("log writer: %s", ev.String())
}

// repairRecord writes what Open's repair of the previous run's last segment
// cut, if anything: the log itself then says why bytes are missing.
func (d *Daemon) repairRecord() {
	if d.w == nil {
		return
	}
	r := d.w.LastRepair()
	if r.CutBytes == 0 && !r.Removed {
		return
	}
	b := record.AppendStamp(d.selfBuf[:0], time.Now().UnixMilli(), 0)
	b = append(b, "op=repair file="...)
	b = strconv.AppendQuote(b, r.Path)
	b = append(b, " kept_bytes="...)
	b = strconv.AppendInt(b, r.ValidBytes, 10)
	b = append(b, " cut_bytes="...)
	b = strconv.AppendInt(b, r.CutBytes, 10)
	b = append(b, " kept_frames="...)
	b = strconv.AppendInt(b, int64(r.Frames), 10)
	b = append(b, " broken="...)
	b = strconv.AppendQuote(b, r.BrokenPath)
	d.selfBuf = append(b, " res=failed"...)
	d.writeSelfPayload(record.TypeDaemonErr, d.selfBuf)
	d.logf("repaired the torn tail of %s: kept %d bytes (%d frames), moved %d bytes to %s",
		r.Path, r.ValidBytes, r.Frames, r.CutBytes, r.BrokenPath)
}

// lastSerialBefore returns the highest serial the previous runs wrote: from
// the index of the newest earlier segment that has stamped records (a run
// that failed at start leaves an empty one), 0 if there is none.
func lastSerialBefore(dir string, _ segment.RepairReport) uint64 {
	segs, err := segment.List(dir)
	if err != nil {
		return 0
	}
	// The newest segment is this run's own.
	for i := len(segs) - 2; i >= 0 && i >= len(segs)-10; i-- {
		idx, err := segment.ReadIndex(segs[i])
		if err != nil {
			// A damaged segment still gives the index of what is
			// readable, with ErrSkipped.
			if idx, err = segment.ScanIndex(segs[i]); err != nil && !errors.Is(err, segment.ErrSkipped) {
				continue
			}
		}
		if idx.MaxSerial != 0 {
			return idx.MaxSerial
		}
	}
	return 0
}
