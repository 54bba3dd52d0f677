package doctor

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/internal/tally"
)

func checkAccess(in Input) []Finding {
	var fs []Finding
	if !in.Root {
		fs = append(fs, Finding{Check: "access", Severity: Info,
			Title: "not root: fewer checks (the kernel's audit status and rules and the daemon's control socket need root); the kernel command line, the config and the log disk were checked"})
	} else if in.KernelErr != nil {
		fs = append(fs, Finding{Check: "access", Severity: Warn, Title: "could not read the kernel's audit status: " + in.KernelErr.Error()})
	}
	if in.ConfigErr != nil {
		sev, what := Error, "the config cannot be used (the daemon would not start with it)"
		if !in.Root && errors.Is(in.ConfigErr, iofs.ErrPermission) {
			sev, what = Info, "the config is not readable by this user"
		}
		fs = append(fs, Finding{Check: "config", Severity: sev,
			Title:    what + "; the checks below assume the defaults",
			Evidence: []string{in.ConfigErr.Error()}})
	}
	if in.Daemon == nil && in.Root {
		why := "no daemon answered"
		if in.DaemonErr != nil {
			why = in.DaemonErr.Error()
		}
		fs = append(fs, Finding{Check: "daemon", Severity: Info,
			Title: "no running auditdrain to ask (" + why + "): kernel and file checks only; loss by cause, the busiest rules and the writer's figures need a running daemon"})
	}
	return fs
}

func checkCmdline(in Input) []Finding {
	if in.CmdlineErr != nil {
		return []Finding{{Check: "cmdline", Severity: Warn, Title: "could not read the kernel command line: " + in.CmdlineErr.Error()}}
	}
	params := map[string]string{}
	for _, w := range strings.Fields(in.Cmdline) {
		if w == "--" {
			break // what follows is init's
		}
		k, v, _ := strings.Cut(w, "=")
		params[k] = v
	}
	const where = "kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub or grub2-mkconfig, and reboot): "
	var fs []Finding
	audit, hasAudit := params["audit"]
	switch {
	case hasAudit && (audit == "0" || audit == "off"):
		fs = append(fs, Finding{Check: "cmdline", Severity: Error,
			Title:    "audit=0 on the kernel command line: auditing is disabled until reboot",
			Evidence: []string{"/proc/cmdline has audit=" + audit},
			Fix:      []string{where + "audit=1"}})
	case !hasAudit:
		fs = append(fs, Finding{Check: "cmdline", Severity: Warn,
			Title:    "the kernel command line lacks audit=1: processes started before auditing is first enabled are never audited (the kernel's audit_alloc gives them no audit context while audit_ever_enabled is 0), whatever the rules say",
			Evidence: []string{"/proc/cmdline: " + kernelPart(in.Cmdline)},
			Fix:      []string{where + "audit=1"}})
	default:
		fs = append(fs, Finding{Check: "cmdline", Severity: OK, Title: "audit=" + audit + " on the kernel command line: every process is audited from boot"})
	}
	if hasAudit && (audit == "0" || audit == "off") {
		return fs
	}
	if v, ok := params["audit_backlog_limit"]; ok {
		fs = append(fs, Finding{Check: "cmdline", Severity: OK, Title: "audit_backlog_limit=" + v + " on the kernel command line: the boot burst has room until the daemon reads it"})
	} else {
		fs = append(fs, Finding{Check: "cmdline", Severity: Warn,
			Title:    "the kernel command line lacks audit_backlog_limit=: during boot the kernel queues at most 64 records before any daemon reads them, and the rest of the boot burst is lost",
			Evidence: []string{"no audit_backlog_limit= in /proc/cmdline"},
			Fix:      []string{where + "audit_backlog_limit=8192"}})
	}
	return fs
}

