package main

// Root-free tests of the command line: exit statuses, what goes to stdout
// and what to stderr, flags after arguments, the shared config file, and
// status without a daemon. They call runMain in-process.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/daemon"
)

// invoke runs the command line args with the default config file pointed
// at a path that does not exist, and returns the exit status and outputs.
func invoke(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := defaultConfigPath
	defaultConfigPath = filepath.Join(t.TempDir(), "absent.conf")
	defer func() { defaultConfigPath = old }()
	var out, errb bytes.Buffer
	code = runMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// singleDashFlag matches a flag listed as -name in help text.
var singleDashFlag = regexp.MustCompile(`(?m)^\s+-[a-z]`)

func TestHelpGoesToStdoutAndExits0(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"cat", "--help"}, {"cat", "DIR", "-h"}, {"help", "cat"},
		{"run", "--help"}, {"status", "-help"}, {"reload", "--help"},
		{"rules", "--help"}, {"rules", "check", "--help"}, {"rules", "load", "DIR", "-h"},
		{"config", "--help"}, {"version", "--help"}, {"install", "--help"}, {"uninstall", "--help"},
		{"bench", "--help"},
	} {
		code, out, errOut := invoke(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 0 and usage on stdout only", args, code, out, errOut)
		}
		if singleDashFlag.MatchString(out) {
			t.Errorf("%q: help spells a flag with one dash:\n%s", args, out)
		}
	}
	_, out, _ := invoke(t, "cat", "--help")
	for _, want := range []string{"--serial A-B", "--since T", "--config FILE"} {
		if !strings.Contains(out, want) {
			t.Errorf("cat --help does not show %q:\n%s", want, out)
		}
	}
}

func TestUsageErrorIsOneLineAndExits2(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // the error line
	}{
		{[]string{"nosuch"}, `auditdrain: unknown command "nosuch"`},
		{[]string{"cat", "--bogus"}, "auditdrain: cat: unknown flag --bogus"},
		{[]string{"cat", "DIR", "--serial"}, "auditdrain: cat: flag --serial needs a value"},
		{[]string{"cat", "DIR", "--serial", "x"}, `auditdrain: cat: --serial "x": want A-B or A`},
		{[]string{"cat", "--since", "tomorrow"}, `auditdrain: cat: --since "tomorrow": not a time`},
		{[]string{"status", "--json=maybe"}, `auditdrain: status: invalid value "maybe" for --json: want true or false`},
		{[]string{"run", "extra"}, `auditdrain: run: unexpected arguments ["extra"]`},
		{[]string{"run", "--bogus"}, "auditdrain: run: unknown flag --bogus"},
		{[]string{"rules"}, "auditdrain: rules: want check or load"},
		{[]string{"rules", "check", "A", "B"}, `auditdrain: rules check: want one rules directory, got ["A" "B"]`},
		{[]string{"config", "x"}, `auditdrain: config: unexpected arguments ["x"]`},
		{[]string{"version", "x"}, `auditdrain: version: unexpected arguments ["x"]`},
		{[]string{"bench", "--bogus"}, "auditdrain: bench: unknown flag --bogus"},
		{[]string{"bench", "--rates", "fast"}, "auditdrain: bench: "},
	} {
		code, out, errOut := invoke(t, c.args...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != 2 || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], c.want) || !strings.Contains(lines[1], "--help") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, and on stderr %q and a hint to --help",
				c.args, code, out, errOut, c.want)
		}
	}
}

func TestNoCommand(t *testing.T) {
	code, out, errOut := invoke(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q; want exit 2 and the usage on stderr", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := invoke(t, args...)
		lines := strings.Split(out, "\n")
		if code != 0 || errOut != "" || lines[0] != "auditdrain "+daemon.Version || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want auditdrain %s and %s", args, code, out, errOut, daemon.Version, runtime.Version())
		}
	}
}

