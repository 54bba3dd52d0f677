package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"
)

// rateLabel formats an offered rate; 0 is "max" (flat out).
func rateLabel(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmtRate(r) + "/s"
}

// fmtRate formats a rate in events/s compactly: 950, 40.0k, 1.20M.
func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// orderedSteps returns the steps grouped by reader, in readers' order (then
// any other reader in order of appearance), each by offered rate.
func orderedSteps(steps []Step, readers []string) []Step {
	names := slices.Clone(readers)
	for _, n := range readersOf(steps) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var out []Step
	for _, n := range names {
		var mine []Step
		for _, s := range steps {
			if s.Reader == n {
				mine = append(mine, s)
			}
		}
		slices.SortStableFunc(mine, offeredOrder)
		out = append(out, mine...)
	}
	return out
}

// WriteTable writes the result as a table for a terminal.
func WriteTable(w io.Writer, res *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "machine: %s\n", res.Machine)
	mode := "records dropped, programs never wait"
	if res.Settings.BacklogWaitTime > 0 {
		mode = "programs wait for room"
	}
	fmt.Fprintf(&b, "load: %s on %d threads, %gs per step; backlog_limit %d, backlog_wait_time %d (%s), rate_limit %d\n",
		res.Load, res.Threads, res.Duration, res.Settings.BacklogLimit, res.Settings.BacklogWaitTime, mode, res.Settings.RateLimit)
	if len(res.Sets) > 0 {
		fmt.Fprintf(&b, "auditdrain: --set %s\n", strings.Join(res.Sets, " --set "))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	b.WriteString("\n")

	if len(res.Idle) > 0 {
		b.WriteString("idle: rules loaded, no load\n")
		itw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(itw, "reader\tseconds\tCPU ticks (10 ms)\twake-ups\twake-ups/s\t")
		for _, i := range res.Idle {
			if i.Error != "" {
				fmt.Fprintf(itw, "%s\terror: %s\t\t\t\t\n", i.Reader, oneLine(i.Error, 200))
				continue
			}
			fmt.Fprintf(itw, "%s\t%.1f\t%d\t%d\t%.1f\t\n", i.Reader, i.Seconds, i.CPUTicks, i.Wakeups, i.WakeupsPerSecond)
		}
		itw.Flush()
		b.WriteString("\n")
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("reader")
	for _, s := range res.Steps {
		width = max(width, len(s.Reader))
	}
	fmt.Fprintf(tw, "%-*s\t", width, "reader")
	fmt.Fprintln(tw, "offered\tachieved\tevents\ton disk\tloss\tkernel lost\tbacklog peak\tstall s\tCPU s/M rec\tRSS MiB\tB/rec\tp50 ms\tp99 ms\t")
	var failed []string
	for _, s := range orderedSteps(res.Steps, res.Readers) {
		name := fmt.Sprintf("%-*s", width, s.Reader) // left-aligned in a right-aligned table
		if s.Error != "" {
			failed = append(failed, fmt.Sprintf("[%d] %s at %s: %s", len(failed)+1, s.Reader, rateLabel(s.OfferedRate), oneLine(s.Error, 300)))
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\terror [%d]\t\t\t\t\t\t\t\t\t\t\n", name, rateLabel(s.OfferedRate), fmtRate(s.AchievedRate), s.Events, len(failed))
			continue
		}
		onDisk, loss := "-", "-"
		if s.Counted {
			onDisk = fmt.Sprint(s.OnDisk)
			if s.Estimated {
				onDisk = "~" + onDisk
			}
			loss = fmt.Sprintf("%.2f%%", 100*s.LossFraction)
		}
		cpu, rss, bpr := "-", "-", "-"
		if s.Reader != ReaderNone {
			if s.CPUPerMillion > 0 {
				cpu = fmt.Sprintf("%.2f", s.CPUPerMillion)
			}
			rss = fmt.Sprintf("%.1f", float64(s.PeakRSS)/(1<<20))
			if s.BytesPerRec > 0 {
				bpr = fmt.Sprintf("%.1f", s.BytesPerRec)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n",
			name, rateLabel(s.OfferedRate), fmtRate(s.AchievedRate), s.Events, onDisk, loss,
			s.KernelLost, s.BacklogPeak, s.StallSeconds, cpu, rss, bpr, optMs(s.LatencyP50Ms), optMs(s.LatencyP99Ms))
	}
	tw.Flush()
	if len(failed) > 0 {
		b.WriteString("\nerrors:\n")
		for _, f := range failed {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}

	if len(res.Knees) > 0 {
		b.WriteString("\nknee: highest achieved rate with no loss and no stall\n")
		for _, k := range res.Knees {
			fmt.Fprintf(&b, "  %-11s %s\n", k.Reader, kneeText(k))
		}
	}
	if len(res.Ratios) > 0 {
		b.WriteString("\n")
		for _, r := range res.Ratios {
			rel := "="
			if r.AtLeast {
				rel = ">="
			}
			fmt.Fprintf(&b, "  %s knee / %s knee %s %.2fx\n", r.Reader, r.Versus, rel, r.Ratio)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// kneeText describes a knee in words.
func kneeText(k Knee) string {
	if !k.Found {
		return fmt.Sprintf("none: lost or stalled at every rate (from %s/s)", fmtRate(k.FirstBad))
	}
	var parts []string
	if k.Exceeded {
		parts = append(parts, fmt.Sprintf("lost or stalled at %s/s", fmtRate(k.FirstBad)))
	} else {
		parts = append(parts, "no loss in the range swept: a lower bound")
	}
	if k.LoadBound {
		parts = append(parts, "the load generator, not the reader, reached its limit")
	}
	prefix := ""
	if !k.Exceeded || k.LoadBound {
		prefix = ">= "
	}
	return fmt.Sprintf("%s%s events/s (%s)", prefix, fmtRate(k.Rate), strings.Join(parts, "; "))
}

func optMs(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.1f", *v)
}

// oneLine shortens s to one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// WriteJSON writes the result as one indented JSON object.
func WriteJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// progressLine draws the bench's progress on a terminal as one line that is
// redrawn in place, or as one line per step elsewhere. It is used by one
// goroutine.
type progressLine struct {
	w   io.Writer
	tty bool
}

func newProgressLine(w io.Writer) *progressLine {
	return &progressLine{w: w, tty: isTerminal(w)}
}

// update shows that step done+1 of total is starting (current names it),
// or, with current empty, that the run ended after done steps.
func (p *progressLine) update(done, total int, current string) {
	if !p.tty {
		switch {
		case current != "":
			fmt.Fprintf(p.w, "bench: step %d/%d: %s\n", done+1, total, current)
		case done < total:
			fmt.Fprintf(p.w, "bench: stopped after %d of %d steps\n", done, total)
		}
		return
	}
	const width = 30
	fill := 0
	if total > 0 {
		fill = width * done / total
	}
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	if current == "" {
		fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d done\n", bar, done, total)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d %s", bar, done+1, total, current)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
