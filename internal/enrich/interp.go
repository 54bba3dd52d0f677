package enrich

import (
	"bytes"
	"net"
	"strconv"
	"time"
)

// value appends the interpretation of f to dst, as auparse's
// auparse_do_interpretation does for the kinds auditd appends (raw escape
// mode: nothing is escaped).
func (e *Enricher) value(dst []byte, f *field, rec recInfo) []byte {
	val := e.p[f.vs:f.ve]
	for _, in := range e.interp {
		if string(in.name) != string(e.p[f.ns:f.ne]) {
			continue
		}
		if bytes.HasPrefix(in.val, []byte("unknown-")) {
			break // auparse interprets it again
		}
		if f.kind == kindUID || f.kind == kindGID {
			return appendEscaped(dst, in.val)
		}
		return append(dst, in.val...)
	}
	switch f.kind {
	case kindUID:
		return e.appendID(dst, val, e.users)
	case kindGID:
		return e.appendID(dst, val, e.groups)
	case kindArch:
		return appendArch(dst, val, rec.machine)
	case kindSyscall:
		return e.appendSyscall(dst, val, rec)
	case kindSockaddr:
		return e.appendSockaddr(dst, val)
	}
	return append(dst, val...)
}

// appendEscaped is auparse's print_escaped: a quoted value unquoted (up to
// the next quote, or " " if there is none), else the value hex-decoded
// (after a leading "00"), or as it is if it does not decode.
func appendEscaped(dst, val []byte) []byte {
	if len(val) > 0 && val[0] == '"' {
		end := bytes.IndexByte(val[1:], '"')
		if end < 0 {
			return append(dst, ' ')
		}
		return append(dst, val[1:1+end]...)
	}
	src := val
	if len(src) >= 2 && src[0] == '0' && src[1] == '0' {
		src = src[2:]
	}
	if out, ok := appendUnescape(dst, src); ok {
		return out
	}
	return append(dst, val...)
}

// appendUnescape is au_unescape as a C string: "(...)" up to its ')', or
// the leading hex digits decoded (an odd last digit pairs with 0) up to the
// first NUL. ok is false where au_unescape returns NULL.
func appendUnescape(dst, src []byte) ([]byte, bool) {
	if len(src) > 0 && src[0] == '(' {
		end := bytes.IndexByte(src, ')')
		if end < 0 {
			return dst, false
		}
		return append(dst, src[:end+1]...), true
	}
	n := 0
	for n < len(src) && isHex(src[n]) {
		n++
	}
	if n < 2 {
		return dst, false
	}
	for i := 0; i < n; i += 2 {
		lo := byte(0)
		if i+1 < n {
			lo = hexVal(src[i+1])
		}
		c := hexVal(src[i])<<4 | lo
		if c == 0 {
			break
		}
		dst = append(dst, c)
	}
	return dst, true
}

// appendID is print_uid/print_gid and aulookup_uid/aulookup_gid: the value
// is read with strtoul into an int, -1 is "unset", 0 is "root" (whatever
// the files say), other ids are looked up, and an id without a name is
// "unknown(N)" with N printed as a signed int.
func (e *Enricher) appendID(dst, val []byte, names *idNames) []byte {
	v, erange := strtoul(val, 10)
	if erange {
		dst = append(dst, "conversion error("...)
		dst = append(dst, val...)
		return append(dst, ')')
	}
	id := int32(v)
	switch id {
	case -1:
		return append(dst, "unset"...)
	case 0:
		return append(dst, "root"...)
	}
	if e.force {
		e.force = false
		e.users.checked, e.groups.checked = time.Time{}, time.Time{}
	}
	if !e.nowSet {
		e.nowVal, e.nowSet = e.now(), true
	}
	if name, ok := names.lookup(uint32(id), e.nowVal); ok {
		return append(dst, name...)
	}
	dst = append(dst, "unknown("...)
	dst = strconv.AppendInt(dst, int64(id), 10)
	return append(dst, ')')
}

