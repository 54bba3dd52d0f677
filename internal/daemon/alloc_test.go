package daemon

import (
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/ring"
	"github.com/auditdrain/auditdrain/internal/tally"
	"github.com/auditdrain/auditdrain/writer"
)

// appendDaemon returns a Daemon with what its per-record path uses (ring,
// pipeline, top's counter, plugins with none configured, a real writer in
// a temporary directory) and no kernel.
func appendDaemon(tb testing.TB) *Daemon {
	tb.Helper()
	d := &Daemon{cfg: config.Default()}
	d.cfg.PluginDir = tb.TempDir()
	var err error
	if d.ring, err = ring.New(1 << 20); err != nil {
		tb.Fatal(err)
	}
	if d.pipe, err = pipeline.New(d.ring, pipeline.Options{}); err != nil {
		tb.Fatal(err)
	}
	d.tally = tally.New(time.Now())
	if err := d.newPlugins(); err != nil {
		tb.Fatal(err)
	}
	if d.w, err = writer.Open(writer.Config{Dir: tb.TempDir(), LogGroup: -1, FsyncInterval: time.Second}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.w.Close() })
	return d
}

var appendRecords = [][]byte{
	[]byte(`audit(1732564000.123:4567): arch=c000003e syscall=110 success=yes exit=4242 a0=0 a1=0 a2=0 a3=0 items=0 ppid=4242 pid=4243 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="load" exe="/usr/local/bin/load" subj=unconfined key="bench"`),
	[]byte(`audit(1732564000.123:4567): proctitle=6C6F6164`),
	[]byte(`audit(1732564000.123:4567): item=0 name="/usr/local/bin/load" inode=4242 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`),
}

// Types the default pipeline writes (not EOE, which auditd does not log:
// testing.AllocsPerRun rounds down, so every call must reach the writer).
var appendTypes = []uint16{1300, 1327, 1302}

// The drain's per-record path (Daemon.append: ring position, top's count,
// filter, plugins, writer) allocates nothing. Taking the address of the
// writer's error in it once moved that variable to the heap for every
// record.
func TestAppendAllocatesNothing(t *testing.T) {
	d := appendDaemon(t)
	i, written := 0, 0
	d.opts.BeforeAppend = func() { written++ }
	allocs := testing.AllocsPerRun(20000, func() {
		d.append(appendTypes[i%3], appendRecords[i%3])
		i++
	})
	if written != i {
		t.Fatalf("%d of %d records reached the writer; the test needs them all", written, i)
	}
	if allocs != 0 {
		t.Fatalf("Daemon.append: %v allocations per record, want 0", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	d := appendDaemon(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.append(appendTypes[i%3], appendRecords[i%3])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}
