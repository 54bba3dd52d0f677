package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
)

// fakeSystemd stands in for systemctl: it keeps each unit's enabled and
// running state, changes it as disable/enable/restart would, answers
// `systemctl show`, and records every command. auditdrain.service exists
// when its unit file is in root, as for the real systemd after
// daemon-reload.
type fakeSystemd struct {
	root  string
	units map[string]*fakeUnit
	cmds  []string // commands that change something, in order
	fail  string   // a command line that fails
}

type fakeUnit struct{ enabled, running bool }

func newFake(t *testing.T, auditd *fakeUnit) *fakeSystemd {
	f := &fakeSystemd{root: t.TempDir(), units: map[string]*fakeUnit{UnitName: {}}}
	if auditd != nil {
		f.units[AuditdUnit] = auditd
	}
	return f
}

func (f *fakeSystemd) run(name string, args ...string) (string, error) {
	line := name + " " + strings.Join(args, " ")
	if name != "systemctl" || len(args) == 0 {
		return "", fmt.Errorf("unexpected command %q", line)
	}
	if line == f.fail {
		return "", fmt.Errorf("%s: exit status 1", line)
	}
	unit := args[len(args)-1]
	u := f.units[unit]
	if unit == UnitName {
		if _, err := os.Stat(filepath.Join(f.root, DefaultUnitDir, UnitName)); err != nil {
			u = nil
		}
	}
	if args[0] == "show" {
		if u == nil {
			return "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n", nil
		}
		state := map[bool]string{true: "enabled", false: "disabled"}[u.enabled]
		active := map[bool]string{true: "active", false: "inactive"}[u.running]
		return fmt.Sprintf("LoadState=loaded\nActiveState=%s\nUnitFileState=%s\n", active, state), nil
	}
	f.cmds = append(f.cmds, line)
	if args[0] == "daemon-reload" {
		return "", nil
	}
	if u == nil {
		return "", fmt.Errorf("Unit %s not found", unit)
	}
	switch {
	case slices.Equal(args[:2], []string{"disable", "--now"}):
		u.enabled, u.running = false, false
	case slices.Equal(args[:2], []string{"enable", "--now"}):
		u.enabled, u.running = true, true
	case args[0] == "restart":
		u.running = true
	default:
		return "", fmt.Errorf("unexpected command %q", line)
	}
	return "", nil
}

func (f *fakeSystemd) take() []string {
	c := f.cmds
	f.cmds = nil
	return c
}

