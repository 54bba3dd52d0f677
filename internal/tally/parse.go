package tally

import "bytes"

// syscallFields are the fields of a SYSCALL or URINGOP record that the
// counter reads. Each value aliases the payload.
type syscallFields struct {
	arch    uint32
	syscall int // -1: none (URINGOP) or unparsable
	auid    []byte
	uid     []byte
	exe     []byte // the value as logged: quoted text without the quotes, or hex
	exeHex  bool
	hasExe  bool
}

var (
	fArch    = []byte("): arch=")
	fSyscall = []byte(" syscall=")
	fUIDWord = []byte("uid=")
	fUID     = []byte(" uid=")
	fExe     = []byte(" exe=")
)

// parseSyscall reads the fields from p. The kernel writes them in a fixed
// order (audit_log_exit, audit_log_task_info): arch first, then syscall,
// ..., ppid, pid, auid, uid, ..., comm, exe, subj, key. Scans start from
// bytes that are rare in the record ('u' of "uid=", not the space before
// every field), and exe= is looked for from the end, where it is.
func parseSyscall(p []byte) (f syscallFields) {
	f.syscall = -1
	off := 0
	if i := bytes.IndexByte(p, ')'); i >= 0 && bytes.HasPrefix(p[i:], fArch) {
		off = i + len(fArch)
		var n uint32
		for j := 0; off < len(p) && j < 8; j++ {
			d, ok := hexDigit(p[off])
			if !ok {
				break
			}
			n = n<<4 | uint32(d)
			off++
		}
		f.arch = n
		if rest := p[off:]; bytes.HasPrefix(rest, fSyscall) {
			v := rest[len(fSyscall):]
			n, k := 0, 0
			for ; k < len(v) && k < 6 && v[k]-'0' <= 9; k++ {
				n = n*10 + int(v[k]-'0')
			}
			if k > 0 {
				f.syscall = n
			}
			off += len(fSyscall) + k
		}
	}
	// " auid=": the first "uid=" preceded by " a".
	for from := off; ; {
		i := bytes.Index(p[from:], fUIDWord)
		if i < 0 {
			break
		}
		at := from + i
		if at >= 2 && p[at-1] == 'a' && p[at-2] == ' ' {
			off = at + len(fUIDWord)
			f.auid = word(p[off:])
			off += len(f.auid)
			if rest := p[off:]; bytes.HasPrefix(rest, fUID) {
				off += len(fUID)
				f.uid = word(p[off:])
				off += len(f.uid)
			}
			break
		}
		from = at + len(fUIDWord)
	}
	if i := lastField(p, off, fExe); i >= 0 {
		v := p[i+len(fExe):]
		if len(v) > 0 && v[0] == '"' {
			if end := bytes.IndexByte(v[1:], '"'); end >= 0 {
				f.exe, f.hasExe = v[1:1+end], true
			}
		} else if w := word(v); len(w) > 0 && string(w) != "(null)" {
			f.exe, f.exeHex, f.hasExe = w, true, true
		}
	}
	return f
}

// lastField returns the index of the last field name (" exe=") in p[from:],
// or -1. It steps back from '=' to '=' (one per field; the field is near
// the end), not byte by byte.
func lastField(p []byte, from int, name []byte) int {
	for j := len(p); j > from; {
		k := bytes.LastIndexByte(p[from:j], '=')
		if k < 0 {
			return -1
		}
		k += from
		if start := k + 1 - len(name); start >= from && string(p[start:k+1]) == string(name) {
			return start
		}
		j = k
	}
	return -1
}

// word returns p up to the first space.
func word(p []byte) []byte {
	if i := bytes.IndexByte(p, ' '); i >= 0 {
		return p[:i]
	}
	return p
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
