package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// ErrProcFormat is wrapped by the errors for /proc files that do not parse.
var ErrProcFormat = errors.New("bench: unexpected /proc format")

// parseStatCPU returns utime+stime, in seconds, from the text of
// /proc/PID/stat.
func parseStatCPU(stat []byte) (float64, error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no ')' in stat %q", ErrProcFormat, stat)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("%w: %d fields after the command name in stat", ErrProcFormat, len(f))
	}
	u, err := strconv.ParseUint(string(f[utime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime %q", ErrProcFormat, f[utime])
	}
	s, err := strconv.ParseUint(string(f[stime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime %q", ErrProcFormat, f[stime])
	}
	return float64(u+s) / userHZ, nil
}

// parsePeakRSS returns VmHWM, in bytes, from the text of /proc/PID/status.
func parsePeakRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: VmHWM line %q", ErrProcFormat, bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmHWM value %q", ErrProcFormat, f[0])
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: no VmHWM line in status", ErrProcFormat)
}

// procUsage returns a live process's CPU seconds so far and its peak RSS.
func procUsage(pid int) (cpu float64, rss int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("bench: cannot read CPU time of pid %d: %w", pid, err)
	}
	if cpu, err = parseStatCPU(stat); err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return cpu, 0, fmt.Errorf("bench: cannot read peak RSS of pid %d: %w", pid, err)
	}
	if rss, err = parsePeakRSS(status); err != nil {
		return cpu, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return cpu, rss, nil
}
