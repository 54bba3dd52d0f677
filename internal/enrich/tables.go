package enrich

import (
	"strings"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Record types whose fields auparse classifies differently from the
// field-name table, or after which auditd flushes its name caches. They are
// go-libaudit's constants.
const (
	typeUserMgmt     = uint16(auparse.AUDIT_USER_MGMT)
	typeUserAVC      = uint16(auparse.AUDIT_USER_AVC)
	typeAddUser      = uint16(auparse.AUDIT_ADD_USER)
	typeDelUser      = uint16(auparse.AUDIT_DEL_USER)
	typeAddGroup     = uint16(auparse.AUDIT_ADD_GROUP)
	typeDelGroup     = uint16(auparse.AUDIT_DEL_GROUP)
	typeTrustedApp   = uint16(auparse.AUDIT_TRUSTED_APP)
	typeGrpMgmt      = uint16(auparse.AUDIT_GRP_MGMT)
	typeExecve       = uint16(auparse.AUDIT_EXECVE)
	typeProctitle    = uint16(auparse.AUDIT_PROCTITLE)
	typeCWD          = uint16(auparse.AUDIT_CWD)
	typeBprmFcaps    = uint16(auparse.AUDIT_BPRM_FCAPS)
	typeEOE          = uint16(auparse.AUDIT_EOE)
	typeNetfilterPkt = uint16(auparse.AUDIT_NETFILTER_PKT)
	typeKernModule   = uint16(auparse.AUDIT_KERN_MODULE)
	typeAVC          = uint16(auparse.AUDIT_AVC)
)

// kind is what auditd does with a field in ENRICHED mode.
type kind uint8

const (
	kindNone     kind = iota // not interpreted
	kindUID                  // user name, NAME="value" or NAME=HEX
	kindGID                  // group name, NAME="value" or NAME=HEX
	kindSyscall              // syscall name, NAME=value
	kindArch                 // machine name, NAME=value
	kindSockaddr             // decoded socket address, NAME=value
)

// interpreted is one field name auditd interprets: its kind and the
// upper-cased "NAME=" it writes.
type interpreted struct {
	kind  kind
	upper string
}

// names is auparse's field-name table (typetab.h) restricted to the types
// auditd appends: AUPARSE_TYPE_UID, _GID, _SYSCALL, _ARCH and _SOCKADDR.
// Index 0 is no such name; nameIndex gives the others.
var names = [...]interpreted{
	{kindNone, ""},
	{kindUID, "AUID="},
	{kindUID, "UID="},
	{kindUID, "EUID="},
	{kindUID, "SUID="},
	{kindUID, "FSUID="},
	{kindUID, "OUID="},
	{kindUID, "OAUID="},
	{kindUID, "OLD-AUID="},
	{kindUID, "IUID="},
	{kindUID, "ID="},
	{kindUID, "INODE_UID="},
	{kindUID, "SAUID="},
	{kindUID, "OBJ_UID="},
	{kindGID, "OBJ_GID="},
	{kindGID, "GID="},
	{kindGID, "EGID="},
	{kindGID, "SGID="},
	{kindGID, "FSGID="},
	{kindGID, "OGID="},
	{kindGID, "IGID="},
	{kindGID, "INODE_GID="},
	{kindGID, "NEW_GID="},
	{kindSyscall, "SYSCALL="},
	{kindArch, "ARCH="},
	{kindSockaddr, "SADDR="},
	{kindGID, "ID="}, // groupID: "id" of group records
}

// groupID is the index of "id" as a group id (ADD_GROUP, DEL_GROUP,
// GRP_MGMT).
const groupID = 26

// nameIndex is the index in names of a field name, 0 if auditd leaves the
// field alone: one multiplicative hash of the length and three bytes into
// a 64-slot table, then one comparison.
func nameIndex(name []byte) uint8 {
	if len(name) < 2 || len(name) > maxNameField {
		return 0
	}
	e := &nameSlots[nameHash(name)]
	if string(name) == e.name {
		return e.index
	}
	return 0
}

// maxNameField is the longest name in names ("inode_uid").
const maxNameField = 9

func nameHash(name []byte) uint32 {
	n := len(name)
	k := uint32(n)<<24 | uint32(name[0])<<16 | uint32(name[n-2])
	if n >= 3 {
		k |= uint32(name[n-3]) << 8
	}
	return (k * 0x9b810e77) >> 26
}

// nameSlots is the hash table of nameIndex, built from names; init fails
// if two names share a slot.
var nameSlots = func() (t [64]struct {
	name  string
	index uint8
}) {
	for i, in := range names[1:groupID] {
		lower := []byte(strings.ToLower(strings.TrimSuffix(in.upper, "=")))
		slot := &t[nameHash(lower)]
		if slot.name != "" {
			panic("enrich: field names " + slot.name + " and " + string(lower) + " share a hash slot")
		}
		slot.name, slot.index = string(lower), uint8(i+1)
	}
	return t
}()

// fieldIndex is auparse_interp_adjust_type for the names above: a few
// record types override the name table.
func fieldIndex(typ uint16, name []byte) uint8 {
	n := nameIndex(name)
	if n == 0 {
		return 0
	}
	switch {
	case typ == typeExecve && name[0] == 'a' && string(name) != "argc" && !hasLen(name):
		return 0 // a0, a1[2]...: escaped arguments
	case typ == typeAVC && string(name) == "saddr":
		return 0
	case typ == typeNetfilterPkt && string(name) == "saddr":
		return 0 // an address, not a sockaddr
	case string(name) == "id" && (typ == typeAddGroup || typ == typeGrpMgmt || typ == typeDelGroup):
		return groupID
	case typ == typeTrustedApp:
		return 0 // every field of TRUSTED_APP is escaped or left alone
	}
	return n
}

// hasLen reports whether name contains "_len".
func hasLen(name []byte) bool {
	for i := 0; i+4 <= len(name); i++ {
		if string(name[i:i+4]) == "_len" {
			return true
		}
	}
	return false
}

// Machines, numbered as libaudit's machine_t (MACH_X86 ... MACH_PPC64LE).
const (
	machX86     = 0
	mach86_64   = 1
	machIA64    = 2
	machPPC64   = 3
	machPPC     = 4
	machS390X   = 5
	machS390    = 6
	machAlpha   = 7
	machARM     = 8
	machAArch64 = 9
	machPPC64LE = 10
)

// elfToMachine is libaudit's audit_elf_to_machine: the AUDIT_ARCH_* value
// of an arch= field to a machine, or -1.
func elfToMachine(elf uint32) int {
	switch elf {
	case 0x40000003:
		return machX86
	case 0xc000003e:
		return mach86_64
	case 0x80000015:
		return machPPC64
	case 0xc0000015:
		return machPPC64LE
	case 0x00000014:
		return machPPC
	case 0x80000016:
		return machS390X
	case 0x00000016:
		return machS390
	case 0x40000028:
		return machARM
	case 0xc00000b7:
		return machAArch64
	}
	return -1
}

// machineNames is libaudit's audit_machine_to_name (the first name of each
// machine in machinetab.h); "" for machines it cannot name.
var machineNames = [...]string{
	machX86: "i386", mach86_64: "x86_64", machPPC64: "ppc64", machPPC: "ppc",
	machS390X: "s390x", machS390: "s390", machARM: "armeb", machAArch64: "aarch64",
	machPPC64LE: "ppc64le",
}

// machineByName is libaudit's machine table from uname(2) names
// (audit_detect_machine).
func machineByName(s string) int {
	switch s {
	case "i386", "i486", "i586", "i686":
		return machX86
	case "x86_64":
		return mach86_64
	case "ppc64":
		return machPPC64
	case "ppc64le":
		return machPPC64LE
	case "ppc":
		return machPPC
	case "s390x":
		return machS390X
	case "s390":
		return machS390
	case "armeb", "arm", "armv5tejl", "armv5tel", "armv6l", "armv7l":
		return machARM
	case "aarch64", "armv8l":
		return machAArch64
	}
	return -1
}

// maxSyscall309 is the highest syscall number in audit-userspace 3.0.9's
// tables (set_mempolicy_home_node, 450, on every architecture). go-libaudit's
// tables agree with 3.0.9's below it and go further; auditd 3.0.9 prints
// unknown-syscall(N) above it, so this package does too.
const maxSyscall309 = 450

// syscallTables[machine][number] is the syscall name, "" if unknown.
var syscallTables = buildSyscallTables()

func buildSyscallTables() [machPPC64LE + 1][]string {
	var t [machPPC64LE + 1][]string
	arch := [...]string{
		machX86: "i386", mach86_64: "x86_64", machPPC64: "ppc", machPPC: "ppc",
		machS390X: "s390x", machS390: "s390", machARM: "arm", machAArch64: "aarch64",
		machPPC64LE: "ppc",
	}
	for m, a := range arch {
		if a == "" {
			continue
		}
		tab := make([]string, maxSyscall309+1)
		for n, name := range auparse.AuditSyscalls[a] {
			if n >= 0 && n <= maxSyscall309 {
				tab[n] = name
			}
		}
		t[m] = tab
	}
	return t
}

// syscallName is audit_syscall_to_name.
func syscallName(sc int64, machine int) string {
	if machine < 0 || machine >= len(syscallTables) {
		return ""
	}
	tab := syscallTables[machine]
	if sc < 0 || sc >= int64(len(tab)) {
		return ""
	}
	return tab[sc]
}

// sockCalls is auparse's socktab.h: socketcall(2) sub-functions by a0.
var sockCalls = [...]string{
	1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept", 6: "getsockname",
	7: "getpeername", 8: "socketpair", 9: "send", 10: "recv", 11: "sendto",
	12: "recvfrom", 13: "shutdown", 14: "setsockopt", 15: "getsockopt",
	16: "sendmsg", 17: "recvmsg", 18: "accept4", 19: "recvmmsg", 20: "sendmmsg",
}

// ipcCalls is auparse's ipctab.h: ipc(2) sub-functions by a0.
var ipcCalls = [...]string{
	1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop", 11: "msgsnd",
	12: "msgrcv", 13: "msgget", 14: "msgctl", 21: "shmat", 22: "shmdt",
	23: "shmget", 24: "shmctl",
}

func tableName(tab []string, i int32) string {
	if i < 0 || int(i) >= len(tab) {
		return ""
	}
	return tab[i]
}

// families is auparse's famtab.h: socket address families by number.
var families = [...]string{
	1: "local", 2: "inet", 3: "ax25", 4: "ipx", 5: "appletalk", 6: "netrom",
	7: "bridge", 8: "atmpvc", 9: "x25", 10: "inet6", 11: "rose", 12: "decnet",
	13: "netbeui", 14: "security", 15: "key", 16: "netlink", 17: "packet",
	18: "ash", 19: "econet", 20: "atmsvc", 21: "rds", 22: "sna", 23: "irda",
	24: "pppox", 25: "wanpipe", 26: "llc", 29: "can", 30: "tipc",
	31: "bluetooth", 32: "iucv", 33: "rxrpc", 34: "isdn", 35: "phonet",
	36: "ieee802154", 37: "caif", 38: "alg", 39: "nfc", 40: "vsock", 41: "kcm",
	42: "qipcrtr", 43: "smc", 44: "xdp",
}