func checkKernel(in Input) []Finding {
	k := in.Kernel
	if k == nil {
		return nil
	}
	var fs []Finding
	switch k.Enabled {
	case 0:
		fs = append(fs, Finding{Check: "enabled", Severity: Error, Title: "kernel auditing is disabled (enabled 0): no rule produces records",
			Evidence: []string{"auditctl -s: enabled 0"},
			Fix:      []string{"rules.d: -e 1", configLine(in, "enabled = 1")}})
	case 2:
		fs = append(fs, Finding{Check: "enabled", Severity: Info, Title: "the audit configuration is locked until reboot (enabled 2): every fix below to the kernel's settings or rules needs a reboot",
			Evidence: []string{"auditctl -s: enabled 2"}})
	}
	if k.PID == 0 && in.Daemon == nil {
		fs = append(fs, Finding{Check: "daemon", Severity: Warn,
			Title:    "no audit daemon is registered: the kernel writes records to the kernel log (printk, rate limited) and they reach no audit log",
			Evidence: []string{"auditctl -s: pid 0"},
			Fix:      []string{"systemctl enable --now auditdrain (or run auditdrain install)"}})
	}
	if k.RateLimit > 0 {
		fs = append(fs, Finding{Check: "rate_limit", Severity: Warn,
			Title:    fmt.Sprintf("rate_limit %d: the kernel drops every record beyond %d a second (counted in lost, with \"audit: rate limit exceeded\" in the kernel log); a burst above it is lost however large the backlog", k.RateLimit, k.RateLimit),
			Evidence: rateEvidence(in, k.RateLimit),
			Fix:      []string{"rules.d: -r 0", configLine(in, "rate_limit = 0"), "(to shed a noisy rule on purpose, limit it by key instead: " + configLine(in, "ratelimit = key=KEY rate=N") + ")"}})
	} else {
		fs = append(fs, Finding{Check: "rate_limit", Severity: OK, Title: "rate_limit 0: the kernel limits no rate; only the backlog bounds a burst"})
	}
	switch k.Failure {
	case 0:
		fs = append(fs, Finding{Check: "failure", Severity: Warn,
			Title:    "failure 0 (silent): a lost record is not even reported in the kernel log; loss goes unnoticed but for the lost counter",
			Evidence: []string{"auditctl -s: failure 0"},
			Fix:      []string{"rules.d: -f 1", configLine(in, "failure = 1")}})
	case 1:
		fs = append(fs, Finding{Check: "failure", Severity: OK, Title: "failure 1 (printk): each loss is reported in the kernel log (audit: backlog limit exceeded) and the host goes on"})
	case 2:
		sev := Warn
		title := "failure 2 (panic): the first lost record panics the host; make sure the backlog and the rules leave no loss, or choose failure 1"
		if lost(in)[pipeline.CauseKernel] > 0 || k.Lost > 0 {
			sev = Error
			title = "failure 2 (panic) while the kernel is losing records: the next loss panics the host"
		}
		fs = append(fs, Finding{Check: "failure", Severity: sev, Title: title,
			Evidence: []string{fmt.Sprintf("auditctl -s: failure 2, lost %d", k.Lost)},
			Fix:      []string{"rules.d: -f 1", configLine(in, "failure = 1")}})
	}
	if k.BacklogWaitTime == 0 {
		fs = append(fs, Finding{Check: "backlog_wait_time", Severity: Info,
			Title: "backlog_wait_time 0: when the backlog is full the kernel loses the record at once (counted in lost) rather than make the audited program wait"})
	} else {
		f := Finding{Check: "backlog_wait_time", Severity: Info,
			Title: fmt.Sprintf("backlog_wait_time %d jiffies: when the backlog is full, audited programs sleep up to that long for room before the record is lost: loss is traded for latency", k.BacklogWaitTime)}
		if in.Daemon != nil && in.Daemon.KernelStallJiffies > 0 {
			f.Severity = Warn
			f.Title = fmt.Sprintf("audited programs were made to wait %d jiffies in all for backlog room since the daemon started (backlog_wait_time %d): the backlog fills up", in.Daemon.KernelStallJiffies, k.BacklogWaitTime)
			f.Evidence = []string{fmt.Sprintf("kernel_stall_jiffies %d", in.Daemon.KernelStallJiffies)}
			f.Fix = []string{"raise the backlog and narrow the busiest rules (see below)"}
		}
		fs = append(fs, f)
	}
	return fs
}

