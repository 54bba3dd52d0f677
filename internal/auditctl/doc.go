// Package auditctl owns the control connection to the kernel audit
// subsystem: reading and changing the audit status (AUDIT_GET, AUDIT_SET,
// AUDIT_GET_FEATURE), listing, adding and deleting audit rules, parsing
// auditctl-style rule files, printing the status the way `auditctl -s` does,
// and the machine-wide lock that tests and benchmarks touching the kernel
// take (LockMachine).
//
// # A separate control socket
//
// A Conn is its own NETLINK_AUDIT socket, distinct from the data socket that
// receives audit records. It never registers as the audit daemon and joins no
// multicast group, so the kernel sends it only replies to its own requests:
// no record ever arrives on it and no reply has to be fished out of a record
// stream.
//
// It is separate for a second reason: after handling any request, the kernel
// makes the sender sleep while the audit backlog is over backlog_limit, for up
// to backlog_wait_time (audit_receive in kernel/audit.c: "can't block with the
// ctrl lock, so penalize the sender now"). That sleep happens inside sendmsg,
// in TASK_UNINTERRUPTIBLE state: neither a deadline nor Close can cut it short.
// Control requests and status polling must therefore run on their own socket
// and goroutine, never on the goroutine that drains records, or the reader
// would stall exactly when the backlog most needs draining.
//
// # Replies
//
// The kernel acknowledges every failed request with an NLMSG_ERROR carrying
// the negative errno, and a successful one only when NLM_F_ACK was set. Conn
// sets NLM_F_ACK on AUDIT_SET, AUDIT_ADD_RULE and AUDIT_DEL_RULE and waits for
// that ack; errors come back wrapping the kernel's errno (errors.Is(err,
// unix.EEXIST) works). AUDIT_GET and AUDIT_GET_FEATURE are answered by a
// kernel thread after the request has been handled, so Conn does not ask for
// an ack on them (the ack would overtake the reply) and waits for the reply
// itself. AUDIT_LIST_RULES is answered by another kernel thread with one
// NLM_F_MULTI datagram per rule followed by an empty NLMSG_DONE; that thread
// gives up on a datagram after about 100 ms when the socket's receive buffer
// is full, so Conn enlarges its receive buffer to hold large rule sets.
//
// Every wait for a reply has a deadline (ReplyTimeout). After a timeout the
// Conn replaces its socket with a fresh one, so that a late reply can never
// be taken for the answer to a later request.
//
// # Failure mode 2
//
// Failure mode 2 (AUDIT_FAIL_PANIC) makes every lost audit record panic the
// kernel. Set refuses, without sending anything, any request that would set
// it; only SetFailure with allowPanic set can.
//
// # Rule files
//
// ParseRules reads rules in the format of auditctl -R: one rule per line,
// written as auditctl's arguments ("-a always,exit -F arch=b64 -S getppid -k
// key", "-w /etc/passwd -p wa -k key"); blank lines and lines whose first
// non-blank character is '#' are skipped. It reads rules only and rejects
// control lines (-D, -b, -f, -e, -r, --backlog_wait_time and the other
// auditctl options that are not rules) with ErrControlLine: package rulesd
// reads rules files and directories, control lines included, and uses
// ParseRules for their rule lines. Rules are parsed and encoded with
// go-libaudit (rule/flags.Parse, rule.Build) and cut to the length the kernel
// lists them with, so that Rule.Wire compares equal, byte for byte, to the
// same rule returned by Rules.
//
// KernelErrno tells a request the kernel refused (its errno: EEXIST for a
// rule already loaded, ENOENT for a watch on a missing directory, EINVAL...)
// from a request that got no answer.
package auditctl