// appendArch is print_arch. machine is the record's (from an arch= in the
// position auparse reads it from); when it is not usable the field's own
// value is decoded.
func appendArch(dst, val []byte, machine int) []byte {
	if machine < 0 || machine > machAArch64 {
		v, erange := strtoul(val, 16)
		if erange {
			dst = append(dst, "conversion error("...)
			dst = append(dst, val...)
			return append(dst, ") "...)
		}
		machine = elfToMachine(uint32(v))
	}
	if machine < 0 {
		dst = append(dst, "unknown-elf-type("...)
		dst = append(dst, val...)
		return append(dst, ')')
	}
	if machine < len(machineNames) && machineNames[machine] != "" {
		return append(dst, machineNames[machine]...)
	}
	dst = append(dst, "unknown-machine-type("...)
	dst = strconv.AppendUint(dst, uint64(machine), 10)
	return append(dst, ')')
}

// appendSyscall is print_syscall: the record's syscall number (not the
// field's value) named from the record's machine, or this host's when the
// record has none; socketcall and ipc get their sub-function from a0.
func (e *Enricher) appendSyscall(dst, val []byte, rec recInfo) []byte {
	machine := rec.machine
	if machine < 0 {
		machine = e.machine
	}
	if machine < 0 {
		return append(dst, val...)
	}
	sys := syscallName(rec.syscall, machine)
	if sys == "" {
		dst = append(dst, "unknown-syscall("...)
		dst = strconv.AppendInt(dst, rec.syscall, 10)
		return append(dst, ')')
	}
	dst = append(dst, sys...)
	sub := ""
	if a0 := int32(rec.a0); uint64(int64(a0)) == rec.a0 {
		switch sys {
		case "socketcall":
			sub = tableName(sockCalls[:], a0)
		case "ipc":
			sub = tableName(ipcCalls[:], a0)
		}
	}
	if sub != "" {
		dst = append(dst, '(')
		dst = append(dst, sub...)
		dst = append(dst, ')')
	}
	return dst
}

// saPad is how many zero bytes follow a decoded socket address, so reads
// past its end (a short sun_path, a short sockaddr_in6) see zeros, as they
// do in auparse's zero-filled buffer.
const saPad = 128

// appendSockaddr is print_sockaddr: the hex value decoded (au_unescape) and
// shown as "{ saddr_fam=<family> ... }".
func (e *Enricher) appendSockaddr(dst, val []byte) []byte {
	slen := len(val) / 2
	sa := e.sa[:0]
	if len(val) > 0 && val[0] == '(' {
		end := -1
		for i, c := range val {
			if c == ')' {
				end = i
				break
			}
		}
		if end < 0 {
			return appendMalformed(dst, val)
		}
		sa = append(sa, val[:end+1]...)
	} else {
		n := 0
		for n < len(val) && isHex(val[n]) {
			n++
		}
		if n < 2 {
			return appendMalformed(dst, val)
		}
		for i := 0; i < n; i += 2 {
			lo := byte(0)
			if i+1 < n {
				lo = hexVal(val[i+1])
			}
			sa = append(sa, hexVal(val[i])<<4|lo)
		}
	}
	for range saPad {
		sa = append(sa, 0)
	}
	e.sa = sa

	fam := uint16(sa[0]) | uint16(sa[1])<<8
	var name string
	if int(fam) < len(families) {
		name = families[fam]
	}
	if name == "" {
		dst = append(dst, "unknown-family("...)
		dst = strconv.AppendUint(dst, uint64(fam), 10)
		return append(dst, ')')
	}
	dst = append(dst, "{ saddr_fam="...)
	dst = append(dst, name...)
	switch fam {
	case 1: // AF_LOCAL
		if slen < 4 {
			return append(dst, " sockaddr len too short }"...)
		}
		path := sa[2:]
		if path[0] == 0 {
			path = sa[3:] // abstract name
		}
		dst = append(dst, " path="...)
		dst = appendCString(dst, path, 108)
	case 2: // AF_INET
		if slen < 16 {
			return append(dst, " sockaddr len too short }"...)
		}
		dst = append(dst, " laddr="...)
		dst = appendIPv4(dst, sa[4:8])
		dst = append(dst, " lport="...)
		dst = strconv.AppendUint(dst, uint64(sa[2])<<8|uint64(sa[3]), 10)
	case 3: // AF_AX25: seven %c; a NUL ends auparse's string there
		dst = append(dst, " call="...)
		for _, c := range sa[2:9] {
			if c == 0 {
				return dst
			}
			dst = append(dst, c)
		}
	case 4: // AF_IPX: port and network as stored, not byte-swapped
		dst = append(dst, " lport="...)
		dst = strconv.AppendInt(dst, int64(uint16(sa[2])|uint16(sa[3])<<8), 10)
		dst = append(dst, " ipx-net="...)
		dst = strconv.AppendUint(dst, uint64(le32(sa[4:8])), 10)
	case 8: // AF_ATMPVC
		dst = append(dst, " int="...)
		dst = strconv.AppendInt(dst, int64(int16(uint16(sa[2])|uint16(sa[3])<<8)), 10)
	case 9: // AF_X25
		dst = append(dst, " laddr="...)
		dst = appendCString(dst, sa[2:], 15)
	case 10: // AF_INET6
		if slen < 28 {
			return append(dst, " sockaddr6 len too short }"...)
		}
		dst = append(dst, " laddr="...)
		dst = appendIPv6(dst, sa[8:24], le32(sa[24:28]))
		dst = append(dst, " lport="...)
		dst = strconv.AppendUint(dst, uint64(sa[2])<<8|uint64(sa[3]), 10)
	case 16: // AF_NETLINK
		if slen < 12 {
			return append(dst, " len too short }"...)
		}
		dst = append(dst, " nlnk-fam="...)
		dst = strconv.AppendUint(dst, uint64(fam), 10)
		dst = append(dst, " nlnk-pid="...)
		dst = strconv.AppendUint(dst, uint64(le32(sa[4:8])), 10)
	default:
		dst = append(dst, " (unsupported)"...)
	}
	return append(dst, " }"...)
}

