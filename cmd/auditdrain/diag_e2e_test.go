package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/auditctl"
	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/internal/tally"
)

// The load child of the diagnosis tests: the test binary run again with
// diagTrueRunsEnv set runs /bin/true that many times once told to go.
const diagTrueRunsEnv = "AUDITDRAIN_DIAG_TRUE_RUNS"

func init() {
	n, err := strconv.Atoi(os.Getenv(diagTrueRunsEnv))
	if err != nil {
		return
	}
	if err := audittest.WaitGo(); err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		os.Exit(1)
	}
	for range n {
		if err := exec.Command("/bin/true").Run(); err != nil {
			fmt.Fprintln(os.Stderr, "load child: /bin/true:", err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// diagConfig writes a config for the diagnosis tests: its own log
// directory and control socket, no rules.d, no plugins, and extra lines.
func diagConfig(t *testing.T, dir string, extra ...string) (conf, logDir string) {
	t.Helper()
	logDir = filepath.Join(dir, "log")
	conf = filepath.Join(dir, "auditdrain.conf")
	text := fmt.Sprintf("log_dir = %s\ncontrol_socket = %s\nrules_dir =\nplugin_dir =\n%s\n",
		logDir, filepath.Join(dir, "ctl.sock"), strings.Join(extra, "\n"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, logDir
}

// topJSON runs `top --once --json` and decodes it.
func topJSON(t *testing.T, conf string) tally.Top {
	t.Helper()
	out, err := exec.Command(binPath, "top", "--once", "--json", "--config", conf).Output()
	if err != nil {
		t.Fatalf("top --once --json: %v\n%s", err, out)
	}
	var top tally.Top
	if err := json.Unmarshal(out, &top); err != nil {
		t.Fatalf("top --json: %v\n%s", err, out)
	}
	return top
}

const diagMarker = "auditdrain diag test marker"

// drainedUpTo sends a user message (a USER record) and waits until top
// has counted it: every record the kernel queued before it was counted.
func drainedUpTo(t *testing.T, conf string) tally.Top {
	t.Helper()
	before := uint64(0)
	if r := topJSON(t, conf).Table("type").Row("USER"); r != nil {
		before = r.Total
	}
	if out, err := exec.Command("auditctl", "-m", diagMarker).CombinedOutput(); err != nil {
		t.Fatalf("auditctl -m: %v: %s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		top := topJSON(t, conf)
		if r := top.Table("type").Row("USER"); r != nil && r.Total > before {
			return top
		}
		if time.Now().After(deadline) {
			t.Fatalf("top did not count the marker within 30 s: %+v", top.Table("type"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The troubleshooting guide's own scenario: backlog_limit 64, an
// unfiltered execve rule, 2,000 runs of /bin/true, and a kernel that
// loses records rather than stall programs when the backlog is full
// (kernel_backpressure = drop: whether any is lost depends on the
// machine's load, and the test checks both outcomes). top counts the rule's
// key and /usr/bin/true as the log holds them; doctor names the rule as
// the source of most events, reports any loss with its cause, and
// recommends a backlog of at least the observed peak.
func TestDiagnoseBacklogLimitExceeded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs 2,000 audited execs against the kernel")
	}
	k := audittest.Kernel(t)
	if _, err := exec.LookPath("auditctl"); err != nil {
		t.Skipf("skipping: auditctl is not installed: %v", err)
	}
	k.StopAuditd()
	dir := t.TempDir()
	conf, logDir := diagConfig(t, dir, "backlog_limit = 64", "kernel_backpressure = drop")
	d := startDaemon(t, "--config", conf)
	d.waitReady(t)

	const runs = 2000
	child := audittest.StartChild(t, fmt.Sprintf("%s=%d", diagTrueRunsEnv, runs))
	key := k.Key("diag_exec")
	text := "-a always,exit -F arch=b64 -S execve -k " + key
	k.AddRule(text)
	child.Run(t, 180*time.Second)
	// The rule goes before the count is taken, so that the log and top see
	// the same events (the rule is machine-wide: other execs match it too).
	rs, err := auditctl.ParseRules("test", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Conn().DeleteRule(rs[0].Wire); err != nil {
		t.Fatal(err)
	}
	top := drainedUpTo(t, conf)
	// doctor looks at the rules in the kernel: put the rule back for it
	// (no exec runs the rule between here and doctor's answer that
	// matters: doctor reads counts, not the log).
	k.AddRule(text)
	cmd := exec.Command(binPath, "doctor", "--config", conf)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("doctor: %v", err)
	}
	doctorOut := string(out)
	metrics := scrape(t, filepath.Join(dir, "ctl.sock"))
	d.stop(t)

	keyRow := top.Table("key").Row(key)
	trueRow := top.Table("exe").Row("/usr/bin/true")
	if keyRow == nil || trueRow == nil {
		t.Fatalf("top lacks key %s or /usr/bin/true: %+v %+v", key, top.Table("key"), top.Table("exe"))
	}
	// Counts equal to the events the log holds up to the marker (doctor's
	// own exec matched the rule again after it).
	log := catLog(t, logDir)
	var logKey, logTrue uint64
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, diagMarker) {
			break
		}
		if !strings.HasPrefix(l, "type=SYSCALL ") || !strings.Contains(l, ` key="`+key+`"`) {
			continue
		}
		logKey++
		if strings.Contains(l, ` exe="/usr/bin/true" `) {
			logTrue++
		}
	}
	if keyRow.Total != logKey || keyRow.Err != 0 {
		t.Errorf("top: key %s total %d (err %d); the log holds %d of its events", key, keyRow.Total, keyRow.Err, logKey)
	}
	if trueRow.Total != logTrue {
		t.Errorf("top: /usr/bin/true total %d; the log holds %d such events", trueRow.Total, logTrue)
	}
	kernelLost := uint64(0)
	for _, l := range top.Loss {
		if l.Cause == "kernel" {
			kernelLost = l.Total
		}
	}
	if top.LostTotal == 0 && trueRow.Total < runs {
		t.Errorf("no loss, yet /usr/bin/true counted %d times for %d runs", trueRow.Total, runs)
	}
	if trueRow.Total+kernelLost < runs {
		t.Errorf("/usr/bin/true counted %d times and %d records lost, for %d runs", trueRow.Total, kernelLost, runs)
	}
	t.Logf("top: key %d events (log %d), /usr/bin/true %d (log %d), events %d, backlog peak %d, lost %d",
		keyRow.Total, logKey, trueRow.Total, logTrue, top.Events, top.BacklogPeak, top.LostTotal)

	// The metrics export the key, and no more than the top rows of each
	// table.
	m := regexp.MustCompile(`(?m)^auditdrain_top_events_total\{dim="key",name="` + key + `"\} (\d+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Errorf("metrics lack the key's series:\n%s", metrics)
	} else if n, _ := strconv.ParseUint(m[1], 10, 64); n < keyRow.Total {
		t.Errorf("metrics: key %s at %d, below top's %d", key, n, keyRow.Total)
	}
	if n := strings.Count(metrics, "\nauditdrain_top_events_total{"); n == 0 || n > 6*10 {
		t.Errorf("%d auditdrain_top_events_total series; want 1..60", n)
	}

	// doctor names the rule as the source of more than 90% of events.
	m = regexp.MustCompile(`rule key ` + key + ` is the source of ([0-9.]+)% of events`).FindStringSubmatch(doctorOut)
	if m == nil {
		t.Fatalf("doctor does not name %s as the busiest rule:\n%s", key, doctorOut)
	}
	if pct, _ := strconv.ParseFloat(m[1], 64); pct <= 90 {
		t.Errorf("doctor: %s makes %.1f%% of events, want > 90%%:\n%s", key, pct, doctorOut)
	}
	if !strings.Contains(doctorOut, "an unfiltered execve rule") || !strings.Contains(doctorOut, "-F auid>=1000 -F auid!=unset -k "+key) {
		t.Errorf("doctor suggests no narrower rule for %s:\n%s", key, doctorOut)
	}
	// A backlog of at least the observed peak.
	rec := regexp.MustCompile(`(?m)fix: rules\.d: -b (\d+)$`).FindStringSubmatch(doctorOut)
	if rec == nil {
		t.Fatalf("doctor recommends no backlog_limit:\n%s", doctorOut)
	}
	if n, _ := strconv.ParseUint(rec[1], 10, 64); n < top.BacklogPeak || n <= 64 {
		t.Errorf("doctor recommends -b %d; observed peak %d, limit 64:\n%s", n, top.BacklogPeak, doctorOut)
	}
	if kernelLost > 0 && !strings.Contains(doctorOut, "ERROR  backlog: the kernel's backlog filled up") {
		t.Errorf("the kernel lost %d records; doctor does not blame the backlog:\n%s", kernelLost, doctorOut)
	}
	// Any loss is reported with its cause, and is an error.
	for _, l := range top.Loss {
		if l.Total > 0 && l.Cause != "gap" {
			if !strings.Contains(doctorOut, "records lost, cause "+l.Cause) {
				t.Errorf("loss %s=%d not reported:\n%s", l.Cause, l.Total, doctorOut)
			}
			if cmd.ProcessState.ExitCode() != 1 {
				t.Errorf("doctor exit %d with loss; want 1", cmd.ProcessState.ExitCode())
			}
		}
	}
	if t.Failed() {
		t.Logf("doctor:\n%s", doctorOut)
	}
}

// scrape reads /metrics from the control socket at sock.
func scrape(t *testing.T, sock string) string {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	resp, err := cl.Get("http://auditdrain/metrics")
	if err != nil {
		t.Fatalf("scraping %s: %v", sock, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A quiet, well-tuned machine: a narrow rule, a large backlog, no rate
// limit; doctor reports no error and exits 0.
func TestDoctorQuietMachine(t *testing.T) {
	k := audittest.Kernel(t)
	k.StopAuditd()
	dir := t.TempDir()
	conf, _ := diagConfig(t, dir, "backlog_limit = 8192", "rate_limit = 0", "failure = 1")
	d := startDaemon(t, "--config", conf)
	d.waitReady(t)
	k.AddRule("-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=unset -k " + k.Key("diag_quiet"))
	topJSON(t, conf) // the daemon's first counts are published
	cmd := exec.Command(binPath, "doctor", "--config", conf)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n0 errors, ") {
		t.Errorf("doctor on a quiet machine: %v\n%s", err, out)
	}
	for _, want := range []string{"OK     backlog: backlog_limit 8192", "OK     loss: no record lost", "OK     rate_limit"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	d.stop(t)
}

// As non-root, doctor runs the checks it can (command line, config, log
// disk), says the rest needs root, and does not fail for it.
func TestDoctorAsNonRoot(t *testing.T) {
	bin := binPath
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// A copy nobody may run: binPath's directory is root's only.
		dir := t.TempDir()
		for _, d := range []string{filepath.Dir(dir), dir} { // the test's temporary root too
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(binPath)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "auditdrain")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	// A config everyone may read (root's, so trusted).
	conf := filepath.Join(filepath.Dir(bin), "auditdrain.conf")
	if err := os.WriteFile(conf, []byte("log_dir = "+t.TempDir()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "doctor", "--json", "--config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Logf("stderr: %s", ee.Stderr)
	}
	var fs []struct {
		Check    string `json:"check"`
		Severity string `json:"severity"`
		Title    string `json:"title"`
	}
	if jerr := json.Unmarshal(out, &fs); jerr != nil {
		t.Fatalf("doctor --json as nobody: %v, %v\n%s", err, jerr, out)
	}
	checks := map[string]bool{}
	for _, f := range fs {
		checks[f.Check] = true
		if f.Severity == "error" && err == nil {
			t.Errorf("an error finding, yet exit 0: %+v", f)
		}
	}
	for _, want := range []string{"access", "cmdline", "disk"} {
		if !checks[want] {
			t.Errorf("as nobody, no %s finding: %s", want, out)
		}
	}
	for _, root := range []string{"rules", "loss", "failure", "rate_limit"} {
		if checks[root] {
			t.Errorf("as nobody, a %s finding (needs root): %s", root, out)
		}
	}
}
