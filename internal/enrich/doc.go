// Package enrich owns auditd's log_format = ENRICHED: given one kernel audit
// record (its type and payload), [Enricher.Append] appends exactly what
// auditd 3.0.9 writes after the record's RAW text and before the newline.
// It is byte-identical to auditd's src/auditd-event.c (format_enrich,
// add_simple_field) driving libauparse's field splitting (ellist.c
// parse_up_record) and interpretation (interpret.c), which it reimplements;
// the tests compare it with lines the installed auditd wrote for the same
// records (testdata/auditd-enriched.log, and live with the kernel).
//
// # Format
//
// Nothing, or the separator 0x1d (ASCII GS, [Separator]) followed by the
// interpreted fields joined by single spaces, in the order of the record's
// fields:
//
//	type=SYSCALL msg=audit(...): arch=c000003e syscall=59 ... auid=4294967295 uid=0 ...<GS>ARCH=x86_64 SYSCALL=execve AUID="unset" UID="root" ...
//
// Only five kinds of fields are interpreted, by name (auparse's typetab.h),
// wherever they appear in the record, including inside a user message's
// msg='...':
//
//   - user ids (auid uid euid suid fsuid ouid oauid old-auid iuid id
//     inode_uid sauid obj_uid) and group ids (gid egid sgid fsgid ogid igid
//     inode_gid new_gid obj_gid, and id in ADD_GROUP, DEL_GROUP, GRP_MGMT):
//     NAME="value" where value is the name, "root" for 0 whatever the
//     files say, "unset" for 4294967295 (and -1), "unknown(N)" with N as a
//     signed 32-bit number when there is no name; names are cut at 63
//     bytes. A value with a quote, a byte below 0x21, DEL or any byte above
//     0x7f is written as NAME=HEX instead (upper-case hex of the value);
//   - arch: ARCH=x86_64, i386, aarch64... or unknown-elf-type(V);
//   - syscall: SYSCALL=name from 3.0.9's table for the record's arch
//     (numbers above 450 are unknown-syscall(N), as in 3.0.9), with
//     socketcall(connect) and ipc(shmget) forms from a0; auparse takes the
//     arch, syscall and a0 only from the 2nd, 3rd and 6th fields (or 11th
//     and 12th), so a SECCOMP record without an LSM label prints
//     SYSCALL=unknown-syscall(-1), as auditd does;
//   - saddr: SADDR={ saddr_fam=inet laddr=127.0.0.1 lport=22 } and the other
//     forms of print_sockaddr, unquoted.
//
// Field names are upper-cased. Records with no such field get nothing, not
// even the separator; so do PROCTITLE, CWD, EXECVE and BPRM_FCAPS records
// (skipped without parsing), EOE, TRUSTED_APP, a payload without an
// audit(...) header, and an AVC whose permission list auparse refuses. A
// field that would not fit in auditd's 9,225-byte line buffer is left out,
// and nothing is added once 24 bytes or fewer remain. A payload is read up
// to its first NUL, with '\n' as a space; a 0x1d inside a user message
// ends the record for auparse, which then trusts NAME=value pairs after it
// over its own interpretation (auditd's behaviour, reproduced).
//
// # Names and their cache
//
// Names come from Options.Passwd and Options.Group (default /etc/passwd and
// /etc/group, read directly: the first entry for an id wins, as with the
// files backend of getpwuid; NSS sources other than files, such as
// systemd's dynamic users or LDAP, are not consulted, where auditd would
// ask them). Each file is loaded whole into a map on first use. A lookup
// looks at the file (stat: identity, size, modification and change times)
// at most once per Options.CheckEvery (1 s), and rereads it only if it
// changed; after an ADD_USER, ADD_GROUP, USER_MGMT, DEL_USER, DEL_GROUP or
// GRP_MGMT record the next lookup looks at once, where auditd flushes its
// caches. auditd itself never notices other changes until such a record;
// this package does, within a second, so after an unannounced rename its
// names are the current ones where auditd's would be stale. A file that
// cannot be read leaves its ids unnamed until it can.
//
// # Cost
//
// An Enricher belongs to one goroutine (it keeps the caches and scratch
// buffers). With warm caches Append allocates nothing and takes no lock;
// the clock is read once per record that has an id to name, and the files
// are looked at no more than once a second. BenchmarkCost compares the
// writer's RAW formatting and compression with and without Append.
package enrich
