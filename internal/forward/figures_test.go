package forward

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/writer"
)

// syscallLine is a SYSCALL record as the kernel writes it, with a
// current stamp and random arguments, pid and exit (less compressible
// than a real log, where these repeat more).
func syscallLine(b []byte, ms int64, serial int) []byte {
	r := rand.Uint64()
	return fmt.Appendf(b[:0], "audit(%d.%03d:%d): arch=c000003e syscall=%d success=yes exit=%d a0=%x a1=%x a2=%x a3=0 items=0 ppid=%d pid=%d auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=%d comm=\"load\" exe=\"/tmp/load-bin\" subj=unconfined key=\"bench\"",
		ms/1000, ms%1000, serial, r%300, r%5000, rand.Uint64()>>(r%48), r>>20&0xffffff, r%4096, 1000+r%3000, 1000+r>>8%30000, r%20)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestForwardFigures measures the forwarder (FORWARD_FIGURES=1 only):
// throughput and CPU on a backlog of syscall records, bytes sent per
// record, and the ack latency p99 at 20,000 records/s.
func TestForwardFigures(t *testing.T) {
	if os.Getenv("FORWARD_FIGURES") == "" {
		t.Skip("figures: set FORWARD_FIGURES=1")
	}
	srv := audittest.StartNATS(t)
	dir := filepath.Join(t.TempDir(), "log")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 1. Backlog: 1M records written first, then forwarded as fast as it goes.
	const n = 1_000_000
	var b []byte
	now := time.Now().UnixMilli()
	for i := range n {
		b = syscallLine(b, now, i+1)
		if err := w.Append(1300, b); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	fw := newForwarder(t, srv, dir, "bench", t.Logf)
	cpu0, t0 := cpuTime(), time.Now()
	r := run(fw.Run)
	waitFor(t, 120*time.Second, "the backlog forwarded", func() bool { return fw.Stats().Records >= n })
	el, cpu := time.Since(t0), cpuTime()-cpu0
	st := fw.Stats()
	t.Logf("backlog: %d records in %v: %.0f records/s, forwarder CPU %v (%.1f%% of one CPU, %.2f µs/record), %d bytes sent: %.1f bytes/record, %d frames, %.0f records/frame",
		n, el.Round(time.Millisecond), float64(n)/el.Seconds(), cpu.Round(time.Millisecond), 100*cpu.Seconds()/el.Seconds(),
		float64(cpu.Microseconds())/n, st.BytesSent, float64(st.BytesSent)/n, st.Cursor.Frames, float64(n)/float64(st.Cursor.Frames))
	// 2. Live: 20,000 records/s for 10 s, latency from the record's stamp
	// to the server's ack of its frame.
	tick := time.NewTicker(10 * time.Millisecond)
	serial := n
	cpu0, t0 = cpuTime(), time.Now()
	for time.Since(t0) < 10*time.Second {
		<-tick.C
		ms := time.Now().UnixMilli()
		for range 200 {
			serial++
			b = syscallLine(b, ms, serial)
			w.Append(1300, b)
		}
		w.Tick(time.Now())
	}
	tick.Stop()
	w.Flush()
	waitFor(t, 30*time.Second, "the live records forwarded", func() bool { return fw.Stats().Records >= uint64(serial) })
	el, cpu = time.Since(t0), cpuTime()-cpu0
	q := fw.LatencyQuantiles(0.5, 0.99, 1)
	t.Logf("live 20k/s: ack latency (oldest record's stamp to ack, last %d batches) p50 %v p99 %v max %v; process CPU (writer, forwarder, generator) %.1f%% of one CPU",
		len(fw.Latencies()), q[0], q[1], q[2], 100*cpu.Seconds()/el.Seconds())
	r.stop()
	w.Close()
	_ = context.Background
}
