package rulesd

import (
	"encoding/binary"
	"slices"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/elastic/go-libaudit/v2"
)

// Apply is Load for a daemon that starts: when the kernel already holds
// exactly the set's rules, in the order Load would leave them in each
// filter list, it sends no rule and no -D, and a control line (-b, -f, -e,
// -r, --backlog_wait_time) only when the kernel's value differs. Otherwise
// it is Load. unchanged reports the first case.
//
// Why: a restart (a crash under systemd, an upgrade) finds the rules of the
// previous run. Load's -D then re-adding them opens a window with no rules,
// in which events are not audited at all; and every change is a
// CONFIG_CHANGE record from a process that, after adopting the previous
// daemon's socket, is not the registered pid, so the kernel makes it wait
// for room in a full backlog (backlog_wait_time) before the daemon has read
// anything. Seen under systemd at 20,000 events/s: a start of 250 ms took
// 0.9 to 1.4 s.
//
// known is the kernel's status when the caller has just read it (nil:
// Apply reads it): each request on the audit control socket waits while
// the kernel's queue is over backlog_limit.
func (s *Set) Apply(c *auditctl.Conn, known *libaudit.AuditStatus, allowPanic bool) (rep Report, unchanged bool, err error) {
	st, err := s.check(c, known, allowPanic)
	if err != nil {
		return rep, false, err
	}
	loaded, err := c.Rules()
	if err != nil {
		return rep, false, err
	}
	have := make(map[string]bool, len(loaded))
	for _, w := range loaded {
		have[string(w)] = true
	}
	if !sameLists(loaded, s.Rules) {
		return rep, false, s.run(c, s.steps, have, allowPanic, &rep)
	}
	steps := make([]step, 0, len(s.steps))
	for _, st0 := range s.steps {
		if st0.ctl.kind == ctlDelete || controlHolds(st0.ctl, st) {
			continue
		}
		steps = append(steps, st0)
	}
	return rep, true, s.run(c, steps, have, allowPanic, &rep)
}

// controlHolds reports whether the kernel's status already has the value
// the control line sets.
func controlHolds(ctl control, st libaudit.AuditStatus) bool {
	switch ctl.kind {
	case ctlBacklog:
		return st.BacklogLimit == ctl.value
	case ctlFailure:
		return st.Failure == ctl.value
	case ctlEnabled:
		return st.Enabled == ctl.value
	case ctlRateLimit:
		return st.RateLimit == ctl.value
	case ctlBacklogWaitTime:
		return st.BacklogWaitTime == ctl.value
	}
	return false
}

// sameLists reports whether loaded (the kernel's rules, as it lists them:
// filter list by filter list) is exactly rules, as Load would leave them
// in an empty kernel: each filter list in the order of the lines, a -A rule
// at the head of its list.
func sameLists(loaded [][]byte, rules []auditctl.Rule) bool {
	if len(loaded) != len(rules) {
		return false
	}
	want := map[uint32][][]byte{}
	for _, r := range rules {
		l, ok := filterList(r.Wire)
		if !ok {
			return false
		}
		if r.Prepend {
			want[l] = slices.Insert(want[l], 0, r.Wire)
		} else {
			want[l] = append(want[l], r.Wire)
		}
	}
	got := map[uint32][][]byte{}
	for _, w := range loaded {
		l, ok := filterList(w)
		if !ok {
			return false
		}
		got[l] = append(got[l], w)
	}
	if len(got) != len(want) {
		return false
	}
	for l, ws := range want {
		if !slices.EqualFunc(ws, got[l], func(a, b []byte) bool { return string(a) == string(b) }) {
			return false
		}
	}
	return true
}

// filterList is the filter list (struct audit_rule_data's flags, without
// AUDIT_FILTER_PREPEND) of a rule in wire format.
func filterList(w []byte) (uint32, bool) {
	if len(w) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(w) &^ 0x10, true
}
