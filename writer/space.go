package writer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/auditdrain/auditdrain/internal/segment"
)

// This file holds the appender's conditions and actions: write errors,
// disk space, suspension and resumption, and the programs actions run.

// classify tells a full disk from other write errors. EDQUOT is a disk
// error: statfs cannot see a quota, so a disk_full suspension could not
// end by itself.
func classify(err error) Cause {
	if errors.Is(err, syscall.ENOSPC) {
		return CauseDiskFull
	}
	return CauseDiskError
}

// fail records a write-path error and, unless the condition is already in
// progress, reports it and applies its action. It returns true when the
// action freed space, so that the failed frame is worth one more try.
func (a *appender) fail(cause Cause, err error) bool {
	w := a.w
	w.c.writeErrors.Add(1)
	w.setErr(err)
	if a.cond.failing[cause] {
		return false
	}
	a.cond.failing[cause] = true
	act := a.actionFor(cause)
	a.notify(Event{Kind: EventCondition, Cause: cause, Action: act, Path: a.seg.path, Err: err, FreeBytes: a.freeNow()})
	return a.apply(cause, act)
}

// cleared ends the write-error conditions after a successful write.
func (a *appender) cleared() {
	for _, c := range [...]Cause{CauseDiskFull, CauseDiskError} {
		if a.cond.failing[c] {
			a.cond.failing[c] = false
			a.notify(Event{Kind: EventCleared, Cause: c, Path: a.seg.path, FreeBytes: -1})
		}
	}
}

func (a *appender) actionFor(c Cause) Action {
	switch c {
	case CauseDiskFull:
		return a.s.DiskFullAction
	case CauseSpaceLeft:
		return a.s.SpaceLeftAction
	case CauseAdminSpaceLeft:
		return a.s.AdminSpaceLeftAction
	case CauseMaxLogFile:
		return a.s.MaxLogFileAction
	default:
		return a.s.DiskErrorAction
	}
}

// apply runs an action for a condition. Ignore and syslog only report
// (the Event was delivered by the caller). It returns true when rotate
// deleted segments.
func (a *appender) apply(cause Cause, act Action) bool {
	switch act.Kind {
	case ActionRotate:
		return a.freeSpace(cause)
	case ActionSuspend:
		a.suspend(cause)
	case ActionExec:
		a.runProgram(act.Path, "", cause)
	case ActionSingle:
		a.runProgram(a.s.initPath, "1", cause)
		a.suspend(cause)
	case ActionHalt:
		a.runProgram(a.s.initPath, "0", cause)
		a.suspend(cause)
	}
	return false
}

// suspend stops writing: from now on every batch is dropped and counted
// under cause, until resume.
func (a *appender) suspend(cause Cause) {
	if a.cond.suspended {
		return
	}
	a.cond.suspended, a.cond.suspendCause = true, cause
	a.w.c.suspended.Store(int32(cause) + 1)
	if !a.cond.gap.pending {
		a.cond.gap.cause = cause
	}
	a.cond.gap.pending = true
	a.notify(Event{Kind: EventSuspended, Cause: cause, Path: a.seg.path, FreeBytes: -1})
}

// resume ends a suspension and writes the notice of what was not written.
// A manual resume (Writer.Resume) also forgets which conditions were in
// progress, so that their actions apply again if they still hold.
func (a *appender) resume(manual bool) {
	if manual {
		a.cond.failing = [NumCauses]bool{}
		a.cond.spaceHit, a.cond.adminHit = false, false
	}
	if a.cond.suspended {
		cause := a.cond.suspendCause
		a.cond.suspended = false
		a.cond.failing[cause] = false // failing again suspends again
		a.w.c.suspended.Store(0)
		if cause == CauseMaxLogFile && a.seg.f != nil && a.seg.idx.Frames > 0 {
			a.closeSegment() // ready starts the next segment
		}
	} else if !manual || !a.cond.gap.pending {
		return
	}
	if err := a.writeNotice(); err != nil {
		a.fail(classify(err), err)
	}
}

// check runs every CheckInterval: free space, the open segment's link
// count, rotation by age, and the end of a disk-full suspension.
func (a *appender) check(now time.Time) {
	if free, total, err := a.statfs(); err == nil {
		a.w.c.free.Store(free)
		a.checkSpace(free, total)
	}
	if a.seg.f != nil {
		if links, err := a.seg.f.Links(); err == nil && links == 0 {
			path, recs := a.seg.path, a.seg.idx.Records
			a.abandon()
			a.fail(CauseDiskError, fmt.Errorf("%w: %q (holding %d records) was removed while open", ErrSegmentRemoved, path, recs))
		}
	}
	if a.s.RotateInterval > 0 && a.seg.f != nil && a.seg.idx.Frames > 0 && now.Sub(a.seg.created) >= a.s.RotateInterval {
		a.rotate()
	}
	a.trace(traceCheck, 0, 0)
}

func (a *appender) checkSpace(free, total int64) {
	s := a.s
	if s.AdminSpaceLeft.set() {
		a.threshold(&a.cond.adminHit, CauseAdminSpaceLeft, free, s.AdminSpaceLeft.bytes(total))
	}
	if s.SpaceLeft.set() {
		a.threshold(&a.cond.spaceHit, CauseSpaceLeft, free, s.SpaceLeft.bytes(total))
	}
	if a.cond.suspended && a.cond.suspendCause == CauseDiskFull && free >= a.target(CauseDiskFull, total) {
		a.resume(false)
	}
}

