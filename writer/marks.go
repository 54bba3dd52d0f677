package writer

// FrameMarks learns, on the appender goroutine, where the records of each
// frame end in the Writer's input (the positions the caller gave At), so
// that input kept outside the process (a shared ring) can be released
// once it is in the segment's page cache, and a process started after a
// crash can tell whether the last frame reached the file:
//
//   - Pending(seq, off, end, mark) just before the write(2) of a frame
//     holding the records before mark: it goes to the segment numbered seq,
//     from byte off to byte end (a notice written with it included).
//   - Written(mark) once that write returned, or once the batch was
//     dropped (not written, counted in Stats.RecordsNotWritten): its input
//     is no longer needed.
//
// Marks never go back. Both must return quickly.
type FrameMarks interface {
	Pending(seq uint64, off, end int64, mark uint64)
	Written(mark uint64)
}

// Settled reports whether every record handed to Append is written (or
// dropped, counted): no batch is open and every sealed batch is back from
// the appender. mark is then the position (At's after) up to which the
// caller's input is no longer needed, also for records it left out after
// the last batch. Drain goroutine only, as Append.
func (w *Writer) Settled() (mark uint64, ok bool) {
	if w.closed || w.cur != nil || len(w.free) != w.s.poolSize {
		return 0, false
	}
	return w.markAfter, true
}
