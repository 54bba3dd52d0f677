package bench

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

// buildAuditdrain builds the auditdrain command into a temporary directory,
// or skips the test when it does not build (yet).
func buildAuditdrain(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auditdrain")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/auditdrain")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("skipping: the auditdrain command does not build: %v\n%s", err, out)
	}
	return bin
}

// TestIntegrationCountsAreConsistent runs a short real sweep, two low rates
// for auditdrain, its discard mode and no reader, and checks the accounting, not the
// speed: every event the load caused is on disk at these rates, nothing is
// lost, and the kernel is left as it was found.
func TestIntegrationCountsAreConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: a real sweep against the kernel takes about 15 s")
	}
	k := audittest.Kernel(t)
	bin := buildAuditdrain(t)
	before, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	if before.PID != 0 {
		t.Skipf("skipping: audit daemon pid %d is registered; the bench registers its own readers", before.PID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{
		Readers:  []string{ReaderAuditdrain, ReaderDiscard, ReaderNone},
		Load:     LoadSyscall,
		Rates:    []float64{2000, 5000},
		Duration: time.Second,
		Threads:  1,
		Settings: Settings{BacklogLimit: 8192},
		Bin:      bin,
		WorkDir:  t.TempDir(),
	}
	// audittest.Kernel holds the machine lock already.
	res, err := run(ctx, o, func() (func(), error) { return func() {}, nil })
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(res.Steps) != 6 {
		t.Fatalf("%d steps, want 6", len(res.Steps))
	}
	for _, s := range res.Steps {
		t.Logf("%+v", s)
		if s.Error != "" {
			t.Errorf("%s at %v: %s", s.Reader, s.OfferedRate, s.Error)
			continue
		}
		if s.Events < int64(0.5*s.OfferedRate) || s.AchievedRate > 1.05*s.OfferedRate {
			t.Errorf("%s at %v: %d events in %.2fs", s.Reader, s.OfferedRate, s.Events, s.Seconds)
		}
		switch s.Reader {
		case ReaderAuditdrain:
			if !s.Counted || s.OnDisk != s.Events || s.Loss != 0 || s.KernelLost != 0 || !s.Clean() {
				t.Errorf("auditdrain at %v: %d events caused, %d on disk, loss %d, kernel lost %d",
					s.OfferedRate, s.Events, s.OnDisk, s.Loss, s.KernelLost)
			}
			// Each getppid event is SYSCALL, PROCTITLE and EOE; EOE is
			// not written.
			if s.Records < 2*s.Events || s.BytesOnDisk <= 0 || s.PeakRSS <= 0 {
				t.Errorf("auditdrain at %v: %d records, %d bytes, peak RSS %d", s.OfferedRate, s.Records, s.BytesOnDisk, s.PeakRSS)
			}
		case ReaderDiscard:
			// Estimated from the records read: 3 per event.
			if !s.Counted || !s.Estimated || s.OnDisk != s.Events || s.KernelLost != 0 || s.Records < 3*s.Events {
				t.Errorf("discard at %v: %d events caused, ~%d delivered, %d records read, kernel lost %d",
					s.OfferedRate, s.Events, s.OnDisk, s.Records, s.KernelLost)
			}
		case ReaderNone:
			if s.Counted || s.Records != 0 {
				t.Errorf("none at %v: counted %v, %d records", s.OfferedRate, s.Counted, s.Records)
			}
		}
	}
	if len(res.Knees) != 2 || !res.Knees[0].Found || res.Knees[0].Exceeded || !res.Knees[1].Found || res.Knees[1].Exceeded {
		t.Errorf("knees = %+v, want auditdrain's and discard's, never exceeded", res.Knees)
	}

	// The kernel is as the bench found it.
	after, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Enabled != before.Enabled || after.BacklogLimit != before.BacklogLimit ||
		after.RateLimit != before.RateLimit || after.BacklogWaitTime != before.BacklogWaitTime || after.PID != 0 {
		t.Errorf("status not restored: before %+v, after %+v", before, after)
	}
	rules, err := k.Conn().Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for _, key := range auditctl.RuleKeys(r) {
			if strings.HasPrefix(key, "adbench_") {
				t.Errorf("rule with key %q left behind", key)
			}
		}
	}
}

// TestIntegrationKernelBusy checks that the bench does not run over another
// audit daemon.
func TestIntegrationKernelBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: waits for the machine-wide audit lock")
	}
	k := audittest.Kernel(t)
	st, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	kern, err := openKernel()
	if st.PID != 0 {
		if !errors.Is(err, ErrKernelBusy) {
			t.Fatalf("pid %d registered: openKernel = %v, want ErrKernelBusy", st.PID, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	kern.close()
}
