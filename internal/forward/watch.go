package forward

import (
	"bytes"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirWatch wakes the forwarder when the log directory changes (a frame
// appended to a segment, a segment created, renamed or removed), so that
// it neither polls an idle log nor waits a poll interval for a new frame.
// C gets one value per burst of changes.
type dirWatch struct {
	f *os.File
	C chan struct{}
}

// watchDir starts watching dir; nil if inotify is unavailable (the
// forwarder then polls).
func watchDir(dir string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil
	}
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), C: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := w.f.Read(buf)
			if err != nil {
				return // closed
			}
			if onlyCursor(buf[:n]) {
				continue // the forwarder's own cursor writes
			}
			select {
			case w.C <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *dirWatch) close() {
	if w != nil {
		w.f.Close()
	}
}

// onlyCursor reports whether every inotify event in b is about the
// cursor file (or its temporary), which the forwarder writes itself.
func onlyCursor(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return false
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00"))
		if !strings.HasPrefix(name, CursorName) {
			return false
		}
		b = b[end:]
	}
	return true
}
