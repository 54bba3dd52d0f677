package record

import (
	"bytes"
	"strconv"
)

// maxStampSeconds bounds the seconds of a header whose time is wanted in
// Unix milliseconds: larger values would overflow an int64 of milliseconds.
const maxStampSeconds = (1<<63 - 1) / 1000

// HeaderMillis is [Header] with the time in Unix milliseconds. It returns ok
// false where Header does, and for seconds too large for milliseconds in an
// int64 (beyond the year 292 million).
func HeaderMillis(p []byte) (ms int64, serial uint64, ok bool) {
	sec, milli, serial, ok := Header(p)
	if !ok || sec > maxStampSeconds {
		return 0, 0, false
	}
	return sec*1000 + int64(milli), serial, true
}

// lineMsg is what precedes the header in a formatted log line:
// "[node=N ]type=T msg=audit(...): ...".
var lineMsg = []byte(" msg=audit(")

// LineHeader finds the header of a formatted log line ("type=T
// msg=audit(SEC.MS:SERIAL): ...", optionally after "node=N ") and parses it
// as [HeaderMillis] does: the same grammar for a kernel payload and for the
// line auditdrain or auditd wrote from it.
func LineHeader(line []byte) (ms int64, serial uint64, ok bool) {
	i := bytes.Index(line, lineMsg)
	if i < 0 {
		return 0, 0, false
	}
	return HeaderMillis(line[i+len(" msg="):])
}

// AppendStamp appends the header "audit(SEC.MSS:SERIAL): " for a time in
// Unix milliseconds, as the kernel's audit_log_start formats it, to b. The
// records auditdrain writes itself use serial 0, which the kernel never
// assigns.
func AppendStamp(b []byte, unixMilli int64, serial uint64) []byte {
	if unixMilli < 0 {
		unixMilli = 0
	}
	b = append(b, "audit("...)
	b = strconv.AppendInt(b, unixMilli/1000, 10)
	frac := unixMilli % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), ':')
	b = strconv.AppendUint(b, serial, 10)
	return append(b, "): "...)
}
