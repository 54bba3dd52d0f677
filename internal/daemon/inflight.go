package daemon

import (
	"errors"
	"fmt"
	"os"

	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/internal/segment"
	"github.com/auditdrain/auditdrain/internal/service"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
	"golang.org/x/sys/unix"
)

// The records in flight across a crash (issue 15). The ring lives in a
// memfd (ring.NewShared) kept in systemd's fd store beside the audit
// socket (FDNAME=ring) and handed across an upgrade's exec
// (EnvRingFD). Its producer reuses space only once the writer has written
// (write(2) returned: the page cache outlives the process) the frame that
// holds those records: the writer tells the ring where each frame's
// records end (ringMarks, from the positions the drain loop gives the
// writer with At). Before each write, the frame's segment, byte range and
// ring position are left in the ring's header (ring.Pending). A process
// that adopts the ring after a kill writes what is between the written
// position and the tail first, before anything it reads from the socket,
// starting after the pending frame if that frame is whole in its segment
// (frameOnDisk), and after them what the killed reader's last recvmmsg had
// taken from the socket and not put into the ring (its receive buffers
// live in the ring's extra memory: reader.Undelivered): no record is lost
// and none written twice. The op=restart check applies to the first
// record read from the socket (pipeline.Options.Replayed).

// EnvRingFD names the ring's memfd inherited across an upgrade's exec.
const EnvRingFD = "AUDITDRAIN_RING_FD"

// ringMarks passes the writer's frame marks to the shared ring.
type ringMarks struct{ r *ring.Ring }

func (m ringMarks) Pending(seq uint64, off, end int64, mark uint64) {
	m.r.SetPending(ring.Pending{Segment: seq, Off: off, End: end, Mark: mark})
}

func (m ringMarks) Written(mark uint64) { m.r.Release(mark) }

// openRing makes the ring, or adopts the one a previous process left (fd
// >= 0). Called before the writer opens: whether the previous process's
// last frame is whole is judged on its segment as that process left it,
// before the writer's repair moves a torn tail away.
func (d *Daemon) openRing(fd int) (err error) {
	size := int(d.cfg.RingSize)
	if d.opts.Discard {
		if fd >= 0 {
			unix.Close(fd)
		}
		d.ring, err = ring.New(size)
		return err
	}
	if fd >= 0 {
		r, err := ring.Adopt(fd)
		if err == nil {
			d.adoptRing(r)
			return nil
		}
		d.logf("not using the inherited ring: %v; making a new one", err)
		unix.Close(fd)
		if _, err := service.NewNotifier().RemoveFD(service.FDNameRing); err != nil {
			d.logf("%v", err)
		}
	}
	if d.ring, err = ring.NewShared("auditdrain-ring", size, reader.SharedSize(d.readerConfig(d.cfg.Mode))); err != nil {
		d.logf("%v: the ring is in this process's memory only (a crash loses what it holds)", err)
		d.ring, err = ring.New(size)
	}
	return err
}

