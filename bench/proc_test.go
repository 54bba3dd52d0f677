package bench

import (
	"errors"
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	f := func(stat string, want float64, wantErr bool) {
		t.Helper()
		got, err := parseStatCPU([]byte(stat))
		if (err != nil) != wantErr || got != want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v (error %v)", stat, got, err, want, wantErr)
		}
		if err != nil && !errors.Is(err, ErrProcFormat) {
			t.Errorf("error %v does not wrap ErrProcFormat", err)
		}
	}
	// Fields 14 and 15 are 250 and 50 ticks: 3 s.
	f("1234 (auditd) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 16 -4 2 0 100 1000000 300", 3, false)
	f("1234 (a b) (c)) R 1 1234 1234 0 -1 4194560 500 0 0 0 7 3 0 0 20 0 1 0 100 1000000 300", 0.1, false)
	f("1234 (x) S 1 2 3", 0, true)
	f("no parenthesis", 0, true)
	f("1234 (x) S 1 1234 1234 0 -1 4194560 500 0 0 0 abc 3 0 0", 0, true)
}

func TestParsePeakRSS(t *testing.T) {
	f := func(status string, want int64, wantErr bool) {
		t.Helper()
		got, err := parsePeakRSS([]byte(status))
		if (err != nil) != wantErr || got != want {
			t.Errorf("parsePeakRSS(%q) = %v, %v; want %v (error %v)", status, got, err, want, wantErr)
		}
	}
	f("Name:\tauditd\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n", 2048<<10, false)
	f("Name:\tx\n", 0, true)
	f("VmHWM:\t 12 MB\n", 0, true)
	f("VmHWM:\t x kB\n", 0, true)
}

func TestProcUsageSelf(t *testing.T) {
	cpu, rss, err := procUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 || rss < 1<<20 {
		t.Fatalf("own usage: %v s CPU, %d bytes peak RSS", cpu, rss)
	}
	if _, _, err := procUsage(-1); err == nil {
		t.Fatal("procUsage(-1): no error")
	}
}

func TestParseSwitches(t *testing.T) {
	st := []byte("Name:\tauditdrain\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n")
	if n, err := parseSwitches(st); err != nil || n != 127 {
		t.Fatalf("parseSwitches = %d, %v; want 127", n, err)
	}
	if _, err := parseSwitches([]byte("Name:\tx\nvoluntary_ctxt_switches:\t1\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("one counter missing: %v", err)
	}
	if _, err := parseSwitches([]byte("voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n")); !errors.Is(err, ErrProcFormat) {
		t.Fatalf("bad number: %v", err)
	}
	if n, err := contextSwitches(os.Getpid()); err != nil || n <= 0 {
		t.Fatalf("contextSwitches(self) = %d, %v", n, err)
	}
}
