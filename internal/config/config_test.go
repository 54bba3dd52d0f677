package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/ratelimit"
	"github.com/auditdrain/auditdrain/reader"
	"github.com/auditdrain/auditdrain/writer"
)

// TestMain makes the test's own files trusted, so that the tests run
// without root; TestCheckTrusted changes trustedUID to test other owners.
func TestMain(m *testing.M) {
	trustedUID = os.Getuid()
	os.Exit(m.Run())
}

// writeFile writes a file in a new temporary directory with mode perm
// (chmod'ed, whatever the umask).
func writeFile(t *testing.T, name, text string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// program writes a trusted executable and returns its path.
func program(t *testing.T) string {
	t.Helper()
	return writeFile(t, "action.sh", "#!/bin/sh\n", 0o755)
}

func TestDefaultsAreCanonical(t *testing.T) {
	d := Default()
	for _, k := range keyTable {
		if got := d.Value(k.name); got != k.def {
			t.Errorf("%s: default %q reads back as %q", k.name, k.def, got)
		}
		if k.doc == "" {
			t.Errorf("%s: no documentation", k.name)
		}
	}
	if len(keyByName) != len(keyTable) {
		t.Errorf("%d rows, %d names: a key is declared twice", len(keyTable), len(keyByName))
	}
}

func TestDefaultsTyped(t *testing.T) {
	d := Default()
	if d.Mode != reader.ModeUnicast || d.Flush != FlushInterval || d.Compression != CompressionZstd ||
		d.CompressionLevel != LevelFastest || d.OverflowAction != OverflowBlock || d.KernelBackpressure != BackpressureLeave ||
		d.NameFormat != NameNone {
		t.Errorf("enums: %+v", d)
	}
	if d.MaxLogFileAction != (writer.Action{Kind: writer.ActionRotate}) || d.SpaceLeftAction != (writer.Action{Kind: writer.ActionSyslog}) ||
		d.AdminSpaceLeftAction != (writer.Action{Kind: writer.ActionSuspend}) || d.DiskFullAction != (writer.Action{Kind: writer.ActionSuspend}) ||
		d.DiskErrorAction != (writer.Action{Kind: writer.ActionSyslog}) {
		t.Errorf("actions: %+v", d)
	}
	if d.SpaceLeft != (writer.Threshold{Bytes: 75 << 20}) || d.AdminSpaceLeft != (writer.Threshold{Bytes: 50 << 20}) {
		t.Errorf("thresholds %+v %+v", d.SpaceLeft, d.AdminSpaceLeft)
	}
	// CONFIG_CHANGE 1305, USER_AUTH 1100, DAEMON_ERR 1209 (go-libaudit's numbers).
	if len(d.KeepTypes) != 13 || d.KeepTypes[0] != 1305 || d.KeepTypes[1] != 1100 || d.KeepTypes[12] != 1209 {
		t.Errorf("keep_types %v", d.KeepTypes)
	}
	if d.KeepKeys != nil || d.Limits.Rules != nil || d.Limits.Default != nil {
		t.Errorf("keep_keys %v, ratelimit %+v", d.KeepKeys, d.Limits)
	}
	d.RulesDir = "" // the machine's /etc/audit/rules.d is not the test's
	if err := d.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestParse(t *testing.T) {
	prog := program(t)
	in := `# a comment
log_dir = /tmp/x
compression=none
  fsync_interval = 250ms
ring_size = 8M
allow_panic = yes
failure = 2
MODE = Multicast
flush = DATA
space_left = 10%
disk_full_action = exec ` + prog + `
max_log_file_action = KEEP_LOGS
keep_types = login, user_auth,LOGIN, 1006,1329
keep_keys = a, b
ratelimit = key=noisy rate=5; key=x rate=0.5 burst=3
ratelimit_default = rate=100
high_water = 90
kernel_backpressure = wait
`
	c := Default()
	if err := c.Parse("t.conf", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.LogDir, want.Compression, want.FsyncInterval, want.RingSize = "/tmp/x", CompressionNone, 250*time.Millisecond, 8<<20
	want.AllowPanic, want.Failure, want.Mode, want.Flush = true, 2, reader.ModeMulticast, FlushData
	want.SpaceLeft = writer.Threshold{Percent: 10}
	want.DiskFullAction = writer.Action{Kind: writer.ActionExec, Path: prog}
	want.MaxLogFileAction = writer.Action{Kind: writer.ActionKeepLogs}
	want.KeepTypes = []uint16{1006, 1100, 1329} // LOGIN, USER_AUTH, a number go-libaudit has no name for; repeats once
	want.KeepKeys = []string{"a", "b"}
	want.Limits = ratelimit.Config{
		Rules:   []ratelimit.Rule{{Key: "noisy", Rate: 5, Burst: 5}, {Key: "x", Rate: 0.5, Burst: 3}},
		Default: &ratelimit.Rule{Key: defaultRuleKey, Rate: 100, Burst: 100},
	}
	want.HighWater, want.KernelBackpressure = 90, BackpressureWait
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// alwaysValid lists the keys whose parser accepts any text; every other key
// needs a case in TestKeyErrors.
var alwaysValid = map[string]bool{
	"log_dir": true, "log_group": true, "rules_dir": true, "plugin_dir": true, "control_socket": true, "metrics_listen": true,
	"forward_user": true, "forward_password": true, "forward_token": true, "forward_tls_ca": true, "forward_tls_cert": true,
}

// TestKeyErrors gives every key that can refuse a value a value it refuses,
// and checks that the error names the file, the line and the key, once.
func TestKeyErrors(t *testing.T) {
	writable := writeFile(t, "writable", "#!/bin/sh\n", 0o757)
	cases := []struct{ key, value, want string }{
		{"compression", "lz4", "want one of zstd, none"},
		{"log_format", "json", "want one of raw, enriched"},
		{"compression_level", "max", "want one of fastest, default, better"},
		{"max_log_file", "0", "out of range [1, 1048576]"},
		{"max_log_file", "big", "not an integer"},
		{"batch_size", "1", "out of range"},
		{"batch_size", "1X", "not a size"},
		{"flush_interval", "0s", "below the minimum 1ms"},
		{"fsync_interval", "1", "not a duration"},
		{"fsync_interval", "-1s", "below the minimum 0s"},
		{"flush", "always", "want one of none, interval, incremental, incremental_async, data, sync"},
		{"freq", "0", "out of range"},
		{"max_log_file_action", "exec /bin/true", "want one of rotate, keep_logs, ignore, syslog, suspend"},
		{"max_log_file_action", "email", "want one of"},
		{"num_logs", "-1", "out of range"},
		{"max_total_log_size", "-5", "not a size"},
		{"rotate_interval", "hourly", "not a duration"},
		{"space_left", "ten", "want MiB (e.g. 75) or a percentage"},
		{"space_left", "101%", "want MiB"},
		{"space_left_action", "keep_logs", "want one of ignore, syslog, rotate, suspend, exec /path, single, halt"},
		{"space_left_action", "exec bin/x", "exec needs an absolute program path"},
		{"space_left_action", "exec /nonexistent/prog", "no such file or directory"},
		{"space_left_action", "exec " + writable, "untrusted file: " + writable + " is owned by uid"},
		{"admin_space_left", "-1", "want MiB"},
		{"admin_space_left_action", "email", "want one of"},
		{"disk_full_action", "exec", "exec needs an absolute program path"},
		{"disk_error_action", "rotate", "want one of ignore, syslog, suspend, exec /path, single, halt"},
		{"allow_system_actions", "maybe", "want yes or no"},
		{"writers", "65", "out of range [0, 64]"},
		{"write_eoe", "2", "want yes or no"},
		{"name_format", "fqd", "want one of none, hostname, user"},
		{"name", "my host", "contains white space"},
		{"max_procs", "-1", "out of range"},
		{"mode", "broadcast", "want one of unicast, multicast"},
		{"ring_size", "2G", "out of range"},
		{"rcvbuf", "1K", "out of range"},
		{"read_pace", "-1ms", "below the minimum 0s"},
		{"enabled", "2", "out of range [-1, 1]"},
		{"backlog_limit", "-2", "out of range"},
		{"backlog_wait_time", "600001", "out of range"},
		{"rate_limit", "x", "not an integer"},
		{"failure", "3", "out of range [-1, 2]"},
		{"allow_panic", "si", "want yes or no"},
		{"rules", "/nonexistent/audit.rules", "no such file or directory"},
		{"rules", writable, "untrusted file"},
		{"overflow_action", "spill", "want one of block, drop"},
		{"high_water", "0", "out of range [1, 100]"},
		{"q_depth", "0", "out of range"},
		{"max_restarts", "-1", "out of range"},
		{"plugin_overflow_action", "single", "want one of syslog, ignore, suspend"},
		{"keep_types", "LOGIN,LOGON", `unknown record type "LOGON"`},
		{"keep_types", "70000", `unknown record type "70000"`},
		{"keep_keys", "a,b\x01c", "contains NUL or 0x01"},
		{"kernel_backpressure", "maybe", "want one of wait, drop, leave"},
		{"restore_kernel_settings", "always", "want yes or no"},
		{"ratelimit", "key=a rate=0", "rate 0 is not above 0"},
		{"ratelimit", "key=a rate=1; key=a rate=2", `key "a" in rules`},
		{"ratelimit", "noisy 10", "is not name=value"},
		{"ratelimit_default", "rate=fast", `rate "fast" is not a number`},
		{"ratelimit_default", "burst=3", "no rate= field"},
		{"forward_url", "http://collector:4222", "want nats://HOST:PORT"},
		{"forward_subject", "audit.*", "wildcards"},
		{"forward_stream", "AUDIT.X", "or dots"},
		{"forward_payload", "json", "want one of frame"},
		{"forward_replicas", "0", "out of range"},
		{"forward_nkey_seed", writable, "untrusted file"},
		{"forward_creds", "/nonexistent/x.creds", "no such file or directory"},
		{"forward_tls_key", writable, "untrusted file"},
		{"forward_insecure", "sure", "want yes or no"},
		{"low_rate_hold", "11s", "above the maximum 10s"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.key] = true
		in := "# first line\n" + tc.key + " = " + tc.value + "\n"
		c := Default()
		err := c.Parse("bad.conf", strings.NewReader(in))
		if err == nil {
			t.Errorf("%s = %q: accepted", tc.key, tc.value)
			continue
		}
		msg := err.Error()
		prefix := "config: bad.conf:2: key " + tc.key + " = "
		if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s = %q:\n got %v\nwant %q...%q", tc.key, tc.value, msg, prefix, tc.want)
		}
		if n := strings.Count(msg, "config:"); n != 1 {
			t.Errorf("%s = %q: %d config: prefixes in %q", tc.key, tc.value, n, msg)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%s = %q: a refused value changed the config", tc.key, tc.value)
		}
	}
	for _, k := range keyTable {
		if !covered[k.name] && !alwaysValid[k.name] {
			t.Errorf("key %s has no refused value in TestKeyErrors", k.name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		c := Default()
		err := c.Parse("bad.conf", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "config:") != 1 {
			t.Fatalf("Parse(%q) = %v, want one error containing %q", in, err, want)
		}
	}
	f("bogus_key = 1\n", `config: bad.conf:1: unknown key "bogus_key" (known keys: `)
	f("\n\nlog_dir\n", `config: bad.conf:3: "log_dir": expected`)
	f("log_dir = /a\nlog_dir = /b\n", `config: bad.conf:2: key "log_dir" already set on line 1`)
	f("log_dir = /a\nLOG_DIR = /b\n", `config: bad.conf:2: key "log_dir" already set on line 1`)
	c := Default()
	if err := c.Parse("x", strings.NewReader("nope = 1")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
}

func TestSetPair(t *testing.T) {
	c := Default()
	if err := c.SetPair("mode = multicast"); err != nil || c.Mode != reader.ModeMulticast {
		t.Fatalf("--set mode=multicast: %v, %v", err, c.Mode)
	}
	for kv, want := range map[string]string{
		"mode":         `config: --set "mode": expected key=value`,
		"mode=any":     `config: --set: key mode = "any": want one of unicast, multicast`,
		"nokey=1":      `config: --set: unknown key "nokey"`,
		"high_water=0": `config: --set: key high_water = "0": out of range`,
	} {
		if err := c.SetPair(kv); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("--set %s: %v, want %s", kv, err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	prog := program(t)
	writableRules := writeFile(t, "audit.rules", "-D\n", 0o666)
	badDir := filepath.Dir(writeFile(t, "10-x.rules", "-D\n", 0o646))
	goodDir := filepath.Dir(writeFile(t, "10-x.rules", "-D\n", 0o644))
	os.WriteFile(filepath.Join(goodDir, "notes.txt"), nil, 0o666) // not a rules file: not read
	os.Chmod(filepath.Join(goodDir, "notes.txt"), 0o666)
	// A dangling link rulesd skips must not hide the writable file beside it.
	os.Symlink(filepath.Join(badDir, "none"), filepath.Join(badDir, "05-dangling.rules"))
	writableDir := t.TempDir()
	os.Chmod(writableDir, 0o777)
	cases := []struct {
		name string
		set  func(c *Config)
		want string // "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"panic without allow_panic", func(c *Config) { c.Failure = 2 }, "allow_panic = yes"},
		{"panic allowed", func(c *Config) { c.Failure, c.AllowPanic = 2, true }, ""},
		{"user name missing", func(c *Config) { c.NameFormat = NameUser }, "name_format = user needs name"},
		{"no log dir", func(c *Config) { c.LogDir = "" }, "log_dir is empty"},
		{"halt without allow_system_actions", func(c *Config) { c.DiskFullAction = writer.Action{Kind: writer.ActionHalt} },
			"config: disk_full_action = halt changes the system's run level"},
		{"halt allowed", func(c *Config) {
			c.DiskFullAction, c.AllowSystemActions = writer.Action{Kind: writer.ActionHalt}, true
		}, ""},
		{"exec trusted", func(c *Config) { c.SpaceLeftAction = writer.Action{Kind: writer.ActionExec, Path: prog} }, ""},
		{"exec made writable after parsing", func(c *Config) {
			c.SpaceLeftAction = writer.Action{Kind: writer.ActionExec, Path: writableRules}
		}, "config: space_left_action = exec " + writableRules + ": untrusted file"},
		{"rules file writable", func(c *Config) { c.Rules = writableRules }, "config: rules: untrusted file: " + writableRules},
		{"rules_dir with a writable file", func(c *Config) { c.RulesDir = badDir }, "config: rules_dir: untrusted file: " + filepath.Join(badDir, "10-x.rules")},
		{"rules_dir writable", func(c *Config) { c.RulesDir = writableDir }, "config: rules_dir: untrusted file: " + writableDir + " is owned by uid"},
		{"rules_dir not a directory", func(c *Config) { c.RulesDir = prog }, "is not a directory"},
		{"rules_dir unused in multicast", func(c *Config) { c.RulesDir, c.Mode = badDir, reader.ModeMulticast }, ""},
		{"rules_dir unused with rules", func(c *Config) { c.RulesDir, c.Rules = badDir, filepath.Join(goodDir, "10-x.rules") }, ""},
		{"rules_dir trusted", func(c *Config) { c.RulesDir = goodDir }, ""},
		{"rules_dir missing", func(c *Config) { c.RulesDir = filepath.Join(goodDir, "none") }, ""},
		{"log_group unknown", func(c *Config) { c.LogGroup = "no-such-group-auditdrain" }, "config: log_group = no-such-group-auditdrain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.RulesDir = "" // not the machine's
			tc.set(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case err != nil && strings.Count(err.Error(), "config:") != 1:
				t.Fatalf("doubled prefix: %v", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("/nonexistent/auditdrain.conf", true); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("/nonexistent/auditdrain.conf", false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing explicit config file: %v", err)
	}
	good := writeFile(t, "a.conf", "log_dir = /srv/audit\n", 0o644)
	if c, err := Load(good, false); err != nil || c.LogDir != "/srv/audit" {
		t.Fatalf("Load: %+v, %v", c, err)
	}
	if c, err := Load("/dev/null", false); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(/dev/null): %v", err)
	}
	for _, perm := range []os.FileMode{0o666, 0o620, 0o602} {
		p := writeFile(t, "a.conf", "space_left_action = exec /tmp/evil\n", perm)
		_, err := Load(p, true)
		if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), p) || !strings.HasPrefix(err.Error(), "config: untrusted file: ") {
			t.Errorf("Load of a %04o config: %v", perm, err)
		}
	}
	link := filepath.Join(t.TempDir(), "link.conf")
	if err := os.Symlink(writeFile(t, "a.conf", "", 0o666), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link, false); !errors.Is(err, ErrUntrusted) {
		t.Errorf("Load through a symlink to a writable file: %v", err)
	}
	p := writeFile(t, "a.conf", "\nfreq = 0\n", 0o600)
	if _, err := Load(p, false); err == nil || !strings.HasPrefix(err.Error(), "config: "+p+":2: key freq = \"0\": out of range") {
		t.Errorf("Load of a bad value: %v", err)
	}
}

func TestCheckTrusted(t *testing.T) {
	good := writeFile(t, "good", "", 0o755)
	dir := t.TempDir()
	linkToWritable := filepath.Join(dir, "link")
	if err := os.Symlink(writeFile(t, "w", "", 0o666), linkToWritable); err != nil {
		t.Fatal(err)
	}
	linkToGood := filepath.Join(dir, "goodlink")
	if err := os.Symlink(good, linkToGood); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		uid        int
		want       string // "" = trusted
	}{
		{"good file", good, os.Getuid(), ""},
		{"symlink to a good file", linkToGood, os.Getuid(), ""},
		{"owned by another uid", good, os.Getuid() + 1, "is owned by uid"},
		{"mode 0666", writeFile(t, "f", "", 0o666), os.Getuid(), "with mode 0666"},
		{"mode 0620", writeFile(t, "f", "", 0o620), os.Getuid(), "with mode 0620"},
		{"mode 0602", writeFile(t, "f", "", 0o602), os.Getuid(), "with mode 0602"},
		{"read-only for all", writeFile(t, "f", "", 0o444), os.Getuid(), ""},
		{"symlink to a writable file", linkToWritable, os.Getuid(), "with mode 0666"},
		{"directory", dir, os.Getuid(), "is not a regular file"},
		{"missing", filepath.Join(dir, "none"), os.Getuid(), "no such file"},
		{"null device", "/dev/null", 0, "is not a regular file"},
	}
	defer func(uid int) { trustedUID = uid }(trustedUID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			trustedUID = tc.uid
			err := CheckTrusted(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("CheckTrusted(%s) = %v, want an error naming it and %q", tc.path, err, tc.want)
			}
		})
	}
	// The message names the owner and the mode.
	trustedUID = os.Getuid() + 1
	err := CheckTrusted(good)
	want := "untrusted file: " + good + " is owned by uid " + strconv.Itoa(os.Getuid()) + " with mode 0755; it must be owned by uid " + strconv.Itoa(os.Getuid()+1)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v\nwant %s...", err, want)
	}
}

func TestWriterConfig(t *testing.T) {
	prog := program(t)
	c := Default()
	for _, kv := range []string{"log_dir=/srv/a", "compression=none", "compression_level=better", "max_log_file=8",
		"batch_size=256K", "flush=incremental_async", "freq=20", "num_logs=5", "max_total_log_size=1G",
		"rotate_interval=1h", "space_left=10%", "disk_error_action=exec " + prog, "writers=3",
		"name_format=user", "name=node7", "log_group=0", "allow_system_actions=yes", "admin_space_left_action=single"} {
		if err := c.SetPair(kv); err != nil {
			t.Fatal(err)
		}
	}
	var events int
	wc, err := c.Writer(func(writer.Event) { events++ })
	if err != nil {
		t.Fatal(err)
	}
	wc.Notify(writer.Event{})
	if events != 1 {
		t.Error("Notify is not the function given")
	}
	wc.Notify = nil
	want := writer.Config{
		Dir: "/srv/a", Compression: "none", Level: "better", BatchBytes: 256 << 10, FlushInterval: 100 * time.Millisecond, LowRateHold: 2 * time.Second,
		Flush: writer.FlushIncrementalAsync, Freq: 20, FsyncInterval: time.Second, MaxSegmentBytes: 8 << 20,
		MaxLogFileAction: writer.Action{Kind: writer.ActionRotate}, RotateInterval: time.Hour, NumLogs: 5, MaxTotalBytes: 1 << 30,
		SpaceLeft: writer.Threshold{Percent: 10}, SpaceLeftAction: writer.Action{Kind: writer.ActionSyslog},
		AdminSpaceLeft: writer.Threshold{Bytes: 50 << 20}, AdminSpaceLeftAction: writer.Action{Kind: writer.ActionSingle},
		DiskFullAction: writer.Action{Kind: writer.ActionSuspend}, DiskErrorAction: writer.Action{Kind: writer.ActionExec, Path: prog},
		AllowSystemActions: true, Workers: 3, LogGroup: -1, Node: "node7", Format: writer.FormatRaw,
	}
	if !reflect.DeepEqual(wc, want) {
		t.Errorf("got\n%+v\nwant\n%+v", wc, want)
	}
	c.LogGroup = "4"
	if wc, _ := c.Writer(nil); wc.LogGroup != 4 {
		t.Errorf("log_group 4: gid %d", wc.LogGroup)
	}
	c.NameFormat = NameHostname
	h, _ := os.Hostname()
	if wc, err := c.Writer(nil); err != nil || wc.Node == "" || !strings.HasPrefix(h, wc.Node) || strings.Contains(wc.Node, ".") {
		t.Errorf("name_format = hostname: node %q for host %q, %v", wc.Node, h, err)
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
	for _, bad := range []string{"", "K", "-1", "1T", "9999999999999G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
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

// TestValueRoundTrips sets every key of a configuration to its own Value,
// for the defaults and for a configuration with every field changed.
func TestValueRoundTrips(t *testing.T) {
	prog := program(t)
	changed := Config{
		LogDir: "/srv/audit", LogGroup: "adm", LogFormat: LogFormatEnriched, Compression: CompressionNone, CompressionLevel: LevelBetter,
		MaxLogFile: 7, BatchBytes: 3<<20 + 5, FlushInterval: 1500 * time.Microsecond, FsyncInterval: 0,
		Writers: 3, WriteEOE: true, NameFormat: NameUser, Name: "node1", MaxProcs: 2, Mode: reader.ModeMulticast,
		RingSize: 1 << 30, RcvBuf: 96 << 10, Enabled: -1, BacklogLimit: 0, BacklogWaitTime: 60000,
		RateLimit: 0, Failure: 0, AllowPanic: true, Rules: prog, RulesDir: "/tmp/rules.d",
		OverflowAction: OverflowDrop, HighWater: 90, KeepTypes: []uint16{1006, 1305, 1329}, KeepKeys: []string{"a", "b"},
		KernelBackpressure: BackpressureDrop, RestoreKernelSettings: true,
		Limits: ratelimit.Config{
			Rules:   []ratelimit.Rule{{Key: "x", Rate: 5, Burst: 7}, {Key: "y", Rate: 0.25, Burst: 1}},
			Default: &ratelimit.Rule{Key: defaultRuleKey, Rate: 100, Burst: 150},
		},
		MetricsListen: "127.0.0.1:9947", ControlSocket: "/run/x.sock",
		PluginDir: "/srv/plugins.d", QueueDepth: 17, MaxRestarts: 3, PluginOverflow: PluginOverflowSuspend,
		Flush: FlushData, Freq: 7, MaxLogFileAction: writer.Action{Kind: writer.ActionKeepLogs}, NumLogs: 9, MaxTotalLogSize: 5 << 30,
		RotateInterval: time.Hour, SpaceLeft: writer.Threshold{Percent: 2.5}, SpaceLeftAction: writer.Action{Kind: writer.ActionExec, Path: prog},
		AdminSpaceLeft: writer.Threshold{Bytes: 25 << 20}, AdminSpaceLeftAction: writer.Action{Kind: writer.ActionHalt},
		DiskFullAction: writer.Action{Kind: writer.ActionRotate}, DiskErrorAction: writer.Action{Kind: writer.ActionIgnore}, AllowSystemActions: true,
		Forward: Forward{URL: "tls://collector.example:4222", Subject: "audit.fleet", Stream: "FLEET", Payload: "frame", Replicas: 3,
			User: "u", Password: "p", Token: "t", NKeySeed: prog, Creds: prog, TLSCA: "/etc/ca.pem", TLSCert: "/etc/c.pem", TLSKey: prog, Insecure: true},
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
	if v := Default().Value("no_such_key"); v != "" {
		t.Errorf("Value of an unknown key = %q", v)
	}
	if Doc("no_such_key") != "" || Doc("log_dir") == "" {
		t.Error("Doc")
	}
}
