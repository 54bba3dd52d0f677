package daemon

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
)

// socketBytesPerRecord is what one short record costs in the socket's
// receive memory: the kernel accounts the buffer's true size, not the
// payload. Measured on Linux 6.18 (reader's TestAdoptKeepsRegistration):
// 15,000 records of getppid events (SYSCALL, PROCTITLE, EOE) held
// 14,731,776 bytes, 982 bytes each. Longer records cost more.
const socketBytesPerRecord = 982

// rateMeter is the rate of records read, sampled once a second by the
// kernel poller's goroutine.
type rateMeter struct {
	last     uint64
	lastTime time.Time
	rate     atomic.Uint64 // float64 bits, records per second
}

func (m *rateMeter) sample(records uint64, now time.Time) {
	if !m.lastTime.IsZero() {
		if dt := now.Sub(m.lastTime).Seconds(); dt > 0 {
			m.rate.Store(math.Float64bits(float64(records-m.last) / dt))
		}
	}
	m.last, m.lastTime = records, now
}

func (m *rateMeter) get() float64 { return math.Float64frombits(m.rate.Load()) }

// socketStatus fills the Status fields about the data socket: where it
// came from, who registered it, and how long a restart may take at the
// current rate before records are lost.
func (d *Daemon) socketStatus(s *Status) {
	s.AuditSocket = d.socketSource
	pid := d.kpoll.pid.Load()
	s.RegisteredPID = int(pid)
	if pid != 0 && int(pid) != os.Getpid() {
		s.Registration = fmt.Sprintf("registered by pid %d, read by pid %d", pid, os.Getpid())
	}
	s.SocketFDStored = d.fdStored.Load()
	m, err := d.rd.Memory()
	if err != nil {
		return
	}
	s.SocketRcvBuf = m.Limit
	s.SocketQueued = m.Queued
	s.RecordsPerSecond = math.Round(d.rate.get())
	// What waits for a restart: the socket's free memory, then the
	// kernel's queue (backlog_limit records); beyond that the kernel drops
	// (lost) or makes programs wait (backlog_wait_time).
	hold := float64(m.Limit-m.Queued)/socketBytesPerRecord + float64(d.kpoll.backlogLimit.Load())
	if s.RecordsPerSecond > 0 {
		s.RestartBudgetSeconds = math.Round(hold/s.RecordsPerSecond*100) / 100
	}
}