func appendMalformed(dst, val []byte) []byte {
	dst = append(dst, "malformed-host("...)
	dst = append(dst, val...)
	return append(dst, ')')
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// appendCString appends b up to its first NUL, at most max bytes (%.*s).
func appendCString(dst, b []byte, max int) []byte {
	for i, c := range b {
		if c == 0 || i == max {
			break
		}
		dst = append(dst, c)
	}
	return dst
}

func appendIPv4(dst, a []byte) []byte {
	for i, c := range a[:4] {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(c), 10)
	}
	return dst
}

// appendIPv6 is glibc's getnameinfo with NI_NUMERICHOST: inet_ntop's
// text (longest run of two or more zero groups as "::", the first on a
// tie; ::a.b.c.d and ::ffff:a.b.c.d for embedded IPv4), then "%scope" when
// the scope id is set: the interface name for link-local addresses if the
// index names one, else the number.
func appendIPv6(dst, a []byte, scope uint32) []byte {
	var w [8]uint16
	for i := range w {
		w[i] = uint16(a[2*i])<<8 | uint16(a[2*i+1])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i, v := range w {
		if v == 0 {
			if curBase < 0 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase >= 0 {
			if bestBase < 0 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase >= 0 && (bestBase < 0 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase >= 0 && bestLen < 2 {
		bestBase = -1
	}
	for i := 0; i < 8; i++ {
		if bestBase >= 0 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				dst = append(dst, ':')
			}
			continue
		}
		if i != 0 {
			dst = append(dst, ':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || bestLen == 5 && w[5] == 0xffff) {
			dst = appendIPv4(dst, a[12:16])
			break
		}
		dst = strconv.AppendUint(dst, uint64(w[i]), 16)
	}
	if bestBase >= 0 && bestBase+bestLen == 8 {
		dst = append(dst, ':')
	}
	if scope != 0 {
		dst = append(dst, '%')
		linkLocal := w[0]&0xffc0 == 0xfe80 || w[0]&0xff0f == 0xff02
		if linkLocal {
			if ifi, err := net.InterfaceByIndex(int(scope)); err == nil {
				return append(dst, ifi.Name...)
			}
		}
		dst = strconv.AppendUint(dst, uint64(scope), 10)
	}
	return dst
}
