package writer

import (
	"strconv"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
)

// buildNotice makes the frame (or plain line) that tells, in the log
// itself, how many records were not written since the last notice and
// the range of their serials:
//
//	type=DAEMON_RESUME msg=audit(SEC.MS:0): op=resume cause=disk_full records_not_written=N first_serial=A last_serial=B
//
// first_serial and last_serial are the smallest and largest serial among
// the records not written (0 when none had one). The result is valid
// until the next call.
func (a *appender) buildNotice() ([]byte, error) {
	g := &a.cond.gap
	ms := a.env.clock.Now().UnixMilli()
	first, last := g.serials()
	payload := record.AppendStamp(a.noticeOut[:0], ms, 0)
	payload = append(payload, "op=resume cause="...)
	payload = append(payload, g.cause.String()...)
	payload = append(payload, " records_not_written="...)
	payload = strconv.AppendUint(payload, g.records, 10)
	payload = append(payload, " first_serial="...)
	payload = strconv.AppendUint(payload, first, 10)
	payload = append(payload, " last_serial="...)
	payload = strconv.AppendUint(payload, last, 10)
	a.noticeText = a.w.fmt.appendLine(a.noticeText[:0], record.TypeDaemonResume, payload)
	a.noticeMs = ms
	if !a.s.zstd {
		return a.noticeText, nil
	}
	if a.enc == nil {
		enc, err := newEncoder(a.s.level)
		if err != nil {
			return nil, err
		}
		a.enc = enc
	}
	out, err := encodeFrame(a.enc, a.noticeText, a.noticeOut[:0])
	a.noticeOut = out
	return out, err
}

func (n *notice) serials() (first, last uint64) {
	if n.stamps.N > 0 {
		return n.stamps.MinSerial, n.stamps.MaxSerial
	}
	return 0, 0
}

// writeNotice writes the pending notice as a frame of its own (on resume,
// or at Close, when no batch may follow).
func (a *appender) writeNotice() error {
	if err := a.ready(); err != nil {
		return err
	}
	data, err := a.buildNotice()
	if err == nil {
		err = a.writeFrame(data, false)
	}
	if err != nil {
		return err
	}
	a.noticed()
	a.flushPolicy()
	return nil
}

// noticed accounts for the notice just written.
func (a *appender) noticed() {
	g := a.cond.gap
	a.cond.gap = notice{}
	a.seg.idx.Records++
	a.seg.idx.Frames++
	a.seg.idx.Stamps.Add(a.noticeMs, 0)
	a.w.c.notices.Add(1)
	a.unsynced(time.UnixMilli(a.noticeMs), 1)
	first, last := g.serials()
	a.notify(Event{Kind: EventResumed, Cause: g.cause, Path: a.seg.path, FreeBytes: -1, Records: g.records, FirstSerial: first, LastSerial: last})
}