func rateEvidence(in Input, limit uint32) []string {
	ev := []string{fmt.Sprintf("auditctl -s: rate_limit %d", limit)}
	if in.Top != nil {
		ev = append(ev, fmt.Sprintf("records per second now: %.0f over 1 s, %.0f over 60 s", in.Top.RecordRate[0], in.Top.RecordRate[2]))
	}
	return ev
}

// RecommendBacklog returns the backlog_limit doctor recommends for an
// observed peak: at least 8192 (auditd's default rules' -b), and twice
// the peak rounded up to a power of two.
func RecommendBacklog(peak uint64) uint64 {
	n := max(peak*2, 8192)
	if bits.OnesCount64(n) != 1 {
		n = 1 << bits.Len64(n)
	}
	return n
}

func checkBacklog(in Input) []Finding {
	var limit, peak uint64
	var peakWhat string
	switch {
	case in.Top != nil:
		limit, peak = in.Top.BacklogLimit, in.Top.BacklogPeak
		peakWhat = fmt.Sprintf("observed backlog peak %d (1 s polls since the daemon started %s ago)", peak, dur(in.Top.UptimeSeconds))
	case in.Daemon != nil:
		peak = in.Daemon.KernelBacklogPeak
		peakWhat = fmt.Sprintf("observed backlog peak %d (1 s polls since the daemon started)", peak)
	}
	if in.Kernel != nil {
		limit = uint64(in.Kernel.BacklogLimit)
		if peakWhat == "" {
			peak = uint64(in.Kernel.Backlog)
			peakWhat = fmt.Sprintf("backlog now %d (no daemon: no peak observed)", peak)
		}
	}
	if limit == 0 && peakWhat == "" {
		return nil
	}
	ev := []string{fmt.Sprintf("backlog_limit %d", limit), peakWhat}
	kernelLost := lost(in)[pipeline.CauseKernel]
	if kernelLost > 0 && limit > 0 && peak < limit && (in.Kernel == nil || in.Kernel.RateLimit == 0) {
		// With no rate limit, the kernel loses records only when the
		// backlog is full: it reached its limit between two polls.
		ev = append(ev, fmt.Sprintf("the kernel lost %d records with no rate_limit: the backlog reached its limit %d between two 1 s polls", kernelLost, limit))
		peak = limit
	}
	rec := RecommendBacklog(peak)
	fix := []string{fmt.Sprintf("rules.d: -b %d", rec), configLine(in, fmt.Sprintf("backlog_limit = %d", rec)),
		fmt.Sprintf("kernel command line: audit_backlog_limit=%d", rec)}
	switch {
	case kernelLost > 0 && peak*10 >= limit*9:
		return []Finding{{Check: "backlog", Severity: Error,
			Title:    fmt.Sprintf("the kernel's backlog filled up (peak %d of backlog_limit %d) and %d records were lost: raise backlog_limit to at least %d (twice the observed peak)", peak, limit, kernelLost, rec),
			Evidence: append(ev, fmt.Sprintf("lost (kernel) %d since the daemon started", kernelLost)), Fix: fix}}
	case limit < 1024:
		return []Finding{{Check: "backlog", Severity: Warn,
			Title:    fmt.Sprintf("backlog_limit %d leaves no room for a burst: recommended backlog_limit %d (at least twice the observed peak %d, and 8192)", limit, rec, peak),
			Evidence: ev, Fix: fix}}
	case peak*4 >= limit*3:
		return []Finding{{Check: "backlog", Severity: Warn,
			Title:    fmt.Sprintf("the backlog reached %d of its limit %d: the next burst may overflow it; recommended backlog_limit %d", peak, limit, rec),
			Evidence: ev, Fix: fix}}
	}
	what := "the observed peak"
	if in.Top == nil && in.Daemon == nil {
		what = "the backlog now"
	}
	return []Finding{{Check: "backlog", Severity: OK,
		Title: fmt.Sprintf("backlog_limit %d is well above %s (%d)", limit, what, peak), Evidence: ev}}
}

