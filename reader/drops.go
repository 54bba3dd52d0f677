package reader

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SocketDrops returns the kernel's count of datagrams dropped at this
// socket (the Drops column of /proc/net/netlink, found by the socket's
// inode). In multicast mode every one of them is a record lost without
// trace anywhere else: the kernel's lost counter does not see them. Safe
// from any goroutine; it reads a /proc file, so call it about once a second,
// not per record.
func (r *Reader) SocketDrops() (uint64, error) {
	var st unix.Stat_t
	r.fdMu.RLock()
	serr := error(os.ErrClosed)
	if !r.fdGone.Load() {
		serr = unix.Fstat(r.fd, &st)
	}
	r.fdMu.RUnlock()
	ino := st.Ino
	if serr != nil {
		return 0, fmt.Errorf("reader: %w", os.NewSyscallError("fstat", serr))
	}
	f, err := os.Open("/proc/net/netlink")
	if err != nil {
		return 0, fmt.Errorf("reader: %w", err)
	}
	defer f.Close()
	return parseNetlinkDrops(f, ino)
}

// parseNetlinkDrops finds the socket with inode ino in /proc/net/netlink's
// text and returns its Drops column.
func parseNetlinkDrops(f *os.File, ino uint64) (uint64, error) {
	sc := bufio.NewScanner(f)
	want := strconv.FormatUint(ino, 10)
	drops, inode := -1, -1
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if drops < 0 { // the header names the columns
			for i, name := range fields {
				switch name {
				case "Drops":
					drops = i
				case "Inode":
					inode = i
				}
			}
			if drops < 0 || inode < 0 {
				return 0, fmt.Errorf("reader: /proc/net/netlink: no Drops or Inode column in %q", sc.Text())
			}
			continue
		}
		if len(fields) > inode && len(fields) > drops && fields[inode] == want {
			return strconv.ParseUint(fields[drops], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reader: /proc/net/netlink: %w", err)
	}
	return 0, fmt.Errorf("reader: socket inode %d not in /proc/net/netlink", ino)
}