// writeLog writes a plain (uncompressed) log segment into dir holding one
// record per serial.
func writeLog(t *testing.T, dir string, serials ...int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range serials {
		fmt.Fprintf(&b, "type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 success=yes key=\"t\"\n", s%1000, s)
	}
	path := filepath.Join(dir, "audit-0000000001.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCatFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	seg := writeLog(t, dir, 6, 7, 8)
	want := "type=SYSCALL msg=audit(1700000000.007:7):"
	for _, args := range [][]string{
		{"cat", dir, "--serial", "7"},
		{"cat", "--serial", "7", dir},
		{"cat", seg, "--serial=7"},
		{"cat", "--serial", "7", "--", seg},
	} {
		code, out, errOut := invoke(t, args...)
		if code != 0 || errOut != "" || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want only serial 7", args, code, out, errOut)
		}
	}
}

// writeConfig writes a config file setting log_dir, control_socket and
// rules_dir.
func writeConfig(t *testing.T, logDir, sock, rulesDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auditdrain.conf")
	text := fmt.Sprintf("log_dir = %s\ncontrol_socket = %s\nrules_dir = %s\n", logDir, sock, rulesDir)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommandsReadRunsConfig(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	writeLog(t, logDir, 41, 42)
	sock := filepath.Join(dir, "ctl.sock")
	rulesDir := filepath.Join(dir, "rules.d")
	os.Mkdir(rulesDir, 0o700)
	os.WriteFile(filepath.Join(rulesDir, "10-a.rules"), []byte("-w /etc/shadow -p wa -k cli_conf_test\n"), 0o600)
	conf := writeConfig(t, logDir, sock, rulesDir)

	if os.Geteuid() != 0 {
		// Only root's files are trusted as config (config.CheckTrusted):
		// every command refuses this one, naming it, so it did read it.
		for _, cmd := range [][]string{{"cat"}, {"status"}, {"reload"}, {"rotate"}, {"resume"}, {"rules", "check"}} {
			code, _, errOut := invoke(t, append(cmd, "--config", conf)...)
			if code != 1 || !strings.Contains(errOut, conf) || !strings.Contains(errOut, "untrusted") {
				t.Errorf("%q --config (not root): exit %d, stderr %q; want exit 1 refusing %s as untrusted", cmd, code, errOut, conf)
			}
		}
		return
	}
	code, out, errOut := invoke(t, "cat", "--config", conf)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, ":42)") {
		t.Errorf("cat --config: exit %d, stdout %q, stderr %q; want the two records of the config's log_dir", code, out, errOut)
	}
	for _, cmd := range []string{"status", "reload", "rotate", "resume"} {
		_, _, errOut := invoke(t, cmd, "--config", conf)
		if !strings.Contains(errOut, sock) {
			t.Errorf("%s --config: stderr %q does not name the config's control socket %s", cmd, errOut, sock)
		}
	}
	code, out, errOut = invoke(t, "rules", "check", "--config", conf)
	if code != 0 || !strings.Contains(out, "-k cli_conf_test") {
		t.Errorf("rules check --config: exit %d, stdout %q, stderr %q; want the rules of the config's rules_dir", code, out, errOut)
	}
	code, _, errOut = invoke(t, "cat", "--config", filepath.Join(dir, "missing.conf"))
	if code != 1 || !strings.Contains(errOut, "missing.conf") {
		t.Errorf("cat --config MISSING: exit %d, stderr %q; want exit 1 naming the file", code, errOut)
	}
}

func TestRulesCheckTakesDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "10-a.rules"), []byte("-w /etc/passwd -p wa -k cli_test\n"), 0o600)
	for _, args := range [][]string{{"rules", "check", dir}, {"rules", "check", "--rules-dir", dir}} {
		code, out, errOut := invoke(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "-k cli_test") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the merged rules of %s", args, code, out, errOut, dir)
		}
	}
	empty := t.TempDir()
	code, out, _ := invoke(t, "rules", "check", empty)
	if code != 0 || strings.Contains(out, "cli_test") {
		t.Errorf("rules check EMPTYDIR: exit %d, stdout %q; want exit 0 without the other directory's rule", code, out)
	}
}