func checkReport(t *testing.T, r Report, want ...string) {
	t.Helper()
	var got []string
	for _, c := range r.Changes {
		got = append(got, c.Action+" "+c.Target)
	}
	if !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func checkCmds(t *testing.T, f *fakeSystemd, want ...string) {
	t.Helper()
	if got := f.take(); !slices.Equal(got, want) {
		t.Errorf("commands run:\n%q\nwant\n%q", got, want)
	}
}

func TestInstallReplaceAuditdAndBack(t *testing.T) {
	f := newFake(t, &fakeUnit{enabled: true, running: true})
	unitPath := filepath.Join(f.root, DefaultUnitDir, UnitName)
	confPath := filepath.Join(f.root, config.DefaultPath)
	opts := InstallOptions{Root: f.root, ReplaceAuditd: true, Run: f.run}

	r, err := Install(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r,
		"created "+unitPath, "created "+confPath,
		"ran systemctl daemon-reload",
		"ran systemctl disable --now auditd.service",
		"ran systemctl enable --now auditdrain.service")
	checkCmds(t, f, "systemctl daemon-reload", "systemctl disable --now auditd.service", "systemctl enable --now auditdrain.service")
	if !r.Changed() {
		t.Error("Changed() false after a first install")
	}
	unit, _ := os.ReadFile(unitPath)
	if want, _ := Unit(""); string(unit) != string(want) {
		t.Error("installed unit differs from Unit(\"\")")
	}
	if conf, _ := os.ReadFile(confPath); string(conf) != string(DefaultConfig()) {
		t.Error("installed config differs from DefaultConfig()")
	}
	if fi, err := os.Stat(confPath); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode: %v %v", fi.Mode(), err)
	}

	// Again: nothing to do.
	r, err = Install(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "unchanged "+unitPath, "kept "+confPath,
		"unchanged auditd.service (disabled and stopped already)",
		"unchanged auditdrain.service (enabled and running already)")
	checkCmds(t, f)
	if r.Changed() {
		t.Errorf("Changed() true for a repeated install:\n%s", r)
	}

	// A new binary path: the unit is updated and the service restarted;
	// the config the user may have edited is kept.
	if err := os.WriteFile(confPath, []byte("log_dir = /srv/audit\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	opts.Binary = "/usr/sbin/auditdrain"
	r, err = Install(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "updated "+unitPath, "kept "+confPath, "ran systemctl daemon-reload",
		"unchanged auditd.service (disabled and stopped already)", "ran systemctl restart auditdrain.service")
	checkCmds(t, f, "systemctl daemon-reload", "systemctl restart auditdrain.service")
	if conf, _ := os.ReadFile(confPath); string(conf) != "log_dir = /srv/audit\n" {
		t.Error("Install overwrote an existing config")
	}
	if unit, _ := os.ReadFile(unitPath); !strings.Contains(string(unit), "\nExecStart=/usr/sbin/auditdrain run\n") {
		t.Error("unit not rendered with the new binary")
	}

	// Switching back.
	uopts := UninstallOptions{Root: f.root, RestoreAuditd: true, Run: f.run}
	r, err = Uninstall(uopts)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "ran systemctl disable --now auditdrain.service", "removed "+unitPath, "kept "+confPath,
		"ran systemctl daemon-reload", "ran systemctl enable --now auditd.service")
	checkCmds(t, f, "systemctl disable --now auditdrain.service", "systemctl daemon-reload", "systemctl enable --now auditd.service")
	if _, err := os.Stat(unitPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there: %v", err)
	}
	if a := f.units[AuditdUnit]; !a.enabled || !a.running {
		t.Error("auditd not restored")
	}

	r, err = Uninstall(uopts)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, "absent "+unitPath, "kept "+confPath, "unchanged auditd.service (enabled and running already)")
	checkCmds(t, f)
	if r.Changed() {
		t.Errorf("Changed() true for a repeated uninstall:\n%s", r)
	}
}

