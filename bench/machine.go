package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultHZ is assumed when the kernel's CONFIG_HZ cannot be found.
const defaultHZ = 250

// Machine describes where a bench ran, for the report and the README.
type Machine struct {
	Hostname string `json:"hostname"`
	Kernel   string `json:"kernel"`
	CPUModel string `json:"cpu_model"`
	CPUs     int    `json:"cpus"`
	MemBytes int64  `json:"mem_bytes"`
	// HZ is the kernel's tick rate, the unit of backlog_wait_time.
	HZ int `json:"hz"`
	// HZAssumed is true when HZ could not be read and defaultHZ is used.
	HZAssumed bool   `json:"hz_assumed,omitempty"`
	GoVersion string `json:"go_version"`
}

// readMachine describes this machine. Missing details are left empty.
func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(procField(b, "MemTotal")); len(f) == 2 {
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			m.MemBytes = kb << 10
		}
	}
	m.HZ = kernelHZ(m.Kernel)
	if m.HZ == 0 {
		m.HZ, m.HZAssumed = defaultHZ, true
	}
	return m
}

// procField returns the value of the first "name : value" line.
func procField(b []byte, name string) string {
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(bytes.TrimSpace(k)) == name {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// kernelHZ reads CONFIG_HZ from /proc/config.gz or /boot/config-RELEASE;
// 0 when neither says.
func kernelHZ(release string) int {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			if hz := configHZ(z); hz > 0 {
				return hz
			}
		}
	}
	if f, err := os.Open("/boot/config-" + release); err == nil {
		defer f.Close()
		return configHZ(f)
	}
	return 0
}

// configHZ finds CONFIG_HZ=N in a kernel config.
func configHZ(r io.Reader) int {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CONFIG_HZ="); ok {
			if hz, err := strconv.Atoi(v); err == nil && hz > 0 {
				return hz
			}
		}
	}
	return 0
}

// String is a one-line description.
func (m Machine) String() string {
	hz := strconv.Itoa(m.HZ)
	if m.HZAssumed {
		hz += " (assumed)"
	}
	return fmt.Sprintf("%s: Linux %s, %d x %s, %.1f GiB, HZ %s, %s",
		m.Hostname, m.Kernel, m.CPUs, m.CPUModel, float64(m.MemBytes)/(1<<30), hz, m.GoVersion)
}