// lost returns the daemon's loss counters since it started (zero without
// a daemon).
func lost(in Input) (l pipeline.Losses) {
	switch {
	case in.Top != nil:
		for _, r := range in.Top.Loss {
			for c := range pipeline.NumCauses {
				if c.String() == r.Cause {
					l[c] = r.Total
				}
			}
		}
	case in.Daemon != nil:
		for c := range pipeline.NumCauses {
			l[c] = in.Daemon.Lost[c.String()]
		}
	}
	return l
}

// causeHelp is, per loss cause, what it means and what to change.
var causeHelp = map[string]struct{ why, fix string }{
	"kernel":      {"the kernel's lost counter: its backlog was full (or rate_limit was exceeded) when a record was made", "raise the backlog (rules.d: -b N) and narrow the busiest rules"},
	"overrun":     {"the data socket's receive buffer overflowed (ENOBUFS): events were lost between the kernel and auditdrain", "auditdrain.conf: rcvbuf = %s (twice the configured %s)"},
	"truncated":   {"records longer than the receive buffer were cut", "auditdrain.conf: rcvbuf = %s (twice the configured %s)"},
	"dropped":     {"overflow_action = drop: the ring between reader and writer was full, and auditdrain dropped records", "auditdrain.conf: ring_size = 256M (or overflow_action = block, to make the kernel's backlog absorb the burst)"},
	"oversized":   {"records larger than the ring", "auditdrain.conf: ring_size = 64M"},
	"ratelimited": {"suppressed by a ratelimit rule, as configured", "none if deliberate; else raise or remove the ratelimit rule"},
	"gap":         {"serial gaps: a heuristic (serials of events no rule selected leave gaps too), not proof of loss", "none; look at the certain causes"},
	"disk":        {"records the writer could not write (disk full, errors, writing suspended)", "free space on the log disk, then auditdrain resume"},
	"sockdrop":    {"multicast: datagrams the kernel dropped at auditdrain's socket", "auditdrain.conf: rcvbuf = %s (twice the configured %s)"},
	"forward":     {"retention deleted segments before the forwarder had sent them (the NATS server was unreachable or slower than the log)", "look at status's forward section (forward_last_error); keep more log (num_logs, max_total_log_size) than an outage lasts"},
}

func checkLoss(in Input) []Finding {
	if in.Top == nil && in.Daemon == nil {
		if in.Kernel != nil && in.Kernel.Lost > 0 {
			return []Finding{{Check: "loss", Severity: Warn,
				Title:    fmt.Sprintf("the kernel has lost %d records since boot (or auditctl --reset-lost); with no daemon running, when cannot be told", in.Kernel.Lost),
				Evidence: []string{fmt.Sprintf("auditctl -s: lost %d", in.Kernel.Lost)},
				Fix:      []string{"run the daemon and auditdrain doctor again: it tells loss by cause"}}}
		}
		return nil
	}
	type row struct {
		cause       string
		total, hour uint64
		hourKnown   bool
	}
	var rows []row
	if in.Top != nil {
		for _, r := range in.Top.Loss {
			rows = append(rows, row{r.Cause, r.Total, r.LastHour, true})
		}
	} else {
		for c := range pipeline.NumCauses {
			rows = append(rows, row{cause: c.String(), total: in.Daemon.Lost[c.String()]})
		}
	}
	var fs []Finding
	for _, r := range rows {
		if r.total == 0 {
			continue
		}
		h := causeHelp[r.cause]
		sev := Warn
		switch {
		case r.cause == "gap" || r.cause == "ratelimited":
			sev = Info
		case !r.hourKnown || r.hour > 0:
			sev = Error
		}
		title := fmt.Sprintf("%d records lost, cause %s, since the daemon started", r.total, r.cause)
		if r.hourKnown {
			title += fmt.Sprintf("; %d in the last hour", r.hour)
		}
		title += ": " + h.why
		fix := h.fix
		if strings.Contains(fix, "rcvbuf = %s") {
			fix = fmt.Sprintf(fix, sizeText(min(2*in.Config.RcvBuf, 1<<30)), sizeText(in.Config.RcvBuf))
		}
		fs = append(fs, Finding{Check: "loss", Severity: sev, Title: title,
			Evidence: []string{fmt.Sprintf("lost_by_cause %s=%d", r.cause, r.total)}, Fix: []string{fix}})
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Check: "loss", Severity: OK, Title: "no record lost since the daemon started"})
	}
	return fs
}