func TestStatusWithoutDaemonExits3(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "control.sock")
	code, out, errOut := invoke(t, "status", "--control-socket", sock)
	want := "auditdrain: status: no auditdrain daemon is running (no control socket at " + sock + ")\n"
	if code != 3 || out != "" || errOut != want {
		t.Errorf("status: exit %d, stdout %q, stderr %q; want exit 3 and stderr %q", code, out, errOut, want)
	}

	// A socket file left by a daemon that died: nothing listens.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	code, _, errOut = invoke(t, "status", "--control-socket", sock)
	if code != 3 || !strings.Contains(errOut, "nothing listens") {
		t.Errorf("status with a stale socket: exit %d, stderr %q; want exit 3", code, errOut)
	}

	code, out, _ = invoke(t, "status", "--json", "--control-socket", sock)
	var v map[string]any
	if code != 3 || json.Unmarshal([]byte(out), &v) != nil || v["daemon_error"] == nil {
		t.Errorf("status --json: exit %d, stdout %q; want exit 3 and a JSON object with daemon_error", code, out)
	}

	// The signalling commands find the daemon the same way and say so the
	// same way.
	for _, c := range []string{"reload", "rotate", "resume"} {
		code, _, errOut = invoke(t, c, "--control-socket", filepath.Join(dir, "none.sock"))
		if code != 3 || !strings.Contains(errOut, "no auditdrain daemon is running") {
			t.Errorf("%s without a daemon: exit %d, stderr %q; want exit 3", c, code, errOut)
		}
	}
}

// fakeDaemon serves st as /status on a unix socket in a temporary directory.
func fakeDaemon(t *testing.T, st daemon.Status) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(st)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestStatusOfRunningDaemon(t *testing.T) {
	st := daemon.Status{PID: 4242, Mode: "unicast", LogDir: "/var/log/x", RecordsRead: 123,
		Lost: map[string]uint64{"kernel": 5, "gap": 1}, LostTotal: 5, RecordsWritten: 120}
	sock := fakeDaemon(t, st)
	code, out, errOut := invoke(t, "status", "--control-socket", sock)
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"daemon\n", "kernel\n", "losses by cause\n", "writer\n", "4242", "records_written"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "map[") {
		t.Errorf("status prints a Go map:\n%s", out)
	}
	code, out, _ = invoke(t, "status", "--json", "--control-socket", sock)
	var v struct{ Daemon daemon.Status }
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Daemon.PID != 4242 {
		t.Errorf("status --json: exit %d, %v, stdout %q", code, err, out)
	}
}

func TestErrorTextDropsRepeatedPrefixes(t *testing.T) {
	f := func(command, msg, want string) {
		t.Helper()
		if got := errorText(command, errors.New(msg)); got != want {
			t.Errorf("errorText(%q, %q) = %q, want %q", command, msg, got, want)
		}
	}
	f("cat", `writer: cat "/l/a.log.zst": writer: corrupt segment: bad frame magic`, `"/l/a.log.zst": corrupt segment: bad frame magic`)
	f("rules check", `rules: /r/10.rules:3: "-a x": bad`+"\n"+`rulesd: /r/10.rules:4: "-b": needs a value`,
		`/r/10.rules:3: "-a x": bad`+"\n"+`/r/10.rules:4: "-b": needs a value`)
	f("run", "config: /etc/a.conf:2: unknown key \"x\"", "/etc/a.conf:2: unknown key \"x\"")
	f("status", "dial unix /x: connect: connection refused", "dial unix /x: connect: connection refused")
	f("cat", "cat", "cat")
}

// The built binary exits with runMain's status: 2 once for a bad flag,
// with one error line and the hint, and 0 with help on stdout.
func TestBinaryExitStatus(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		cmd := exec.Command(binPath, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	code, out, errOut := run("cat", t.TempDir(), "--bogus")
	if code != 2 || out != "" || errOut != "auditdrain: cat: unknown flag --bogus\nRun 'auditdrain cat --help' for usage.\n" {
		t.Errorf("cat DIR --bogus: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = run("cat", "--help")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: auditdrain cat ") {
		t.Errorf("cat --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
