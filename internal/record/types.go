package record

import "github.com/elastic/go-libaudit/v2/auparse"

// Record types auditdrain's own code refers to by number. They are
// go-libaudit's constants (auparse), converted once to the uint16 that
// travels in the netlink header, so no other package redeclares a type
// number.
const (
	TypeGet          = uint16(auparse.AUDIT_GET)           // 1000: status request and reply
	TypeSet          = uint16(auparse.AUDIT_SET)           // 1001: set status fields (pid registers the daemon)
	TypeDaemonStart  = uint16(auparse.AUDIT_DAEMON_START)  // 1200
	TypeDaemonEnd    = uint16(auparse.AUDIT_DAEMON_END)    // 1201
	TypeDaemonAbort  = uint16(auparse.AUDIT_DAEMON_ABORT)  // 1202
	TypeDaemonConfig = uint16(auparse.AUDIT_DAEMON_CONFIG) // 1203
	TypeDaemonRotate = uint16(auparse.AUDIT_DAEMON_ROTATE) // 1205
	TypeDaemonResume = uint16(auparse.AUDIT_DAEMON_RESUME) // 1206
	TypeDaemonAccept = uint16(auparse.AUDIT_DAEMON_ACCEPT) // 1207
	TypeDaemonClose  = uint16(auparse.AUDIT_DAEMON_CLOSE)  // 1208
	TypeDaemonErr    = uint16(auparse.AUDIT_DAEMON_ERR)    // 1209
	TypeSyscall      = uint16(auparse.AUDIT_SYSCALL)       // 1300: carries the event's rule key
	TypeConfigChange = uint16(auparse.AUDIT_CONFIG_CHANGE) // 1305: key= names the rule being changed
	TypeEOE          = uint16(auparse.AUDIT_EOE)           // 1320: end of a multi-record event
	TypeURingOp      = uint16(auparse.AUDIT_URINGOP)       // 1336: carries the event's rule key
	TypeReplace      = uint16(auparse.AUDIT_REPLACE)       // 1329: another process asks to become the audit daemon
)

// CarriesEventKey reports whether records of type typ carry, as key=, the
// key of the rule that made the kernel emit the event (SYSCALL and
// URINGOP). The event's other records (PATH, CWD, EXECVE, PROCTITLE...)
// share its serial but carry no key; CONFIG_CHANGE carries the key of the
// rule it changes, which is not an event key.
func CarriesEventKey(typ uint16) bool {
	return typ == TypeSyscall || typ == TypeURingOp
}

// TypeName returns go-libaudit's name of a record type ("SYSCALL"), or
// "UNKNOWN[N]" for a number it does not know.
func TypeName(typ uint16) string {
	return auparse.AuditMessageType(typ).String()
}

// ParseType returns the number of a record type given by name (either case,
// as auditctl and ausearch -m accept them) or by decimal number.
func ParseType(name string) (uint16, bool) {
	t, err := auparse.GetAuditMessageType(name)
	if err == nil {
		return uint16(t), true
	}
	var n uint32
	if name == "" || len(name) > 5 {
		return 0, false
	}
	for i := 0; i < len(name); i++ {
		if !isDigit(name[i]) {
			return 0, false
		}
		n = n*10 + uint32(name[i]-'0')
	}
	if n == 0 || n > 0xffff {
		return 0, false
	}
	return uint16(n), true
}