// kernelRule is one of the kernel's rules with its keys.
type kernelRule struct {
	text string
	keys []string
}

func parseRule(text string) kernelRule {
	r := kernelRule{text: text}
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		var v string
		switch {
		case f[i] == "-k" && i+1 < len(f):
			v = f[i+1]
			i++
		case f[i] == "-F" && i+1 < len(f) && strings.HasPrefix(f[i+1], "key="):
			v = strings.TrimPrefix(f[i+1], "key=")
			i++
		default:
			continue
		}
		r.keys = append(r.keys, strings.Split(v, string(rune(record.KeySeparator)))...)
	}
	return r
}

// readable is the rule as rules.d would write it: keys as -k.
func (r kernelRule) readable() string {
	f := strings.Fields(r.text)
	var out []string
	for i := 0; i < len(f); i++ {
		if f[i] == "-F" && i+1 < len(f) && strings.HasPrefix(f[i+1], "key=") {
			i++
			continue
		}
		if f[i] == "-k" {
			i++
			continue
		}
		out = append(out, strings.ReplaceAll(f[i], "auid!=-1", "auid!=unset"))
	}
	for _, k := range r.keys {
		out = append(out, "-k", k)
	}
	return strings.Join(out, " ")
}

// withFilters returns the rule with extra -F filters before its keys.
func (r kernelRule) withFilters(filters ...string) string {
	keys := r.keys
	r.keys = nil
	s := r.readable() + " " + strings.Join(filters, " ")
	for _, k := range keys {
		s += " -k " + k
	}
	return s
}

func (r kernelRule) field(name string) (string, bool) {
	f := strings.Fields(r.text)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-F" && strings.HasPrefix(f[i+1], name) {
			return f[i+1][len(name):], true
		}
	}
	return "", false
}

func (r kernelRule) has(flag string) bool { return slices.Contains(strings.Fields(r.text), flag) }

func (r kernelRule) syscalls() []string {
	var out []string
	f := strings.Fields(r.text)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-S" {
			out = append(out, strings.Split(f[i+1], ",")...)
		}
	}
	return out
}

// minShare is the share of events above which doctor calls a rule the
// source of most events, and minEvents how many events it must have seen.
const (
	minShare  = 0.5
	minEvents = 200
)

