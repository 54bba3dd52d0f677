package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/writer"
)

// debianAuditdConf is Debian's /etc/audit/auditd.conf (auditd 1:3.0.9-1).
const debianAuditdConf = `#
# This file controls the configuration of the audit daemon
#

local_events = yes
write_logs = yes
log_file = /var/log/audit/audit.log
log_group = adm
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 8
num_logs = 5
priority_boost = 4
name_format = NONE
##name = mydomain
max_log_file_action = ROTATE
space_left = 75
space_left_action = SYSLOG
verify_email = yes
action_mail_acct = root
admin_space_left = 50
admin_space_left_action = SUSPEND
disk_full_action = SUSPEND
disk_error_action = SUSPEND
use_libwrap = yes
##tcp_listen_port = 60
tcp_listen_queue = 5
tcp_max_per_addr = 1
##tcp_client_ports = 1024-65535
tcp_client_max_idle = 0
transport = TCP
krb5_principal = auditd
##krb5_key_file = /etc/audit/audit.key
distribute_network = no
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = /etc/audit/plugins.d
end_of_event_timeout = 2
`

// debianIgnored is the warning list for Debian's auditd.conf.
var debianIgnored = []string{
	"priority_boost",
	"verify_email", "action_mail_acct",
	"use_libwrap",
	"tcp_listen_queue", "tcp_max_per_addr", "tcp_client_max_idle", "transport", "krb5_principal",
	"distribute_network", "end_of_event_timeout",
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auditd.conf")
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

func checkDebian(t *testing.T, path string) {
	t.Helper()
	c, ignored, err := ImportAuditdConf(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ignored, debianIgnored) {
		t.Errorf("ignored:\n got %q\nwant %q", ignored, debianIgnored)
	}
	want := Default()
	want.LogDir, want.LogGroup, want.NameFormat, want.MaxLogFile = "/var/log/audit", "adm", NameNone, 8
	want.Flush, want.NumLogs, want.DiskErrorAction = FlushIncrementalAsync, 5, writer.Action{Kind: writer.ActionSuspend}
	want.LogFormat = LogFormatEnriched // auditd's shipped format, kept
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config:\n got %+v\nwant %+v", c, want)
	}
	c.RulesDir = "" // the machine's /etc/audit/rules.d is not the test's
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestImportDebianAuditdConf(t *testing.T) {
	checkDebian(t, writeConf(t, debianAuditdConf))
}

// TestImportInstalledAuditdConf reads the machine's own auditd.conf when it
// is Debian's, unchanged.
func TestImportInstalledAuditdConf(t *testing.T) {
	const path = "/etc/audit/auditd.conf"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	if string(data) != debianAuditdConf {
		t.Skipf("skipping: %s is not Debian's auditd 3.0.9 file as shipped", path)
	}
	checkDebian(t, path)
}

func TestImportAuditdConfMapping(t *testing.T) {
	prog := program(t)
	c, ignored, err := ImportAuditdConf(writeConf(t, `log_file = /srv/audit/x/audit.log
flush = SYNC
name_format = user
name = node7
NAME = node8
log_format=raw
max_log_file_action = KEEP_LOGS
freq = 20
num_logs = 9
freq = 30
space_left_action = EMAIL
disk_full_action = EXEC `+prog+`
admin_space_left = 5%
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogDir != "/srv/audit/x" || c.Flush != FlushSync || c.NameFormat != NameUser || c.Name != "node8" ||
		c.Freq != 30 || c.NumLogs != 9 || c.MaxLogFileAction != (writer.Action{Kind: writer.ActionKeepLogs}) ||
		c.DiskFullAction != (writer.Action{Kind: writer.ActionExec, Path: prog}) || c.AdminSpaceLeft != (writer.Threshold{Percent: 5}) {
		t.Errorf("config %+v", c)
	}
	if got := strings.Join(ignored, " "); got != "space_left_action=EMAIL" {
		t.Errorf("ignored %q, want space_left_action=EMAIL (auditdrain sends no mail)", got)
	}
	_, ignored, err = ImportAuditdConf(writeConf(t, "name_format = fqd\n"))
	if err != nil || strings.Join(ignored, " ") != "name_format=fqd" {
		t.Errorf("name_format = fqd: %q, %v", ignored, err)
	}
}

// TestImportAuditdConfPlugins maps the dispatcher keys: auditd's
// overflow_action is auditdrain's plugin_overflow_action, and the values
// that cannot hold are listed with why.
func TestImportAuditdConfPlugins(t *testing.T) {
	c, ignored, err := ImportAuditdConf(writeConf(t, "plugin_dir = /srv/p.d\nq_depth = 77\nmax_restarts = 2\noverflow_action = SUSPEND\ndisp_qos = lossy\n"))
	if err != nil || len(ignored) != 0 {
		t.Fatalf("ignored %q, %v", ignored, err)
	}
	if c.PluginDir != "/srv/p.d" || c.QueueDepth != 77 || c.MaxRestarts != 2 || c.PluginOverflow != PluginOverflowSuspend || c.OverflowAction != Default().OverflowAction {
		t.Errorf("config %+v", c)
	}
	c, ignored, err = ImportAuditdConf(writeConf(t, "overflow_action = HALT\ndisp_qos = lossless\n"))
	if err != nil || len(ignored) != 2 ||
		!strings.HasPrefix(ignored[0], "overflow_action=HALT (cannot hold") || !strings.HasPrefix(ignored[1], "disp_qos=lossless (cannot hold: the drain never waits") {
		t.Errorf("ignored %q, %v", ignored, err)
	}
	if c.PluginOverflow != PluginOverflowSyslog {
		t.Errorf("overflow_action = HALT: plugin_overflow_action %q, want syslog", c.PluginOverflow)
	}
	f := writeConf(t, "overflow_action = spill\n")
	if _, _, err := ImportAuditdConf(f); err == nil || !strings.Contains(err.Error(), f+":1: key overflow_action = \"spill\": want one of") {
		t.Errorf("overflow_action = spill: %v", err)
	}
}

func TestImportAuditdConfErrors(t *testing.T) {
	writable := writeFile(t, "prog", "#!/bin/sh\n", 0o777)
	f := func(text, want string) {
		t.Helper()
		p := writeConf(t, text)
		_, _, err := ImportAuditdConf(p)
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+p+":"+want) || strings.Count(err.Error(), "config:") != 1 {
			t.Errorf("ImportAuditdConf(%q) = %v, want an error starting %q", text, err, "config: "+p+":"+want)
		}
	}
	f("# ok\nlocal_events = yes\nthis is garbage\n", `3: "this is garbage": expected`)
	f("bogus_key = 1\n", `1: unknown key "bogus_key": not an auditd.conf key`)
	f("log_dir = /var/log\n", `1: unknown key "log_dir"`) // an auditdrain key, not an auditd one
	f("local_events = no\n", `1: key local_events = "no": no is not supported`)
	f("write_logs = no\n", `1: key write_logs = "no"`)
	f("log_format = NOLOG\n", `1: key log_format = "NOLOG"`)
	f("log_format = XML\n", `1: key log_format = "XML": want one of raw, enriched`)
	f("\n\nmax_log_file = lots\n", `3: key max_log_file = "lots": not an integer`)
	f("log_file = audit.log\n", `1: key log_file = "audit.log": not an absolute path`)
	f("name_format = sometimes\n", `1: key name_format = "sometimes": want one of`)
	f("flush = SOMETIMES\n", `1: key flush = "SOMETIMES": want one of`)
	f("space_left_action = EXEC "+writable+"\n", `1: key space_left_action = "EXEC `+writable+`": untrusted file`)
	f("disk_full_action = EMAIL\n", `1: key disk_full_action = "EMAIL": want one of`) // auditd has no email here either
	f("space_left = lots\n", `1: key space_left = "lots": want MiB`)
	_, _, err := ImportAuditdConf(filepath.Join(t.TempDir(), "missing.conf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := writeConf(t, "bogus = 1\n")
	if _, _, err := ImportAuditdConf(p); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key error does not wrap ErrUnknownKey: %v", err)
	}
	// auditd refuses a config file others can write; so does the import.
	p = writeFile(t, "auditd.conf", "space_left_action = exec /tmp/evil\n", 0o646)
	if _, _, err := ImportAuditdConf(p); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), p) {
		t.Errorf("group/other-writable auditd.conf: %v", err)
	}
}
