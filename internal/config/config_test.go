package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	in := `# a comment
log_dir = /tmp/x
compression=none
  fsync_interval = 250ms
ring_size = 8M
allow_panic = yes
failure = 2
`
	c := Default()
	if err := c.Parse("t.conf", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if c.LogDir != "/tmp/x" || c.Compression != "none" || c.FsyncInterval != 250*time.Millisecond || c.RingSize != 8<<20 || c.Failure != 2 || !c.AllowPanic {
		t.Fatalf("got %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		c := Default()
		err := c.Parse("bad.conf", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Parse(%q) = %v, want error containing %q", in, err, want)
		}
	}
	f("bogus_key = 1\n", `bad.conf:1: config: unknown key "bogus_key"`)
	f("\n\nlog_dir\n", `bad.conf:3: "log_dir": expected`)
	f("compression = lz4\n", `bad.conf:1: key "compression": value "lz4": want one of zstd, none`)
	f("backlog_limit = lots\n", `not an integer`)
	f("failure = 3\n", `out of range`)
	f("fsync_interval = 1\n", `not a duration`)
	f("ring_size = 1\n", `out of range`)
	f("log_dir = /a\nlog_dir = /b\n", `bad.conf:2: key "log_dir" already set on line 1`)
	c := Default()
	if err := c.Parse("x", strings.NewReader("nope = 1")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
}

func TestValidatePanicNeedsOptIn(t *testing.T) {
	c := Default()
	if err := c.SetPair("failure=2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "allow_panic") {
		t.Fatalf("failure=2 without allow_panic: %v", err)
	}
}

func TestLoadMissingOptional(t *testing.T) {
	if _, err := Load("/nonexistent/auditdrain.conf", true); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("/nonexistent/auditdrain.conf", false); err == nil {
		t.Fatal("missing explicit config file: want error")
	}
}

func TestSizes(t *testing.T) {
	f := func(in string, want int64) {
		t.Helper()
		n, err := ParseSize(in)
		if err != nil || n != want {
			t.Fatalf("ParseSize(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	f("65536", 65536)
	f("64K", 64<<10)
	f("32m", 32<<20)
	f("1G", 1<<30)
}
