package bench

import (
	"errors"
	"math"
)

// ErrNotAudited says that the load's events never reached the kernel's audit
// queue: the bench stops rather than report 100% loss.
var ErrNotAudited = errors.New("bench: the load's events were not audited. " +
	"On a machine where audit had never been enabled before this process started, " +
	"the kernel (audit_alloc) gives no audit context to threads that existed before " +
	"the first enable. Enable audit once (auditctl -e 1, or audit=1 on the kernel " +
	"command line) and start the bench again")

// Step is what one reader did at one offered rate: the row of the bench table.
// A Step is a plain value; it is safe to copy and to share once built.
type Step struct {
	Reader string `json:"reader"`
	Load   string `json:"load"`
	// OfferedRate is the rate the generator was asked for, in events/s;
	// 0 means flat out.
	OfferedRate float64 `json:"offered_rate"`
	// AchievedRate is the events the generator caused per second of its
	// run. Below OfferedRate when the machine cannot produce the load.
	AchievedRate float64 `json:"achieved_rate"`
	Seconds      float64 `json:"seconds"`
	// Events is how many audit events the generator caused.
	Events int64 `json:"events"`
	// Counted says whether the reader's output was counted; false for
	// the "none" reader, which has no output.
	Counted bool `json:"counted"`
	// OnDisk is how many of the bench's events the reader's output holds.
	OnDisk int64 `json:"on_disk"`
	// Estimated is true when OnDisk was derived from the reader's record
	// counter rather than counted by key (the discard reader).
	Estimated bool `json:"estimated,omitempty"`
	// Loss is Events-OnDisk when Counted (never negative).
	Loss         int64   `json:"loss"`
	LossFraction float64 `json:"loss_fraction"`
	// KernelLost is the growth of the kernel's lost counter during the
	// step, in records (an event is several records).
	KernelLost int64 `json:"kernel_lost"`
	// BacklogPeak is the highest kernel backlog seen (polled every 10 ms).
	BacklogPeak int64 `json:"backlog_peak"`
	// StallSeconds is the growth of backlog_wait_time_actual: how long
	// audited programs were made to wait for room in the backlog, summed
	// over the programs that waited.
	StallSeconds float64 `json:"stall_seconds"`
	// Records is every record the reader wrote during the step (for
	// discard, every record it read).
	Records int64 `json:"records"`
	// ReaderCPU is the reader's user+system CPU seconds from just before
	// the load started to just before it was stopped (its start-up is not
	// counted).
	ReaderCPU float64 `json:"reader_cpu_seconds"`
	// CPUPerMillion is ReaderCPU per million kernel records delivered:
	// OnDisk events times the load's records per event. Counting the
	// kernel's records rather than the lines each reader writes (auditd
	// and auditdrain do not write EOE records; discard writes nothing)
	// makes the figure comparable between readers.
	CPUPerMillion float64 `json:"cpu_seconds_per_million_records"`
	PeakRSS       int64   `json:"peak_rss_bytes"`
	BytesOnDisk   int64   `json:"bytes_on_disk"`
	BytesPerRec   float64 `json:"bytes_per_record"`
	// LatencyP50Ms and LatencyP99Ms are the reader's own end-to-end latency
	// figures when it exposes them; nil otherwise.
	LatencyP50Ms *float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms *float64 `json:"latency_p99_ms,omitempty"`
	// Error is set when the step could not be measured.
	Error string `json:"error,omitempty"`
}

// Clean reports whether the step lost nothing and stalled nothing.
func (s Step) Clean() bool {
	return s.Error == "" && s.Counted && s.Loss == 0 && s.KernelLost == 0 && s.StallSeconds == 0
}

// notAudited reports a step in which a sizeable load reached the reader not
// at all and the kernel lost nothing: the load was never audited.
func (s Step) notAudited() bool {
	return s.Error == "" && s.Counted && s.Events >= 100 && s.OnDisk == 0 && s.KernelLost == 0
}

// measure is what the sweep observed during one step, before any derived
// figure is computed. newStep turns it into a Step.
type measure struct {
	reader  string
	load    string
	offered float64
	out     LoadOutcome

	counted   bool
	onDisk    int64 // events found by key, or the estimate when estimated
	estimated bool
	records   int64 // lines written, or records read for discard
	bytes     int64
	perEvent  int // kernel records per event of the load

	lostBefore, lostAfter uint32
	waitBefore, waitAfter uint32 // backlog_wait_time_actual, jiffies
	hz                    int    // kernel CONFIG_HZ, to turn jiffies into seconds
	backlogPeak           uint32

	cpuSeconds float64
	peakRSS    int64
	p50, p99   *float64
	err        error
}

// newStep computes a Step's derived figures from what was observed.
func newStep(m measure) Step {
	s := Step{
		Reader:       m.reader,
		Load:         m.load,
		OfferedRate:  m.offered,
		Seconds:      m.out.Elapsed.Seconds(),
		Events:       m.out.Events,
		AchievedRate: m.out.Rate(),
		Counted:      m.counted,
		Estimated:    m.estimated,
		KernelLost:   int64(m.lostAfter - m.lostBefore), // modular: the counter may wrap
		BacklogPeak:  int64(m.backlogPeak),
		Records:      m.records,
		ReaderCPU:    m.cpuSeconds,
		PeakRSS:      m.peakRSS,
		BytesOnDisk:  m.bytes,
		LatencyP50Ms: m.p50,
		LatencyP99Ms: m.p99,
	}
	if m.hz > 0 {
		s.StallSeconds = float64(m.waitAfter-m.waitBefore) / float64(m.hz)
	}
	if m.counted {
		s.OnDisk = m.onDisk
		s.Loss = max(m.out.Events-m.onDisk, 0)
		if m.out.Events > 0 {
			s.LossFraction = float64(s.Loss) / float64(m.out.Events)
		}
	}
	if kernelRecords := s.OnDisk * int64(m.perEvent); kernelRecords > 0 {
		s.CPUPerMillion = m.cpuSeconds / (float64(kernelRecords) / 1e6)
	}
	if m.records > 0 && m.bytes > 0 {
		s.BytesPerRec = float64(m.bytes) / float64(m.records)
	}
	if m.err != nil {
		s.Error = m.err.Error()
	}
	return s
}

// estimateEvents turns a reader's count of all records read during a step
// into a count of the bench's events, for readers that write nothing.
// overhead is the number of records known not to be bench events (those
// logged for the rule changes); perEvent the records per event
// of the load. The estimate never exceeds events, and a shortfall within
// rounding noise (max(2, 0.1% of events)) counts as none: real losses at a
// backlog_wait_time of 0 also show in the kernel's lost counter.
func estimateEvents(recordsDelta, overhead int64, perEvent int, events int64) int64 {
	if perEvent <= 0 {
		perEvent = 1
	}
	est := int64(math.Round(float64(max(recordsDelta-overhead, 0)) / float64(perEvent)))
	est = min(est, events)
	if events-est <= max(2, events/1000) {
		est = events
	}
	return est
}