func checkRules(in Input) []Finding {
	if in.Top == nil {
		return nil
	}
	var rules []kernelRule
	for _, t := range in.Rules {
		rules = append(rules, parseRule(t))
	}
	keys := in.Top.Table("key")
	if keys == nil {
		return nil
	}
	total := in.Top.Events
	var fs []Finding
	if total < minEvents {
		fs = append(fs, Finding{Check: "rules", Severity: OK,
			Title: fmt.Sprintf("%d events since the daemon started %s ago: too few to blame a rule", total, dur(in.Top.UptimeSeconds))})
	}
	busiestExe := ""
	if exes := in.Top.Table("exe"); exes != nil && len(exes.Rows) > 0 {
		busiestExe = exes.Rows[0].Name
		if float64(exes.Rows[0].Total) < 0.3*float64(total) {
			busiestExe = ""
		}
	}
	for _, row := range keys.Rows {
		share := float64(row.Total) / float64(max(total, 1))
		if total < minEvents || share < minShare {
			continue
		}
		title := fmt.Sprintf("rule key %s is the source of %.1f%% of events (%d of %d since the daemon started %s ago; %.1f/s over the last 60 s)",
			row.Name, 100*share, row.Total, total, dur(in.Top.UptimeSeconds), row.Rate[2])
		f := Finding{Check: "rules", Severity: Warn, Title: title,
			Evidence: []string{fmt.Sprintf("top: key %s total %d, events total %d", row.Name, row.Total, total)}}
		if row.Name == tally.NoKey {
			f.Title = fmt.Sprintf("rules without a key are the source of %.1f%% of events (%d of %d): give every rule a key (-k NAME) so that its events can be told apart", 100*share, row.Total, total)
			fs = append(fs, f)
			continue
		}
		var matched []kernelRule
		for _, r := range rules {
			if slices.Contains(r.keys, row.Name) {
				matched = append(matched, r)
			}
		}
		if len(matched) == 0 && in.RulesErr == nil && len(in.Rules) > 0 {
			f.Evidence = append(f.Evidence, "no rule in the kernel carries this key now (removed since?)")
		}
		for _, r := range matched {
			f.Evidence = append(f.Evidence, "rule: "+r.readable())
			f.Fix = append(f.Fix, narrower(in, r, busiestExe)...)
		}
		fs = append(fs, f)
	}
	// Rules that never matched: only when every key counted is known.
	if keys.Complete && in.Top.UptimeSeconds >= 1 && len(rules) > 0 {
		var never []string
		for _, r := range rules {
			seen := false
			for _, k := range r.keys {
				if keys.Row(k) != nil {
					seen = true
				}
			}
			if len(r.keys) > 0 && !seen {
				never = append(never, r.readable())
			}
		}
		if len(never) > 0 {
			fs = append(fs, Finding{Check: "rules", Severity: Info,
				Title:    fmt.Sprintf("%d rules never matched since the daemon started %s ago (dead weight on every syscall they list, or a watch on a path that is never touched)", len(never), dur(in.Top.UptimeSeconds)),
				Evidence: never})
		}
	}
	return fs
}

// narrower returns the rules.d lines that would replace r with a narrower
// rule, for the usual culprits.
func narrower(in Input, r kernelRule, busiestExe string) []string {
	var fix []string
	_, hasAuid := r.field("auid")
	_, hasExe := r.field("exe")
	if r.has("-w") {
		// A watch: -w PATH -p PERMS.
		f := strings.Fields(r.text)
		path, perms := "", "rwxa"
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "-w":
				path = f[i+1]
			case "-p":
				perms = f[i+1]
			}
		}
		isDir := in.IsDir != nil && in.IsDir(path)
		what := "a watch"
		if isDir {
			what = "a watch on a busy directory"
		}
		keys := ""
		for _, k := range r.keys {
			keys += " -k " + k
		}
		if strings.ContainsAny(perms, "rx") {
			fix = append(fix, fmt.Sprintf("rules.d (%s, narrowed to writes and attribute changes): -w %s -p wa%s", what, path, keys))
		}
		if isDir {
			fix = append(fix, fmt.Sprintf("rules.d (%s, only people's changes): -a always,exit -F arch=b64 -F dir=%s -F perm=wa -F auid>=1000 -F auid!=unset%s", what, path, keys))
		}
		return fix
	}
	sys := r.syscalls()
	exec := slices.Contains(sys, "execve") || slices.Contains(sys, "execveat")
	if !hasAuid {
		what := "a syscall rule without an auid filter"
		if exec && !hasExe {
			what = "an unfiltered execve rule"
		}
		fix = append(fix, fmt.Sprintf("rules.d (%s; replace it by, to audit only what people do): %s", what, r.withFilters("-F auid>=1000", "-F auid!=unset")))
	}
	if busiestExe != "" && !hasExe {
		arch, _ := r.field("arch=")
		if arch == "" {
			arch = "b64"
		}
		s := strings.Join(sys, ",")
		if s == "" {
			s = "all"
		}
		fix = append(fix, fmt.Sprintf("rules.d (before it: exclude the busiest executable, %s): -a never,exit -F arch=%s -S %s -F exe=%s", busiestExe, arch, s, busiestExe))
	}
	if len(fix) == 0 && len(r.keys) > 0 {
		fix = append(fix, configLine(in, fmt.Sprintf("ratelimit = key=%s rate=100 burst=1000", r.keys[0]))+" (the rule is filtered already: limit its events per second)")
	}
	return fix
}

