package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/auditdrain/auditdrain/internal/cli"
	"github.com/auditdrain/auditdrain/internal/daemon"
	"github.com/auditdrain/auditdrain/internal/tally"
)

// topContext is the context `top` refreshes in until it is cancelled
// (SIGINT, SIGTERM); tests replace it.
var topContext = interruptible

func cmdTop(e *env, args []string) error {
	fs := e.flags("[flags]", "Show what the running daemon drains, refreshed every --interval like top: events per second\n"+
		"over the last 1, 10 and 60 s by rule key, syscall, executable, auid, uid and record type, the kernel's\n"+
		"backlog now and at its peak, and loss per second by cause. Exit status 3 means no daemon runs.")
	cf := addConfigFlag(fs)
	ctlSock := controlSocketFlag(fs)
	once := fs.Bool("once", false, "print one view and exit")
	asJSON := fs.Bool("json", false, "print JSON (one object per refresh, one line each; with --once, one indented object)")
	interval := fs.Duration("interval", time.Second, "refresh every `D`")
	rows := fs.Int("rows", 8, "rows shown per table (text view)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		return cli.Usagef("--interval %v: at least 100ms", *interval)
	}
	sock, err := controlSocket(cf, *ctlSock)
	if err != nil {
		return err
	}
	fetch := func() (tally.Top, error) {
		t, err := daemon.FetchTop(sock)
		if err != nil {
			code := exitUnknown
			if errors.Is(err, daemon.ErrNotRunning) {
				code = exitNotRunning
			}
			return t, &exitError{code, err}
		}
		return t, nil
	}
	if *once {
		// A daemon that just started publishes its first counts within a
		// second: wait for them rather than fail.
		var t tally.Top
		for try := 0; ; try++ {
			t, err = fetch()
			if err == nil || try == 20 || !strings.Contains(err.Error(), "no counts yet") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(t)
		}
		writeTop(e.stdout, t, *rows)
		return nil
	}
	ctx := topContext()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		t, err := fetch()
		switch {
		case err != nil && strings.Contains(err.Error(), "no counts yet"):
		case err != nil:
			return err
		case *asJSON:
			if err := json.NewEncoder(e.stdout).Encode(t); err != nil {
				return err
			}
		default:
			var b strings.Builder
			b.WriteString("\x1b[H\x1b[2J") // home, clear: a plain ANSI redraw
			writeTop(&b, t, *rows)
			io.WriteString(e.stdout, b.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// writeTop prints one view of t: a header of rates, backlog and loss, then
// each table's busiest rows.
func writeTop(w io.Writer, t tally.Top, rows int) {
	fmt.Fprintf(w, "auditdrain top  %s  up %s\n", t.Time.Local().Format("15:04:05"), (time.Duration(t.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(w, "events/s   %s   (1s 10s 60s)   total %d\n", rates(t.EventRate), t.Events)
	fmt.Fprintf(w, "records/s  %s                  total %d\n", rates(t.RecordRate), t.Records)
	fmt.Fprintf(w, "kernel backlog %d   peak %d in the last 60 s, %d since start   limit %d\n", t.Backlog, t.BacklogPeak1m, t.BacklogPeak, t.BacklogLimit)
	var loss []string
	for _, l := range t.Loss {
		if l.Total > 0 {
			loss = append(loss, fmt.Sprintf("%s %s/s (total %d, last hour %d)", l.Cause, rates(l.Rate), l.Total, l.LastHour))
		}
	}
	if len(loss) == 0 {
		fmt.Fprintf(w, "loss       none since start\n")
	} else {
		fmt.Fprintf(w, "loss       %s\n", strings.Join(loss, "\n           "))
	}
	for _, tab := range t.Tables {
		more := ""
		if !tab.Complete {
			more = " (top-k: names may have been evicted)"
		}
		fmt.Fprintf(w, "\n%-40s %8s %8s %8s %6s %10s%s\n", strings.ToUpper(tab.Dim), "1s", "10s", "60s", "share", "total", more)
		for i, r := range tab.Rows {
			if i == rows {
				fmt.Fprintf(w, "  ... %d more\n", len(tab.Rows)-rows)
				break
			}
			name := r.Name
			if len(name) > 40 {
				name = "..." + name[len(name)-37:]
			}
			fmt.Fprintf(w, "%-40s %8.1f %8.1f %8.1f %5.1f%% %10d\n", name, r.Rate[0], r.Rate[1], r.Rate[2], 100*r.Share[1], r.Total)
		}
	}
}

func rates(r tally.Rates) string {
	return fmt.Sprintf("%8.1f %8.1f %8.1f", r[0], r[1], r[2])
}
