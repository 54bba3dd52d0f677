package audittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Auditd is an installed auditd (Debian's 3.0.9) that a test started in a
// configuration directory of its own, `auditd -n -c DIR`: the oracle for
// formats, a registered daemon beside a multicast reader, or an aggregator
// (local_events = no) that audisp-remote sends to. It is stopped by its pid,
// never by name.
type Auditd struct {
	Cmd     *exec.Cmd
	ConfDir string // holds auditd.conf and an empty plugins.d
	LogFile string // its log_file

	outMu sync.Mutex // guards out; never held while waiting
	out   bytes.Buffer

	mu   sync.Mutex // guards exit and err
	done chan error
	err  error
	exit bool
}

// AuditdConf is the base auditd.conf StartAuditd writes, before the test's
// keys: RAW lines, no disk actions, no plugins, no rotation surprises.
var AuditdConf = map[string]string{
	"local_events":            "yes",
	"write_logs":              "yes",
	"log_format":              "RAW",
	"flush":                   "INCREMENTAL_ASYNC",
	"freq":                    "50",
	"max_log_file":            "100",
	"num_logs":                "5",
	"max_log_file_action":     "IGNORE",
	"space_left":              "2",
	"space_left_action":       "IGNORE",
	"admin_space_left":        "1",
	"admin_space_left_action": "IGNORE",
	"disk_full_action":        "IGNORE",
	"disk_error_action":       "IGNORE",
	"name_format":             "NONE",
}

// StartAuditd writes dir/auditd.conf (AuditdConf with set's keys over it,
// log_file dir/audit.log and plugin_dir dir/plugins.d unless set names
// them) and starts the installed auditd on it. With tcp_listen_port set
// (an aggregator for audisp-remote) it waits until auditd listens there. It skips the test when
// auditd is not installed. With local_events other than "no", k must hold
// the kernel and StartAuditd waits until auditd is the registered daemon;
// (and auditing is on); otherwise it returns once the process runs. The process is stopped
// (SIGTERM, SIGKILL after 15 s) when the test ends, if Stop has not been
// called.
func StartAuditd(t testing.TB, k *K, dir string, set map[string]string) *Auditd {
	t.Helper()
	bin, err := exec.LookPath("auditd")
	if err != nil {
		t.Skip("skipping: auditd is not installed (apt-get install auditd)")
	}
	plugins := filepath.Join(dir, "plugins.d")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		t.Fatal(err)
	}
	// auditd refuses a config directory or file others can write.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := map[string]string{"log_file": filepath.Join(dir, "audit.log"), "plugin_dir": plugins}
	for kk, v := range AuditdConf {
		conf[kk] = v
	}
	for kk, v := range set {
		conf[kk] = v
	}
	keys := make([]string, 0, len(conf))
	for kk := range conf {
		keys = append(keys, kk)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, kk := range keys {
		fmt.Fprintf(&b, "%s = %s\n", kk, conf[kk])
	}
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Auditd{ConfDir: dir, LogFile: conf["log_file"], done: make(chan error, 1)}
	a.Cmd = exec.Command(bin, "-n", "-c", dir)
	a.Cmd.Stdout, a.Cmd.Stderr = (*auditdOut)(a), (*auditdOut)(a)
	if err := a.Cmd.Start(); err != nil {
		t.Fatalf("starting %s -n -c %s: %v", bin, dir, err)
	}
	go func() { a.done <- a.Cmd.Wait() }()
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("stopping auditd: %v", err)
		}
	})
	if port := conf["tcp_listen_port"]; port != "" {
		// An aggregator: up when it listens.
		deadline := time.Now().Add(15 * time.Second)
		for !listening(port) {
			if a.exited() || time.Now().After(deadline) {
				t.Fatalf("auditd (pid %d) did not listen on port %s within 15s:\n%s", a.Cmd.Process.Pid, port, a.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if conf["local_events"] == "no" {
		return a
	}
	if k == nil {
		t.Fatal("audittest: StartAuditd with local events needs the kernel handle")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if s, err := k.Conn().Status(); err == nil && s.PID == uint32(a.Cmd.Process.Pid) && s.Enabled != 0 {
			return a
		}
		if a.exited() || time.Now().After(deadline) {
			t.Fatalf("auditd (pid %d) did not register within 15s:\n%s", a.Cmd.Process.Pid, a.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening reports whether a TCP socket listens on port (any address),
// from /proc/net/tcp and tcp6, without connecting to it.
func listening(port string) bool {
	n, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	needle := fmt.Sprintf(":%04X ", n)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			fields := strings.Fields(l)
			if len(fields) > 3 && strings.HasSuffix(fields[1]+" ", needle) && fields[3] == "0A" {
				return true
			}
		}
	}
	return false
}

// Output returns what auditd printed so far.
func (a *Auditd) Output() string {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	return a.out.String()
}

// Stop stops auditd by its pid (SIGTERM, then SIGKILL after 15 s) and
// waits for it; auditd flushes its log on SIGTERM. It is idempotent and
// returns an error when auditd had to be killed or had already failed.
func (a *Auditd) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exit {
		return nil
	}
	a.exit = true
	a.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case a.err = <-a.done:
	case <-time.After(15 * time.Second):
		a.Cmd.Process.Kill()
		<-a.done
		return fmt.Errorf("auditd (pid %d) did not exit within 15s of SIGTERM; killed", a.Cmd.Process.Pid)
	}
	if a.err != nil {
		return fmt.Errorf("auditd (pid %d): %v\n%s", a.Cmd.Process.Pid, a.err, a.Output())
	}
	return nil
}

// exited reports whether the process ended on its own.
func (a *Auditd) exited() bool {
	select {
	case err := <-a.done:
		a.done <- err
		return true
	default:
		return false
	}
}

// auditdOut collects auditd's output under a's lock.
type auditdOut Auditd

func (o *auditdOut) Write(p []byte) (int, error) {
	o.outMu.Lock()
	defer o.outMu.Unlock()
	return o.out.Write(p)
}
