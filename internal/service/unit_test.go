package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
)

// verifyUnit runs `systemd-analyze verify` on unit (written as
// auditdrain.service in a temporary directory) and fails on an error or on
// any complaint about the unit, which systemd-analyze prints without
// failing (an unknown key, a bad value).
func verifyUnit(t *testing.T, unit []byte) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("skipping: systemd-analyze is not installed (Debian package systemd): %v", err)
	}
	p := filepath.Join(t.TempDir(), UnitName)
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", p).CombinedOutput()
	if err != nil || strings.Contains(string(out), UnitName) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestUnitVerifies(t *testing.T) {
	exe, err := os.Executable() // verify wants ExecStart= to exist
	if err != nil {
		t.Fatal(err)
	}
	unit, err := Unit(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart="+exe+" run\n") {
		t.Fatalf("ExecStart not rendered:\n%s", unit)
	}
	verifyUnit(t, unit)
}

// TestVerifyCatchesMistakes makes sure the verify check can fail.
func TestVerifyCatchesMistakes(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	exe, _ := os.Executable()
	good, err := Unit(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{
		{"Type=notify", "Type=notifyy"},
		{"ProtectSystem=strict", "ProtectSystm=strict"},
		{"ExecStart=" + exe, "ExecStart=/nonexistent/auditdrain"},
	} {
		p := filepath.Join(t.TempDir(), UnitName)
		if err := os.WriteFile(p, []byte(strings.Replace(string(good), bad[0], bad[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", p).CombinedOutput()
		if err == nil && !strings.Contains(string(out), UnitName) {
			t.Errorf("systemd-analyze verify accepted %q silently", bad[1])
		}
	}
}

// TestUnitExposure keeps the sandboxing from eroding: systemd-analyze
// security rates the unit's exposure (0 best, 10 worst); it is 2.7 now.
func TestUnitExposure(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	exe, _ := os.Executable()
	unit, err := Unit(exe)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), UnitName)
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=35", "--no-pager", p).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unrecognized option") {
			t.Skipf("skipping: this systemd-analyze has no offline security check: %s", out)
		}
		t.Fatalf("exposure above 3.5 or check failed: %v\n%s", err, out[max(0, len(out)-400):])
	}
}

func TestUnitContents(t *testing.T) {
	unit, err := Unit("")
	if err != nil {
		t.Fatal(err)
	}
	if string(unit) != unitFile {
		t.Error("Unit(\"\") differs from the shipped unit")
	}
	for _, want := range []string{
		"Type=notify", "NotifyAccess=main", "WatchdogSec=", "Conflicts=shutdown.target auditd.service",
		"Restart=on-failure", "DefaultDependencies=no", "Before=sysinit.target shutdown.target",
		"After=local-fs.target systemd-tmpfiles-setup.service auditd.service",
		"ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_NET_ADMIN",
		"RestrictAddressFamilies=AF_NETLINK AF_UNIX", "LogsDirectory=auditdrain", "RuntimeDirectory=auditdrain",
		"KillMode=mixed", "ReadWritePaths=-/var/spool/audit", "FileDescriptorStoreMax=3",
		"ExecStart=" + DefaultBinary + " run",
	} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	// The writable paths are the config's defaults.
	d := config.Default()
	if !strings.HasPrefix(d.LogDir, "/var/log/auditdrain") || !strings.HasPrefix(d.ControlSocket, "/run/auditdrain/") {
		t.Errorf("config defaults %q, %q are outside the unit's LogsDirectory/RuntimeDirectory", d.LogDir, d.ControlSocket)
	}
	for _, bad := range []string{"relative/auditdrain", "/opt/my auditdrain", "/opt/a%b", "/opt/$x", "/opt/a\nb"} {
		if _, err := Unit(bad); err == nil {
			t.Errorf("Unit(%q) accepted a path systemd would misread", bad)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	text := string(DefaultConfig())
	// As written, every key is commented out: the defaults.
	c := config.Default()
	if err := c.Parse("auditdrain.conf", strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("the default config file changes the config: %+v", c)
	}
	// Uncommented, every line parses and still gives the defaults.
	var lines []string
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), " ="); ok && strings.HasPrefix(l, "#") && config.Doc(k) != "" {
			l = strings.TrimPrefix(l, "#")
			n++
		}
		lines = append(lines, l)
	}
	if n != len(config.Keys()) {
		t.Fatalf("%d keys in the file, want %d", n, len(config.Keys()))
	}
	c = config.Default()
	if err := c.Parse("auditdrain.conf", strings.NewReader(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("uncommented, the default config differs from the defaults:\n got %+v\nwant %+v", c, config.Default())
	}
}
