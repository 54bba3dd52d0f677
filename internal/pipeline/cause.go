package pipeline

import "strconv"

// Cause is why records were lost or not written. Its String is the name
// used in op=lost records, status and the auditdrain_records_lost_total
// metric's cause label.
type Cause uint8

// The loss causes, in the order op=lost records list them.
const (
	CauseKernel      Cause = iota // the kernel's lost counter moved
	CauseOverrun                  // ENOBUFS on the socket (events, not records)
	CauseTruncated                // records longer than the receive buffer
	CauseDropped                  // overflow_action = drop
	CauseOversized                // records larger than the ring can hold
	CauseRateLimited              // suppressed by a ratelimit rule
	CauseGap                      // serial gaps (a heuristic, not proof of loss)
	CauseDisk                     // records the writer could not write
	CauseSockDrop                 // multicast: datagrams the kernel dropped at our socket (/proc/net/netlink Drops)
	CauseForward                  // records retention deleted before the forwarder sent them (internal/forward)

	// NumCauses is the number of causes: range over it for all of them.
	NumCauses
)

// causeNames is the one name table of the causes.
var causeNames = [NumCauses]string{
	CauseKernel:      "kernel",
	CauseOverrun:     "overrun",
	CauseTruncated:   "truncated",
	CauseDropped:     "dropped",
	CauseOversized:   "oversized",
	CauseRateLimited: "ratelimited",
	CauseGap:         "gap",
	CauseDisk:        "disk",
	CauseSockDrop:    "sockdrop",
	CauseForward:     "forward",
}

// String returns the cause's name ("dropped"), or "cause(N)" for a value
// out of range.
func (c Cause) String() string {
	if c < NumCauses {
		return causeNames[c]
	}
	return "cause(" + strconv.Itoa(int(c)) + ")"
}

// Certain reports whether records counted under c are certainly lost; serial
// gaps are a heuristic (serials of events no rule selected leave gaps too).
func (c Cause) Certain() bool { return c != CauseGap }

// Losses is a snapshot of every loss counter, indexed by Cause.
type Losses [NumCauses]uint64

// Any reports whether any counter is not zero.
func (l Losses) Any() bool { return l != Losses{} }

// Sub returns the counters of l minus those of an earlier snapshot o.
func (l Losses) Sub(o Losses) Losses {
	var d Losses
	for c := range l {
		d[c] = l[c] - o[c]
	}
	return d
}

// Total returns the sum of the counters whose cause is [Cause.Certain].
func (l Losses) Total() uint64 {
	var n uint64
	for c := range NumCauses {
		if c.Certain() {
			n += l[c]
		}
	}
	return n
}

// Map returns the counters by cause name.
func (l Losses) Map() map[string]uint64 {
	m := make(map[string]uint64, NumCauses)
	for c := range NumCauses {
		m[c.String()] = l[c]
	}
	return m
}

// AppendText appends the counters as "kernel=0 overrun=2 ..." in Cause
// order to b. With omitZero, causes whose counter is zero are left out, and
// "none" is appended when all are.
func (l Losses) AppendText(b []byte, omitZero bool) []byte {
	n := len(b)
	for c := range NumCauses {
		if omitZero && l[c] == 0 {
			continue
		}
		if len(b) > n {
			b = append(b, ' ')
		}
		b = append(b, causeNames[c]...)
		b = append(b, '=')
		b = strconv.AppendUint(b, l[c], 10)
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}

// String returns every counter as AppendText does.
func (l Losses) String() string { return string(l.AppendText(nil, false)) }

// CounterDelta is how much a kernel uint32 counter (lost,
// backlog_wait_time_actual) moved from prev to cur: modulo 2^32 across a
// wrap, but a counter that went down from below 2^31 was reset (auditctl
// --reset-lost), and then cur is what accrued since.
func CounterDelta(prev, cur uint32) uint64 {
	if cur < prev && prev < 1<<31 {
		return uint64(cur)
	}
	return uint64(cur - prev)
}
