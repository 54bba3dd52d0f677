package auditctl

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// statusSize is the size of struct audit_status on current kernels: eleven
// native-endian uint32 fields, from mask to backlog_wait_time_actual.
const statusSize = 44

// marshalStatus encodes s as struct audit_status.
func marshalStatus(s libaudit.AuditStatus) []byte {
	fields := [statusSize / 4]uint32{
		uint32(s.Mask), s.Enabled, s.Failure, s.PID, s.RateLimit, s.BacklogLimit,
		s.Lost, s.Backlog, s.FeatureBitmap, s.BacklogWaitTime, s.BacklogWaitTimeActual,
	}
	b := make([]byte, statusSize)
	for i, v := range fields {
		binary.NativeEndian.PutUint32(b[4*i:], v)
	}
	return b
}

// unmarshalStatus decodes struct audit_status. Like
// libaudit.AuditStatus.FromWireFormat it accepts replies from older kernels,
// as short as libaudit.MinSizeofAuditStatus bytes, leaving the missing fields
// zero; bytes past statusSize are ignored.
func unmarshalStatus(b []byte) (libaudit.AuditStatus, error) {
	if len(b) < libaudit.MinSizeofAuditStatus {
		return libaudit.AuditStatus{}, fmt.Errorf("auditctl: audit status of %d bytes, want at least %d: %w",
			len(b), libaudit.MinSizeofAuditStatus, io.ErrUnexpectedEOF)
	}
	var f [statusSize / 4]uint32
	for i := range f {
		if 4*i+4 <= len(b) {
			f[i] = binary.NativeEndian.Uint32(b[4*i:])
		}
	}
	return libaudit.AuditStatus{
		Mask: libaudit.AuditStatusMask(f[0]), Enabled: f[1], Failure: f[2], PID: f[3],
		RateLimit: f[4], BacklogLimit: f[5], Lost: f[6], Backlog: f[7], FeatureBitmap: f[8],
		BacklogWaitTime: f[9], BacklogWaitTimeActual: f[10],
	}, nil
}

// Status returns the kernel's audit status (AUDIT_GET).
func (c *Conn) Status() (libaudit.AuditStatus, error) {
	s, err := c.status()
	if err != nil {
		return s, fmt.Errorf("auditctl: getting audit status: %w", err)
	}
	return s, nil
}

func (c *Conn) status() (libaudit.AuditStatus, error) {
	b, err := c.get(unix.AUDIT_GET)
	if err != nil {
		return libaudit.AuditStatus{}, err
	}
	return unmarshalStatus(b)
}

// Set changes the status fields selected by s.Mask (AUDIT_SET) and waits for
// the kernel's ack; the kernel's errno is wrapped in the returned error. The
// kernel applies the fields in the order enabled, failure, pid, rate_limit,
// backlog_limit, backlog_wait_time and stops at the first one it rejects.
//
// A request that would set failure mode 2 (AUDIT_FAIL_PANIC) is refused with
// ErrPanicRefused and nothing is sent; use SetFailure to set it on purpose.
// A mask of exactly libaudit.AuditStatusLost resets the lost counter.
// Setting the pid from a control connection is almost never what is wanted:
// the kernel would send records to this socket; see Unregister.
func (c *Conn) Set(s libaudit.AuditStatus) error {
	return c.set(s, false)
}

func (c *Conn) set(s libaudit.AuditStatus, allowPanic bool) error {
	if s.Mask&libaudit.AuditStatusFailure != 0 && s.Failure == unix.AUDIT_FAIL_PANIC && !allowPanic {
		return fmt.Errorf("%w (requested %s)", ErrPanicRefused, describeSet(s))
	}
	if err := c.ack(unix.AUDIT_SET, marshalStatus(s)); err != nil {
		return fmt.Errorf("auditctl: setting audit status %s: %w", describeSet(s), err)
	}
	return nil
}

