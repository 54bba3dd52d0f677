package main

// End-to-end tests: the built binary against the real kernel. They skip
// (through audittest.Kernel) when not root or when audit is unavailable.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
)

var binPath string

func TestMain(m *testing.M) {
	if spec := os.Getenv(pacedLoadEnv); spec != "" {
		os.Exit(pacedLoad(spec)) // a load child (restart_e2e_test.go)
	}
	dir, err := os.MkdirTemp("", "auditdrain-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "auditdrain")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building auditdrain: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonProc is one auditdrain process started by a test.
type daemonProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// reap waits for the started daemon in the background and, in cleanup,
// stops it by its pid if still running (SIGTERM, then SIGKILL after 10 s)
// and shows its stderr when the test failed.
func (p *daemonProc) reap(t *testing.T) {
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", p.stderr.String())
		}
	})
}

// startDaemon starts `auditdrain run` with args and waits until it says it
// is ready (or exits). It is stopped by its pid in cleanup if still running.
func startDaemon(t *testing.T, args ...string) *daemonProc {
	t.Helper()
	p := &daemonProc{stderr: &syncBuffer{}, done: make(chan error, 1)}
	// rules_dir emptied: the machine's /etc/audit/rules.d (with its -D)
	// must not replace the test's rules.
	p.cmd = exec.Command(binPath, append([]string{"run", "--config", "/dev/null", "--set", "rules_dir="}, args...)...)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.reap(t)
	return p
}

func (p *daemonProc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stderr.String(), "auditdrain: ready") {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("daemon exited before ready: %v\n%s", err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("daemon not ready after 15s:\n%s", p.stderr.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (p *daemonProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not stop within 30s after SIGTERM:\n%s", p.stderr.String())
	}
}

// writeRules writes rules to a file and removes them from the kernel in
// cleanup (the daemon loads them; the test owns them).
func writeRules(t *testing.T, k *audittest.K, dir string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, "test.rules")
	if err := os.WriteFile(path, []byte("# test rules\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := auditctl.ParseRules(path, strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := auditctl.Dial()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close()
		for _, r := range rs {
			c.DeleteRule(r.Wire) // absent if the daemon failed to load it
		}
	})
	return path
}

func catLog(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command(binPath, "cat", dir).Output()
	if err != nil {
		t.Fatalf("auditdrain cat %s: %v", dir, err)
	}
	return string(out)
}

var countLines = audittest.CountLines

func kernelLost(t *testing.T) uint32 {
	t.Helper()
	c, err := auditctl.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	return s.Lost
}

func TestEndToEndExecve(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	key := k.Key("e2e")
	rules := writeRules(t, k, dir, fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", os.Getpid(), key))
	d := startDaemon(t, "--log-dir", logDir, "--rules", rules, "--control-socket", filepath.Join(dir, "ctl.sock"),
		"--set", "backlog_limit=8192")
	d.waitReady(t)

	lost0 := kernelLost(t)
	const n = 2000
	for i := 0; i < n; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
	}
	d.stop(t)
	lost1 := kernelLost(t)

	log := catLog(t, logDir)
	got := countLines(log, "type=SYSCALL ", `key="`+key+`"`)
	if got != n || lost1 != lost0 {
		t.Fatalf("SYSCALL records with key %s on disk: %d, want %d (kernel lost %d -> %d)", key, got, n, lost0, lost1)
	}
	// Each execve event also has EXECVE, PATH, PROCTITLE and EOE records.
	if c := countLines(log, "type=EXECVE ", "a0="); c < n {
		t.Errorf("EXECVE records: %d, want >= %d", c, n)
	}

	// ausearch, the tool users know, reads the decompressed stream.
	if _, err := exec.LookPath("ausearch"); err != nil {
		t.Logf("ausearch not installed; skipping the ausearch check")
		return
	}
	cat := exec.Command(binPath, "cat", logDir)
	as := exec.Command("ausearch", "-k", key, "--raw")
	pipe, _ := cat.StdoutPipe()
	as.Stdin = pipe
	var asOut bytes.Buffer
	as.Stdout = &asOut
	as.Stderr = &asOut
	if err := as.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	if err := as.Wait(); err != nil {
		t.Fatalf("ausearch: %v\n%.2000s", err, asOut.String())
	}
	if c := countLines(asOut.String(), "type=SYSCALL ", `key="`+key+`"`); c != n {
		t.Fatalf("ausearch -k %s found %d SYSCALL records, want %d", key, c, n)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	d := startDaemon(t, "--log-dir", filepath.Join(dir, "a"), "--control-socket", filepath.Join(dir, "a.sock"))
	d.waitReady(t)

	second := exec.Command(binPath, "run", "--config", "/dev/null", "--set", "rules_dir=", "--log-dir", filepath.Join(dir, "b"),
		"--control-socket", filepath.Join(dir, "b.sock"))
	out, err := second.CombinedOutput()
	if err == nil {
		t.Fatalf("second daemon started; want a refusal:\n%s", out)
	}
	want := fmt.Sprintf("pid %d", d.cmd.Process.Pid)
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "registered") {
		t.Fatalf("second daemon's error does not name the holder (%s):\n%s", want, out)
	}
	d.stop(t)
}

func TestBadRulesFileStartsNothing(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.rules")
	key := k.Key("bad")
	os.WriteFile(path, []byte(fmt.Sprintf("-a always,exit -F arch=b64 -S getppid -k %s\n-a always,exit -S nosuchsyscall -k %s\n", key, key)), 0o600)
	before, err := k.Conn().Rules()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binPath, "run", "--config", "/dev/null", "--log-dir", filepath.Join(dir, "log"),
		"--rules", path, "--control-socket", filepath.Join(dir, "c.sock")).CombinedOutput()
	if err == nil {
		t.Fatalf("daemon started with a bad rules file:\n%s", out)
	}
	if !strings.Contains(string(out), path+":2") {
		t.Fatalf("error does not name %s:2:\n%s", path, out)
	}
	after, _ := k.Conn().Rules()
	if len(after) != len(before) {
		t.Fatalf("rules changed from %d to %d after a refused start", len(before), len(after))
	}
}

func TestUnknownConfigKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.conf")
	os.WriteFile(path, []byte("log_dir = /tmp/x\nflush_intervall = 1s\n"), 0o600)
	out, err := exec.Command(binPath, "run", "--config", path).CombinedOutput()
	if os.Geteuid() != 0 {
		// Not root: the file is not root's, so it is refused before it is
		// parsed (config.CheckTrusted).
		if err == nil || !strings.Contains(string(out), path) || !strings.Contains(string(out), "untrusted") {
			t.Fatalf("want %s refused as untrusted, got %v:\n%s", path, err, out)
		}
		return
	}
	if err == nil || !strings.Contains(string(out), path+":2") || !strings.Contains(string(out), "flush_intervall") {
		t.Fatalf("want an error naming %s:2 and the key, got %v:\n%s", path, err, out)
	}
}

// TestConfigRefusedBeforeDisk: a config others can write, an exec action
// whose program others can write, or a typo in keep_types or ratelimit stop
// `run` with an error naming the file or key, before the log directory is
// created (as non-root too: the checks come before the privilege check).
func TestConfigRefusedBeforeDisk(t *testing.T) {
	dir := t.TempDir()
	writable := filepath.Join(dir, "writable")
	os.WriteFile(writable, []byte("space_left_action = exec /bin/true\n"), 0o666)
	os.Chmod(writable, 0o666)
	logDir := filepath.Join(dir, "log")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", writable}, "untrusted file: " + writable},
		{[]string{"--config", "/dev/null", "--set", "space_left_action=exec " + writable}, "key space_left_action = \"exec " + writable + "\": untrusted file"},
		{[]string{"--config", "/dev/null", "--set", "keep_types=LOGIN,LOGON"}, `key keep_types = "LOGIN,LOGON": unknown record type "LOGON"`},
		{[]string{"--config", "/dev/null", "--set", "ratelimit=key=a rate=x"}, `key ratelimit = "key=a rate=x"`},
	} {
		args := append([]string{"run", "--log-dir", logDir, "--control-socket", filepath.Join(dir, "c.sock")}, tc.args...)
		out, err := exec.Command(binPath, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("run %q: %v, want an error containing %q:\n%s", tc.args, err, tc.want, out)
		}
		if _, err := os.Stat(logDir); !os.IsNotExist(err) {
			t.Fatalf("run %q created the log directory before refusing its config", tc.args)
		}
	}
}

var serialRe = regexp.MustCompile(`msg=audit\(\d+\.\d+:(\d+)\)`)

// TestMulticastBesideAuditd runs auditd (RAW format) as the registered
// daemon and auditdrain in multicast mode; both logs must hold identical
// lines for the same serials.
func TestMulticastBesideAuditd(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	key := k.Key("mc")
	rules := writeRules(t, k, dir, fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", os.Getpid(), key))
	ad := audittest.StartAuditd(t, k, filepath.Join(dir, "auditd"), map[string]string{"max_log_file_action": "ROTATE", "space_left": "75", "admin_space_left": "50"})

	logDir := filepath.Join(dir, "log")
	d := startDaemon(t, "--mode", "multicast", "--log-dir", logDir, "--rules", rules,
		"--control-socket", filepath.Join(dir, "ctl.sock"))
	d.waitReady(t)
	const n = 200
	for i := 0; i < n; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	d.stop(t)
	if err := ad.Stop(); err != nil {
		t.Fatal(err)
	}

	// Lines of the events with our key, by serial, from both logs.
	ours := linesBySerial(catLog(t, logDir), key)
	raw, err := os.ReadFile(ad.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	theirs := linesBySerial(string(raw), key)
	if len(theirs) != n {
		t.Fatalf("auditd logged %d events with key %s, want %d", len(theirs), key, n)
	}
	if len(ours) != n {
		t.Fatalf("auditdrain (multicast) logged %d events with key %s, want %d", len(ours), key, n)
	}
	for serial, want := range theirs {
		got := ours[serial]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("serial %s differs:\nauditd:\n%s\nauditdrain:\n%s", serial, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// linesBySerial returns, for every event that has a SYSCALL record with the
// key, all the lines of that event in log order.
func linesBySerial(log, key string) map[string][]string {
	all := map[string][]string{}
	keyed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := serialRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		all[m[1]] = append(all[m[1]], line)
		if strings.HasPrefix(line, "type=SYSCALL ") && strings.Contains(line, `key="`+key+`"`) {
			keyed[m[1]] = true
		}
	}
	out := map[string][]string{}
	for s := range keyed {
		out[s] = all[s]
	}
	return out
}