func checkDisk(in Input) []Finding {
	var fs []Finding
	if d := in.Daemon; d != nil && !d.Discard {
		switch {
		case d.Suspended:
			fs = append(fs, Finding{Check: "disk", Severity: Error, Title: "writing is suspended (" + d.SuspendCause + "): records are not written",
				Fix: []string{"free space on the log disk, then: auditdrain resume"}})
		case d.WriteErrors > 0:
			fs = append(fs, Finding{Check: "disk", Severity: Error, Title: fmt.Sprintf("%d write errors; last: %s", d.WriteErrors, d.WriteError)})
		}
		f := Finding{Check: "disk", Severity: OK,
			Title:    fmt.Sprintf("fsync p99 %.1f ms; durability window p99 %.0f ms (max %.0f ms): how long a record waits before it is on disk", d.FsyncP99Ms, d.DurabilityP99Ms, d.DurabilityMaxMs),
			Evidence: []string{fmt.Sprintf("%d fsyncs, p50 %.1f ms, max %.1f ms", d.Fsyncs, d.FsyncP50Ms, d.FsyncMaxMs)}}
		if d.FsyncP99Ms > 100 {
			f.Severity = Warn
			f.Title = fmt.Sprintf("fsync p99 %.0f ms: the log disk is slow; batches wait for it and the ring fills in a burst (durability window p99 %.0f ms)", d.FsyncP99Ms, d.DurabilityP99Ms)
			f.Fix = []string{"put log_dir on a faster disk, or " + configLine(in, "fsync_interval = 2s") + " (fewer fsyncs, a longer durability window)"}
		}
		fs = append(fs, f)
	}
	if in.Disk == nil {
		if in.DiskErr != nil {
			fs = append(fs, Finding{Check: "disk", Severity: Warn, Title: "could not look at the log directory: " + in.DiskErr.Error()})
		}
		return fs
	}
	c := in.Config
	var retention int64
	var how string
	switch {
	case c.MaxTotalLogSize > 0:
		retention, how = c.MaxTotalLogSize, fmt.Sprintf("max_total_log_size %s", bytesText(c.MaxTotalLogSize))
	case c.NumLogs > 0:
		retention, how = int64(c.NumLogs)*c.MaxLogFile<<20, fmt.Sprintf("num_logs %d x max_log_file %d MiB", c.NumLogs, c.MaxLogFile)
	}
	free := in.Disk.FreeBytes
	ev := []string{fmt.Sprintf("%s: %s free of %s; the log holds %s", in.Disk.Dir, bytesText(free), bytesText(in.Disk.SizeBytes), bytesText(in.Disk.LogBytes))}
	if retention == 0 {
		fs = append(fs, Finding{Check: "disk", Severity: Info,
			Title:    fmt.Sprintf("no retention cap (num_logs 0, max_total_log_size 0): the log grows until space_left (%v) acts", c.SpaceLeft),
			Evidence: ev,
			Fix:      []string{configLine(in, fmt.Sprintf("max_total_log_size = %dM", max(in.Disk.SizeBytes/2, 1<<30)>>20))}})
		return fs
	}
	need := retention - in.Disk.LogBytes
	ev = append(ev, "retention: "+how)
	if need > free {
		fs = append(fs, Finding{Check: "disk", Severity: Warn,
			Title:    fmt.Sprintf("the retention (%s) needs %s more than the log holds, but only %s is free: the disk fills before old segments are deleted", bytesText(retention), bytesText(need), bytesText(free)),
			Evidence: ev,
			Fix:      []string{configLine(in, fmt.Sprintf("max_total_log_size = %dM", (in.Disk.LogBytes+free*3/4)>>20))}})
	} else {
		fs = append(fs, Finding{Check: "disk", Severity: OK, Title: fmt.Sprintf("free space %s covers the retention (%s)", bytesText(free), how), Evidence: ev})
	}
	return fs
}