// threshold applies a free-space condition once when free space falls
// below limit, and clears it (ending a suspension it caused) when free
// space is back at or above it.
func (a *appender) threshold(hit *bool, cause Cause, free, limit int64) {
	if free < limit {
		if *hit {
			return
		}
		*hit = true
		act := a.actionFor(cause)
		a.notify(Event{Kind: EventCondition, Cause: cause, Action: act, Path: a.s.Dir, FreeBytes: free})
		a.apply(cause, act)
		return
	}
	if *hit {
		*hit = false
		a.notify(Event{Kind: EventCleared, Cause: cause, Path: a.s.Dir, FreeBytes: free})
		if a.cond.suspended && a.cond.suspendCause == cause {
			a.resume(false)
		}
	}
}

// target is the free space a condition wants: its threshold, or for a
// full disk the larger of both thresholds and four batches.
func (a *appender) target(cause Cause, total int64) int64 {
	space, admin := a.s.SpaceLeft.bytes(total), a.s.AdminSpaceLeft.bytes(total)
	switch cause {
	case CauseSpaceLeft:
		return space
	case CauseAdminSpaceLeft:
		return admin
	default:
		return max(space, admin, 4*int64(a.s.BatchBytes))
	}
}

// freeSpace is the rotate action for disk space: it closes the current
// segment if it holds frames (the next frame starts a new one) and deletes
// the oldest segments, never the newest MinLogs, until free space reaches
// the condition's target. It returns true if it deleted any.
func (a *appender) freeSpace(cause Cause) bool {
	if a.seg.f != nil && a.seg.idx.Frames > 0 {
		a.closeSegment()
	}
	segs, _, _, err := segment.ScanDir(a.s.Dir)
	if err != nil {
		a.w.setErr(err)
		return false
	}
	deleted := 0
	for _, seg := range segs[:max(0, len(segs)-a.s.MinLogs)] {
		if free, total, err := a.statfs(); err == nil && free >= a.target(cause, total) {
			break
		}
		path := filepath.Join(a.s.Dir, seg.Name)
		if path == a.seg.path && a.seg.f != nil {
			continue
		}
		if a.remove(path, cause) {
			deleted++
		}
	}
	if deleted > 0 {
		a.syncDirAfterDelete()
	}
	return deleted > 0
}

// retention runs after a rotation with max_log_file_action = rotate: it
// deletes the oldest segments beyond NumLogs (the current one included),
// then while all segments together exceed MaxTotalBytes. The current
// segment is never deleted.
func (a *appender) retention() {
	s := a.s
	if s.NumLogs == 0 && s.MaxTotalBytes == 0 {
		return
	}
	segs, _, _, err := segment.ScanDir(s.Dir)
	if err != nil {
		a.w.setErr(err)
		return
	}
	sizes := make([]int64, len(segs))
	var total int64
	if s.MaxTotalBytes > 0 {
		for i, seg := range segs {
			if fi, err := os.Stat(filepath.Join(s.Dir, seg.Name)); err == nil {
				sizes[i] = fi.Size()
				total += sizes[i]
			}
		}
	}
	left, deleted := len(segs), 0
	for i, seg := range segs {
		path := filepath.Join(s.Dir, seg.Name)
		over := s.NumLogs > 0 && left > s.NumLogs || s.MaxTotalBytes > 0 && total > s.MaxTotalBytes
		if !over || path == a.seg.path {
			break
		}
		if a.remove(path, CauseMaxLogFile) {
			left--
			deleted++
			total -= sizes[i]
		}
	}
	if deleted > 0 {
		a.syncDirAfterDelete()
	}
}

func (a *appender) remove(path string, cause Cause) bool {
	if a.s.BeforeDelete != nil {
		a.s.BeforeDelete(path)
	}
	if err := os.Remove(path); err != nil {
		a.w.setErr(fmt.Errorf("writer: delete old segment: %w", err))
		return false
	}
	a.w.c.deleted.Add(1)
	a.notify(Event{Kind: EventDeleted, Cause: cause, Path: path, FreeBytes: -1})
	return true
}

func (a *appender) syncDirAfterDelete() {
	nanos, err := segment.SyncDir(a.s.Dir)
	a.w.c.fsynced(nanos)
	if err != nil {
		a.w.setErr(err)
	}
}

// runProgram starts an action's program without waiting for it (a
// goroutine reaps it). It gets AUDITDRAIN_CONDITION=<cause>.
func (a *appender) runProgram(path, arg string, cause Cause) {
	cmd := exec.Command(path)
	if arg != "" {
		cmd.Args = append(cmd.Args, arg)
	}
	cmd.Env = append(os.Environ(), "AUDITDRAIN_CONDITION="+cause.String())
	err := cmd.Start()
	if err == nil {
		go cmd.Wait()
	} else {
		err = fmt.Errorf("writer: %s action for %s: %w", filepath.Base(path), cause, err)
	}
	a.notify(Event{Kind: EventExec, Cause: cause, Action: a.actionFor(cause), Path: path, Err: err, FreeBytes: -1})
}

// statfs returns the free space (available to unprivileged users, as
// auditd counts it) and the size of the log's file system.
func (a *appender) statfs() (free, total int64, err error) {
	return a.env.statfs(a.lock, a.seg.f)
}

func (a *appender) freeNow() int64 {
	free, _, err := a.statfs()
	if err != nil {
		return -1
	}
	return free
}

func (a *appender) notify(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = a.env.clock.Now()
	}
	a.w.c.events.Add(1)
	if a.s.Notify != nil {
		a.s.Notify(ev)
	}
}