// adoptRing takes over a ring left by the previous process: the records
// between its written position and its tail are written first, except
// those of a pending frame that is whole on disk.
func (d *Daemon) adoptRing(r *ring.Ring) {
	d.ring = r
	if r.Cap() != ring.RoundSize(int(d.cfg.RingSize)) {
		d.logf("the inherited ring holds %d bytes, not ring_size %d: keeping its size until the unit stops", r.Cap(), d.cfg.RingSize)
	}
	written := r.Written()
	p := r.LastPending()
	if p.Mark != written && p.Mark-written <= uint64(r.Unwritten()) {
		on, path, err := frameOnDisk(d.cfg.LogDir, p)
		switch {
		case err != nil:
			d.logf("the previous process's last frame (%s bytes %d-%d): %v; writing its records again", path, p.Off, p.End, err)
		case on:
			if err := r.Rewind(p.Mark); err != nil {
				d.logf("the inherited ring: %v; writing the last frame's records again", err)
			} else {
				d.logf("the previous process's last frame is whole in %s (bytes %d-%d): its records are not written again", path, p.Off, p.End)
			}
		default:
			d.logf("the previous process's last frame did not reach %s whole (bytes %d-%d): writing its records again", path, p.Off, p.End)
		}
	}
	// What the killed reader had taken from the socket (its last recvmmsg)
	// and not put into the ring goes after what is in the ring.
	received, full := 0, 0
	reader.Undelivered(r.Extra(), func(typ uint16, p []byte, maybe bool) {
		if maybe && r.Holds(typ, p) {
			return // it reached the ring before the kill
		}
		if ok, _ := r.TryPush(typ, p); !ok {
			full++
			return
		}
		received++
	})
	if full > 0 {
		d.logf("the inherited ring is full: %d records the previous process had received are lost (op=restart names them)", full)
	}
	n := r.Count()
	d.inflight = n
	d.logf("adopted the ring (%d bytes): %d records read by the previous process and not written go first (%d of them received and not yet in the ring)", r.Cap(), n, received)
}

// readerConfig is the reader's config: its receive buffers in the shared
// ring's extra memory, when there is one.
func (d *Daemon) readerConfig(mode reader.Mode) reader.Config {
	rc := reader.Config{Mode: mode, RcvBuf: int(d.cfg.RcvBuf)}
	if d.ring != nil {
		if x := d.ring.Extra(); len(x) >= reader.SharedSize(rc) {
			rc.Shared = x
		}
	}
	return rc
}

// frameOnDisk reports whether the frame(s) a pending write meant to put
// at bytes p.Off to p.End of segment p.Segment are there, whole and
// verified: a zstd segment's frames from p.Off must end exactly at p.End.
// A compression "none" segment is judged by its size and the last byte
// (a newline): a write cut short by the kill can have left some of the
// frame's lines, which are then written again.
func frameOnDisk(dir string, p ring.Pending) (bool, string, error) {
	path := segment.Path(dir, p.Segment, true)
	if _, err := os.Stat(path); err != nil {
		plain := segment.Path(dir, p.Segment, false)
		if _, perr := os.Stat(plain); perr != nil {
			if errors.Is(err, os.ErrNotExist) {
				return false, path, nil
			}
			return false, path, err
		}
		return plainOnDisk(plain, p)
	}
	var sc segment.FrameScanner
	defer sc.Close()
	at, whole := p.Off, false
	_, err := sc.Scan(path, p.Off, true, 4, func(f *segment.Frame) error {
		if f.Offset != at {
			return errStop
		}
		at = f.End
		if at >= p.End {
			whole = at == p.End
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, path, err
	}
	return whole, path, nil
}

var errStop = errors.New("stop")

func plainOnDisk(path string, p ring.Pending) (bool, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, path, err
	}
	defer f.Close()
	b := make([]byte, 1)
	if p.End <= p.Off {
		return false, path, fmt.Errorf("empty range")
	}
	if n, _ := f.ReadAt(b, p.End-1); n != 1 || b[0] != '\n' {
		return false, path, nil
	}
	return true, path, nil
}

// writerConfig is the writer's config: the frame marks go to a shared
// ring.
func (d *Daemon) writerConfig() (writer.Config, error) {
	wc, err := d.cfg.Writer(d.writerEvent)
	if err != nil {
		return wc, err
	}
	wc.BeforeDelete = d.fwdHook.beforeDelete
	if d.ring.Shared() {
		wc.Marks = ringMarks{d.ring}
	}
	return wc, nil
}

// storeRing hands the ring's memfd to systemd's fd store (FDNAME=ring),
// so that the process started after a crash adopts the records in it.
func (d *Daemon) storeRing() {
	fd := d.ring.Fd()
	if fd < 0 {
		return
	}
	if _, err := service.NewNotifier().StoreFD(fd, service.FDNameRing); err != nil {
		d.logf("handing the ring to systemd's fd store: %v (a crash loses the records read and not written)", err)
	}
}