// describeSet names the fields s.Mask selects and their requested values.
func describeSet(s libaudit.AuditStatus) string {
	var parts []string
	add := func(bit libaudit.AuditStatusMask, name string, v uint32) {
		if s.Mask&bit != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, v))
		}
	}
	add(libaudit.AuditStatusEnabled, "enabled", s.Enabled)
	add(libaudit.AuditStatusFailure, "failure", s.Failure)
	add(libaudit.AuditStatusPID, "pid", s.PID)
	add(libaudit.AuditStatusRateLimit, "rate_limit", s.RateLimit)
	add(libaudit.AuditStatusBacklogLimit, "backlog_limit", s.BacklogLimit)
	add(libaudit.AuditStatusBacklogWaitTime, "backlog_wait_time", s.BacklogWaitTime)
	if s.Mask&libaudit.AuditStatusLost != 0 {
		parts = append(parts, "reset lost")
	}
	if len(parts) == 0 {
		return fmt.Sprintf("(mask %#x)", uint32(s.Mask))
	}
	return strings.Join(parts, " ")
}

// SetEnabled sets the enabled flag: 0 off, 1 on, 2 on and locked (no further
// configuration change is possible until reboot).
func (c *Conn) SetEnabled(v uint32) error {
	return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusEnabled, Enabled: v})
}

// SetBacklogLimit sets backlog_limit, the number of records the kernel
// queues before producers wait or records are lost (0 means unlimited).
func (c *Conn) SetBacklogLimit(n uint32) error {
	return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusBacklogLimit, BacklogLimit: n})
}

// SetRateLimit sets rate_limit, in records per second (0 means unlimited).
func (c *Conn) SetRateLimit(n uint32) error {
	return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusRateLimit, RateLimit: n})
}

// SetBacklogWaitTime sets backlog_wait_time, in jiffies: how long in total a
// producer may wait for room in the backlog (0 means drop at once). The
// kernel rejects values above ten times its default (EINVAL).
func (c *Conn) SetBacklogWaitTime(n uint32) error {
	return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusBacklogWaitTime, BacklogWaitTime: n})
}

// SetFailure sets the failure mode: 0 silent, 1 printk, 2 panic. Mode 2
// panics the kernel on every lost record; it is refused with ErrPanicRefused,
// without anything being sent, unless allowPanic is set.
func (c *Conn) SetFailure(mode uint32, allowPanic bool) error {
	return c.set(libaudit.AuditStatus{Mask: libaudit.AuditStatusFailure, Failure: mode}, allowPanic)
}

// Unregister clears the registered audit daemon (AUDIT_SET with pid 0). The
// kernel only accepts this from the process that is the registered daemon
// (any of its sockets, this one included); from any other process it fails
// with EACCES. With no daemon registered it succeeds and changes nothing.
// Any AUDIT_SET of the pid first makes the kernel send AUDIT_REPLACE to the
// registered daemon to check that it is alive, so do not call Unregister
// from a process that is not the daemon.
func (c *Conn) Unregister() error {
	return c.Set(libaudit.AuditStatus{Mask: libaudit.AuditStatusPID, PID: 0})
}

// Features is struct audit_features, the kernel's answer to
// AUDIT_GET_FEATURE. Bit i of each mask is feature i (0:
// only_unset_loginuid, 1: loginuid_immutable).
type Features struct {
	Version  uint32 // AUDIT_FEATURE_VERSION
	Mask     uint32 // features this kernel knows
	Features uint32 // features turned on
	Lock     uint32 // features whose value is locked
}

// featuresSize is the size of struct audit_features.
const featuresSize = 16

// Features returns the kernel's audit feature flags (AUDIT_GET_FEATURE),
// which `auditctl -s` prints as its loginuid_immutable line.
func (c *Conn) Features() (Features, error) {
	b, err := c.get(unix.AUDIT_GET_FEATURE)
	if err != nil {
		return Features{}, fmt.Errorf("auditctl: getting audit features: %w", err)
	}
	if len(b) < featuresSize {
		return Features{}, fmt.Errorf("auditctl: audit features of %d bytes, want %d: %w", len(b), featuresSize, io.ErrUnexpectedEOF)
	}
	ne := binary.NativeEndian
	return Features{Version: ne.Uint32(b[0:]), Mask: ne.Uint32(b[4:]), Features: ne.Uint32(b[8:]), Lock: ne.Uint32(b[12:])}, nil
}
