// Package reader owns the audit data socket: the NETLINK_AUDIT socket on
// which the kernel delivers audit records, either by unicast to the
// registered audit daemon (ModeUnicast, replacing auditd) or by the
// best-effort multicast group AUDIT_NLGRP_READLOG (ModeMulticast, beside
// auditd).
//
// Records are read in batches with one recvmmsg(2) per batch. The socket is
// a blocking one, outside the Go netpoller: ReadBatch blocks its thread in
// recvmmsg(MSG_WAITFORONE), so when records arrive the kernel wakes that
// thread and nothing else (no epoll wait, no hand-off of the goroutine to
// another thread). Lock the reading goroutine to its thread
// (runtime.LockOSThread) to keep it that way. Close and SetDeadline wake a
// blocked ReadBatch with a datagram (Wake): a request the kernel refuses,
// whose refusal arrives on the data socket. Headers, iovecs and buffers are
// allocated once in Open; reading a record allocates nothing.
//
// The reader is deliberately small: it registers, reads, classifies each
// datagram (record, ack, AUDIT_REPLACE, error) and counts what it could not
// deliver intact (truncated datagrams, socket overruns). Kernel control and
// status (AUDIT_GET/AUDIT_SET, rules) happen on a separate socket, see
// internal/auditctl: the kernel makes the sender of any request sleep while
// its backlog is over the limit, which must never happen to the data path.
//
// Concurrency: a Reader's ReadBatch and Drain must be called from one
// goroutine at a time. Stats, SetDeadline, Wake, SocketDrops and Close may
// be called from any goroutine; Close wakes a blocked ReadBatch, which then
// returns an error satisfying errors.Is(err, os.ErrClosed).
//
// API: Open, Config, Reader and its methods are what the daemon uses; they
// are the package's whole surface and carry no stability promise to programs
// outside this module.
package reader
