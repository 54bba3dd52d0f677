package config

import (
	"reflect"
	"testing"
	"time"
)

func TestValueCoversEveryKey(t *testing.T) {
	for _, k := range Keys() {
		if _, ok := valueTable[k]; !ok {
			t.Errorf("key %q has no entry in valueTable (value.go)", k)
		}
	}
	for k := range valueTable {
		if _, ok := keyTable[k]; !ok {
			t.Errorf("valueTable has %q, which is not a key", k)
		}
	}
	if v := Default().Value("no_such_key"); v != "" {
		t.Errorf("Value of an unknown key = %q", v)
	}
}

// TestValueRoundTrips sets every key of a configuration to its own Value,
// for the defaults and for a configuration with every field changed.
func TestValueRoundTrips(t *testing.T) {
	changed := Config{
		LogDir: "/srv/audit", LogGroup: "adm", Compression: "none", CompressionLevel: "better",
		MaxLogFile: 7, BatchBytes: 3<<20 + 5, FlushInterval: 1500 * time.Microsecond, FsyncInterval: 0,
		Writers: 3, WriteEOE: true, NameFormat: "user", Name: "node1", MaxProcs: 2, Mode: "multicast",
		RingSize: 1 << 30, RcvBuf: 96 << 10, Enabled: -1, BacklogLimit: 0, BacklogWaitTime: 60000,
		RateLimit: 0, Failure: 0, AllowPanic: true, Rules: "/etc/audit/audit.rules", RulesDir: "/tmp/rules.d",
		OverflowAction: "drop", HighWater: 90, KeepTypes: "LOGIN", KeepKeys: "a,b",
		KernelBackpressure: "drop", RestoreKernelSettings: true, RateLimits: "key=x rate=5",
		RateLimitDefault: "rate=100", MetricsListen: "127.0.0.1:9947", ControlSocket: "/run/x.sock",
		Flush: "data", Freq: 7, MaxLogFileAction: "keep_logs", NumLogs: 9, MaxTotalLogSize: 5 << 30,
		RotateInterval: time.Hour, SpaceLeft: "10%", SpaceLeftAction: "exec /bin/true", AdminSpaceLeft: "25",
		AdminSpaceLeftAction: "halt", DiskFullAction: "rotate", DiskErrorAction: "ignore", AllowSystemActions: true,
	}
	for _, want := range []Config{Default(), changed} {
		var got Config
		for _, k := range Keys() {
			if err := got.Set(k, want.Value(k)); err != nil {
				t.Fatalf("Set(%q, %q): %v", k, want.Value(k), err)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
	// Every field of changed differs from the default, so that a key whose
	// Value reads the wrong field cannot pass.
	d, c := reflect.ValueOf(Default()), reflect.ValueOf(changed)
	for i := range d.NumField() {
		if reflect.DeepEqual(d.Field(i).Interface(), c.Field(i).Interface()) {
			t.Errorf("test config leaves %s at its default", d.Type().Field(i).Name)
		}
	}
}

func TestFormatSize(t *testing.T) {
	f := func(n int64, want string) {
		t.Helper()
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := ParseSize(want); err != nil || back != n {
			t.Errorf("ParseSize(%q) = %d, %v", want, back, err)
		}
	}
	f(0, "0")
	f(1000, "1000")
	f(4096, "4K")
	f(1<<20, "1M")
	f(3<<30, "3G")
	f(1<<20+1, "1048577")
}
