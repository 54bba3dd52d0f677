package auditctl

import (
	"fmt"
	"io"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// FormatStatus writes s the way `auditctl -s` (audit 3.0.9) prints it, one
// "name value" line per field, numbers in decimal. auditctl then prints a
// loginuid_immutable line that comes from AUDIT_GET_FEATURE, not from the
// status: FormatFeatures writes it. It returns the first write error.
func FormatStatus(w io.Writer, s libaudit.AuditStatus) error {
	_, err := fmt.Fprintf(w,
		"enabled %d\nfailure %d\npid %d\nrate_limit %d\nbacklog_limit %d\nlost %d\nbacklog %d\n"+
			"backlog_wait_time %d\nbacklog_wait_time_actual %d\n",
		s.Enabled, s.Failure, s.PID, s.RateLimit, s.BacklogLimit, s.Lost, s.Backlog,
		s.BacklogWaitTime, s.BacklogWaitTimeActual)
	return err
}

// FormatFeatures writes the line `auditctl -s` prints after the status,
// "loginuid_immutable 0 unlocked", when the kernel knows that feature, and
// nothing otherwise. It returns the write error.
func FormatFeatures(w io.Writer, f Features) error {
	bit := uint32(1) << unix.AUDIT_FEATURE_LOGINUID_IMMUTABLE
	if f.Mask&bit == 0 {
		return nil
	}
	on, lock := 0, "unlocked"
	if f.Features&bit != 0 {
		on = 1
	}
	if f.Lock&bit != 0 {
		lock = "locked"
	}
	_, err := fmt.Fprintf(w, "loginuid_immutable %d %s\n", on, lock)
	return err
}
