package ratelimit

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Message types used by the tests.
const (
	tUserLogin    = 1112
	tSyscall      = 1300
	tPath         = 1302
	tConfigChange = 1305
	tSockaddr     = 1306
	tCWD          = 1307
	tEOE          = 1320
	tProctitle    = 1327
	tURingOp      = 1336
	tAVC          = 1400
)

// kernelKey renders a filter key the way the kernel's audit_log_key does:
// (null) for none, quoted when every byte is in 0x21..0x7e and not '"',
// upper-case hex otherwise. Several keys are joined with 0x01 by the caller.
func kernelKey(key string) string {
	if key == "" {
		return "(null)"
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '"' || c < 0x21 || c > 0x7e {
			return strings.ToUpper(hex.EncodeToString([]byte(key)))
		}
	}
	return `"` + key + `"`
}

// payload returns a record of type typ for event serial shaped like the
// kernel's. key is used by the types that carry one ("" = key=(null)).
func payload(typ uint16, serial uint32, key string) []byte {
	h := fmt.Sprintf("audit(1795637279.731:%d): ", serial)
	switch typ {
	case tSyscall:
		return []byte(h + `arch=c000003e syscall=110 success=yes exit=4242 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="noise" exe="/usr/bin/noise" key=` + kernelKey(key))
	case tURingOp:
		return []byte(h + `uring_op=18 success=yes exit=0 items=0 ppid=1 pid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 key=` + kernelKey(key))
	case tConfigChange:
		return []byte(h + `auid=0 ses=1 op=add_rule key=` + kernelKey(key) + ` list=4 res=1`)
	case tPath:
		return []byte(h + `item=0 name="/tmp/noise" inode=42 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`)
	case tCWD:
		return []byte(h + `cwd="/tmp"`)
	case tProctitle:
		return []byte(h + `proctitle=6E6F697365`)
	case tSockaddr:
		return []byte(h + `saddr=100000000000000000000000`)
	case tAVC:
		return []byte(h + `avc:  denied  { read } for  pid=4242 comm="noise" name="x" dev="fe:00" ino=42 scontext=a tcontext=b tclass=file permissive=0`)
	case tUserLogin:
		return []byte(h + `pid=4242 uid=0 auid=0 ses=1 msg='op=login id=0 exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh res=success'`)
	case tEOE:
		return []byte(h[:len(h)-1])
	}
	panic(fmt.Sprintf("payload: no template for type %d", typ))
}

func mustNew(tb testing.TB, cfg Config) *Limiter {
	tb.Helper()
	l, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// flushed collects one Flush.
func flushed(l *Limiter) map[string]uint64 {
	m := map[string]uint64{}
	l.Flush(func(key string, n uint64) {
		if _, dup := m[key]; dup {
			panic("Flush reported key " + key + " twice")
		}
		m[key] = n
	})
	return m
}

func statsMap(l *Limiter) map[string]KeyStats {
	m := map[string]KeyStats{}
	for _, s := range l.Stats() {
		m[s.Key] = s
	}
	return m
}

// tokenModel is a token bucket written as tokens, not as GCRA: an independent
// statement of the limit the Limiter enforces, in integer nanoseconds of
// credit so that it is exact.
type tokenModel struct {
	interval, capacity, credit, last int64
}

func newTokenModel(rate float64, burst int) *tokenModel {
	iv := int64(1e9/rate + 0.5)
	return &tokenModel{interval: iv, capacity: int64(burst) * iv, credit: int64(burst) * iv}
}

func (m *tokenModel) take(now time.Duration) bool {
	if t := int64(now); t > m.last {
		m.credit = min(m.capacity, m.credit+t-m.last)
		m.last = t
	}
	if m.credit < m.interval {
		return false
	}
	m.credit -= m.interval
	return true
}