func TestInstallPlain(t *testing.T) {
	f := newFake(t, &fakeUnit{enabled: true, running: true})
	r, err := Install(InstallOptions{Root: f.root, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 3 {
		t.Errorf("report:\n%s", r)
	}
	// Neither auditd nor auditdrain is touched without the options.
	checkCmds(t, f, "systemctl daemon-reload")
	if a := f.units[AuditdUnit]; !a.enabled || !a.running {
		t.Error("auditd changed")
	}
	// Start without auditd installed at all.
	f = newFake(t, nil)
	r, err = Install(InstallOptions{Root: f.root, ReplaceAuditd: true, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	checkCmds(t, f, "systemctl daemon-reload", "systemctl enable --now auditdrain.service")
	if !strings.Contains(r.String(), "absent    auditd.service (not installed)\n") {
		t.Errorf("report:\n%s", r)
	}
	// Restoring auditd that is not installed is an error.
	if _, err := Uninstall(UninstallOptions{Root: f.root, RestoreAuditd: true, Run: f.run}); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("Uninstall --restore-auditd without auditd: %v", err)
	}
}

func TestInstallOffline(t *testing.T) {
	f := newFake(t, nil)
	r, err := Install(InstallOptions{Root: f.root, Offline: true, Run: f.run})
	if err != nil || len(r.Changes) != 2 {
		t.Fatalf("%v\n%s", err, r)
	}
	checkCmds(t, f)
	if _, err := Install(InstallOptions{Root: f.root, Offline: true, Start: true, Run: f.run}); !errors.Is(err, ErrNeedsSystemd) {
		t.Errorf("Offline with Start: %v", err)
	}
	r, err = Uninstall(UninstallOptions{Root: f.root, Offline: true, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	checkCmds(t, f)
	if r.Changes[0].Action != "removed" {
		t.Errorf("report:\n%s", r)
	}
}

// TestInstallCommandFails: the error names the command and the report
// lists what was done before it.
func TestInstallCommandFails(t *testing.T) {
	f := newFake(t, &fakeUnit{enabled: true, running: true})
	f.fail = "systemctl disable --now auditd.service"
	r, err := Install(InstallOptions{Root: f.root, ReplaceAuditd: true, Run: f.run})
	if err == nil || !strings.Contains(err.Error(), "systemctl disable --now auditd.service") {
		t.Fatalf("error %v", err)
	}
	if len(r.Changes) != 3 || r.Changes[2].Target != "systemctl daemon-reload" {
		t.Errorf("report:\n%s", r)
	}
	if a := f.units[AuditdUnit]; !a.running {
		t.Error("auditd changed")
	}
	checkCmds(t, f, "systemctl daemon-reload")
	if u := f.units[UnitName]; u.running {
		t.Error("auditdrain started although auditd could not be stopped")
	}
}

func TestExecRunner(t *testing.T) {
	out, err := ExecRunner("sh", "-c", "echo out; echo err >&2")
	if err != nil || out != "out\n" {
		t.Errorf("ExecRunner = %q, %v", out, err)
	}
	_, err = ExecRunner("sh", "-c", "echo broken >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3: broken") {
		t.Errorf("ExecRunner error = %v", err)
	}
}

// TestInstallPlugins lists the active plugins of plugin_dir, warns about
// those it cannot vouch for, and gives audisp-remote the network in the
// plugins.conf drop-in only while it is active.
func TestInstallPlugins(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: plugin files must be root's, as auditd requires")
	}
	const remote = "/sbin/audisp-remote"
	if _, err := os.Stat(remote); err != nil {
		t.Fatalf("%v (apt-get install -y audispd-plugins)", err)
	}
	f := newFake(t, &fakeUnit{enabled: true, running: true})
	dir := filepath.Join(f.root, "etc/audit/plugins.d")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	plug := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	plug("au-remote.conf", "active = yes\ndirection = out\npath = "+remote+"\ntype = always\nformat = string\n")
	plug("sleep.conf", "active = yes\ndirection = out\npath = /usr/bin/sleep\ntype = always\nargs = infinity\n")
	plug("off.conf", "active = no\ndirection = out\npath = /usr/bin/true\n")
	plug("bad.conf", "active = maybe\n")
	r, err := Install(InstallOptions{Root: f.root, ReplaceAuditd: true, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	out := r.String()
	dropIn := filepath.Join(f.root, DefaultUnitDir, PluginDropIn)
	for _, want := range []string{
		"plugin    au-remote.conf: " + remote + ", string format (sends to remote_server over TCP",
		"plugin    sleep.conf: /usr/bin/sleep, string format\n",
		"warning   plugin sleep.conf: /usr/bin/sleep runs inside auditdrain's sandbox",
		"warning   plugin not run: plugins: " + filepath.Join(dir, "bad.conf") + ":1",
		"created   " + dropIn + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the report:\n%s", want, out)
		}
	}
	if strings.Contains(out, "off.conf") {
		t.Errorf("an inactive plugin listed:\n%s", out)
	}
	b, err := os.ReadFile(dropIn)
	if err != nil || !strings.Contains(string(b), "\n[Service]\n") || !strings.Contains(string(b), "\nRestrictAddressFamilies=AF_INET AF_INET6\n") {
		t.Errorf("drop-in %s: %q, %v", dropIn, b, err)
	}
	// audisp-remote made inactive: the drop-in goes, and the running
	// service is restarted without it.
	plug("au-remote.conf", "active = no\npath = "+remote+"\n")
	f.cmds = nil
	r, err = Install(InstallOptions{Root: f.root, ReplaceAuditd: true, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dropIn); !errors.Is(err, os.ErrNotExist) || !strings.Contains(r.String(), "removed   "+dropIn+"\n") {
		t.Errorf("drop-in not removed (%v):\n%s", err, r)
	}
	checkCmds(t, f, "systemctl daemon-reload", "systemctl restart auditdrain.service")
	// Uninstall removes the drop-in with the unit.
	plug("au-remote.conf", "active = yes\npath = "+remote+"\n")
	if _, err := Install(InstallOptions{Root: f.root, Offline: true}); err != nil {
		t.Fatal(err)
	}
	r, err = Uninstall(UninstallOptions{Root: f.root, Offline: true})
	if _, serr := os.Stat(filepath.Dir(dropIn)); err != nil || !errors.Is(serr, os.ErrNotExist) || !strings.Contains(r.String(), "removed   "+dropIn+"\n") {
		t.Errorf("uninstall left the drop-in (%v, %v):\n%s", err, serr, r)
	}
}