func checkPlugins(in Input) []Finding {
	if in.Daemon == nil {
		return nil
	}
	var fs []Finding
	for _, p := range in.Daemon.Plugins {
		switch {
		case p.State == "failed":
			fs = append(fs, Finding{Check: "plugins", Severity: Error,
				Title:    fmt.Sprintf("plugin %s (%s) was given up after %d restarts: it gets no records (lost %d)", p.Name, p.Path, p.Restarts, p.Lost),
				Evidence: []string{fmt.Sprintf("state %s, lost %d, delivered %d", p.State, p.Lost, p.Delivered)},
				Fix:      []string{"fix the program, then: auditdrain reload"}})
		case p.Lost > 0:
			fs = append(fs, Finding{Check: "plugins", Severity: Warn,
				Title:    fmt.Sprintf("plugin %s lost %d records (its queue was full: it reads slower than records come)", p.Name, p.Lost),
				Evidence: []string{fmt.Sprintf("state %s, queue %d, lost %d, delivered %d", p.State, p.QueueDepth, p.Lost, p.Delivered)},
				Fix:      []string{configLine(in, "q_depth = 20000")}})
		default:
			fs = append(fs, Finding{Check: "plugins", Severity: OK, Title: fmt.Sprintf("plugin %s: %s, %d delivered, none lost", p.Name, p.State, p.Delivered)})
		}
	}
	return fs
}

// checkForward reports the forwarder (forward_url): a forwarder not
// connected, or lagging, leaves records only in the local log, where
// retention may delete them before they are sent (loss cause forward).
func checkForward(in Input) []Finding {
	if in.Daemon == nil || in.Daemon.ForwardURL == "" {
		return nil
	}
	st := in.Daemon
	ev := []string{
		fmt.Sprintf("forward_url %s, connected %v, cursor %s", st.ForwardURL, st.ForwardConnected, st.ForwardCursor),
		fmt.Sprintf("lag %d bytes, ~%d records, %.1f s; acknowledged latency p99 %.0f ms; errors %d", st.ForwardLagBytes, st.ForwardLagRecords, st.ForwardLagSeconds, st.ForwardLatencyP99Ms, st.ForwardErrors),
	}
	if st.ForwardLastError != "" {
		ev = append(ev, "last error: "+st.ForwardLastError)
	}
	keep := "keep more log than an outage may last: " + configLine(in, "max_total_log_size = ...") + " (or num_logs)"
	switch {
	case !st.ForwardConnected:
		return []Finding{{Check: "forward", Severity: Error,
			Title:    "the forwarder is not connected: records stay only in the local log, and retention may delete them before they are sent (loss cause forward)",
			Evidence: ev,
			Fix:      []string{"make the server reachable (credentials, TLS, network), as forward_last_error says; the forwarder resumes from its cursor", keep}}}
	case st.ForwardLagSeconds > 60:
		return []Finding{{Check: "forward", Severity: Warn,
			Title:    fmt.Sprintf("the forwarder is %s behind the log: the server or the network is slower than the records come", dur(st.ForwardLagSeconds)),
			Evidence: ev,
			Fix:      []string{"look at the server's load and the link; " + keep}}}
	}
	return []Finding{{Check: "forward", Severity: OK,
		Title:    fmt.Sprintf("forwarding to %s: %d records sent, %s behind the log", st.ForwardURL, st.ForwardRecords, dur(st.ForwardLagSeconds)),
		Evidence: ev}}
}

// kernelPart is the kernel's part of a command line: before "--", which
// starts init's arguments.
func kernelPart(cmdline string) string {
	k, _, _ := strings.Cut(" "+strings.TrimSpace(cmdline)+" ", " -- ")
	return strings.TrimSpace(k)
}

// configLine is a config fix line, naming the file.
func configLine(in Input, line string) string {
	path := in.ConfigPath
	if path == "" {
		path = "auditdrain.conf"
	}
	return path + ": " + line
}

func dur(secs float64) string {
	return (time.Duration(secs) * time.Second).String()
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d", n)
}

// sizeText writes a byte count as the config's size keys take it (K, M).
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}
