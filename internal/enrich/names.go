package enrich

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// maxNameLen is the longest name auditd prints: aulookup_uid and
// aulookup_gid copy the name into a 64-byte buffer with snprintf.
const maxNameLen = 63

// idNames maps the ids of one file in passwd(5) or group(5) format to their
// names (the first entry wins, as getpwuid and getgrgid with the files
// backend do). It rereads the file when its identity, size or modification
// time changed, looking at most once per checkEvery unless forced.
type idNames struct {
	path       string
	checkEvery time.Duration
	names      map[uint32]string
	lastID     uint32 // the id lookup last found, and its name:
	lastName   string // records repeat one id in many fields
	lastOK     bool

	checked time.Time // last stat; zero: never
	stamp   fileStamp // the file as last loaded
	loads   int       // times the file was (re)loaded, for tests
	err     error     // last error reading the file, nil when it was read
}

// fileStamp is what decides whether a file changed.
type fileStamp struct {
	dev, ino  uint64
	size      int64
	mtimeSec  int64
	mtimeNsec int64
	ctimeSec  int64
	ctimeNsec int64
	present   bool
}

func newIDNames(path string, every time.Duration) *idNames {
	return &idNames{path: path, checkEvery: every, names: map[uint32]string{}}
}

// lookup returns the name of id, refreshing the table first if the last
// look at the file is older than checkEvery (or force is set).
func (n *idNames) lookup(id uint32, now time.Time) (string, bool) {
	if n.checked.IsZero() || now.Sub(n.checked) >= n.checkEvery {
		n.refresh(now)
	}
	if n.lastOK && n.lastID == id {
		return n.lastName, true
	}
	name, ok := n.names[id]
	if ok {
		n.lastID, n.lastName, n.lastOK = id, name, true
	}
	return name, ok
}

// refresh stats the file and reloads it if it changed since the last load.
func (n *idNames) refresh(now time.Time) {
	n.checked = now
	var st unix.Stat_t
	var stamp fileStamp
	if err := unix.Stat(n.path, &st); err == nil {
		stamp = fileStamp{
			dev: st.Dev, ino: st.Ino, size: st.Size,
			mtimeSec: st.Mtim.Sec, mtimeNsec: st.Mtim.Nsec,
			ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec,
			present: true,
		}
	}
	if stamp == n.stamp && n.loads > 0 {
		return
	}
	n.load(stamp)
}

// load reads the file into a new table. A file that cannot be read gives an
// empty table (every id then prints as unknown(N)) and is retried at the
// next check.
func (n *idNames) load(stamp fileStamp) {
	n.loads++
	data, err := os.ReadFile(n.path)
	if err != nil {
		n.names, n.err = map[uint32]string{}, err
		n.lastOK = false
		n.stamp = fileStamp{} // retry at the next check
		return
	}
	n.names, n.err, n.stamp = parseIDFile(data), nil, stamp
	n.lastOK = false
}

// parseIDFile parses passwd(5) or group(5) text: name:password:id:...
// Blank lines, comments and lines whose third field is not a decimal id are
// skipped; the first line naming an id wins.
func parseIDFile(data []byte) map[uint32]string {
	names := make(map[uint32]string)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimLeft(line, " \t\r\v\f")
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := bytes.SplitN(line, []byte{':'}, 4)
		if len(f) < 3 || len(f[0]) == 0 {
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			continue
		}
		if _, dup := names[uint32(id)]; dup {
			continue
		}
		name := f[0]
		if len(name) > maxNameLen {
			name = name[:maxNameLen]
		}
		names[uint32(id)] = string(name)
	}
	return names
}
