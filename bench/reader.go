package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Reader names, as given to --readers.
const (
	ReaderAuditdrain = "auditdrain"  // this build's daemon, writing its log
	ReaderDiscard    = "discard"     // the daemon with its writer replaced by a counter
	ReaderAuditdRaw  = "auditd-raw"  // the installed auditd, log_format RAW, flush NONE
	ReaderAuditdData = "auditd-data" // the installed auditd, log_format RAW, flush DATA (compliance setting)
	ReaderAuditd     = "auditd"      // the installed auditd with its shipped config
	ReaderNone       = "none"        // no reader registered
	ReaderFloor      = "floor"       // one thread blocking in recvmmsg, discarding: the machine's floor
)

// DefaultReaders returns the readers a bench compares when none are named.
func DefaultReaders() []string {
	return []string{ReaderAuditdrain, ReaderFloor, ReaderAuditdRaw, ReaderAuditd, ReaderNone}
}

// AllReaders lists every reader the bench knows.
func AllReaders() []string {
	return []string{ReaderAuditdrain, ReaderFloor, ReaderDiscard, ReaderAuditdRaw, ReaderAuditd, ReaderAuditdData, ReaderNone}
}

// ErrUnknownReader is returned for a reader name AllReaders does not list.
var ErrUnknownReader = errors.New("bench: unknown reader")

const (
	// readyTimeout bounds the wait for a reader to register.
	readyTimeout = 15 * time.Second
	// stopTimeout is how long a reader may take to drain and exit after
	// SIGTERM before it is killed.
	stopTimeout = 30 * time.Second
	// auditdLogName is the log file auditd is told to write in its
	// temporary directory; rotated files get a numeric suffix.
	auditdLogName = "audit.log"
)

// readerEnv is what starting readers needs. It is read-only once built.
type readerEnv struct {
	bin        string   // the auditdrain binary under test
	self       string   // the binary that runs the floor reader
	sets       []string // --set key=value options for auditdrain
	settings   Settings // kernel settings, also given to auditdrain
	auditd     string   // the auditd binary
	auditdConf string   // auditd's shipped configuration file
	kernel     *kernel
}

// runningReader is one reader process started for one step, with its log
// under a temporary directory. The "none" reader has no process and its
// methods do nothing. A runningReader is used by one goroutine.
type runningReader struct {
	env     *readerEnv
	name    string
	logDir  string
	ctlSock string
	// countFile is where the floor reader publishes its count of records.
	countFile string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has been waited for
	waitErr   error         // valid once done is closed
	output    *tailBuffer   // the tail of its stdout and stderr
	stopped   bool
}

// startReader starts reader name with its files under dir and waits until
// it is the registered audit daemon.
func startReader(ctx context.Context, env *readerEnv, name, dir string) (*runningReader, error) {
	r := &runningReader{env: env, name: name, logDir: filepath.Join(dir, "log"), output: &tailBuffer{max: 4 << 10}}
	var argv []string
	switch name {
	case ReaderNone:
		return r, nil
	case ReaderAuditdrain, ReaderDiscard:
		// A config file with only rules_dir emptied: the daemon runs on its
		// defaults plus --set, whatever is installed in /etc, and does not
		// load the machine's /etc/audit/rules.d (its -D would delete the
		// bench's rules).
		conf := filepath.Join(dir, "auditdrain.conf")
		if err := os.WriteFile(conf, []byte("rules_dir =\n"), 0o600); err != nil {
			return nil, fmt.Errorf("bench: cannot write %q: %w", conf, err)
		}
		r.ctlSock = filepath.Join(dir, "control.sock")
		argv = append(argv, env.bin, "run", "--config", conf, "--log-dir", r.logDir, "--control-socket", r.ctlSock)
		if name == ReaderDiscard {
			argv = append(argv, "--discard")
		}
		for _, kv := range env.sets {
			argv = append(argv, "--set", kv)
		}
		// The kernel settings come last so that they win: every reader
		// runs under the same ones.
		s := env.settings
		argv = append(argv, "--set", "enabled=1",
			"--set", fmt.Sprintf("backlog_limit=%d", s.BacklogLimit),
			"--set", fmt.Sprintf("backlog_wait_time=%d", s.BacklogWaitTime),
			"--set", fmt.Sprintf("rate_limit=%d", s.RateLimit))
	case ReaderFloor:
		argv = []string{env.self, "bench", floorCommand, "--count-file", floorCountFile(dir)}
		r.countFile = floorCountFile(dir)
	case ReaderAuditd, ReaderAuditdRaw, ReaderAuditdData:
		confDir := filepath.Join(dir, "etc")
		flush := map[string]string{ReaderAuditdRaw: "NONE", ReaderAuditdData: "DATA"}[name]
		if err := writeAuditdConf(env.auditdConf, confDir, filepath.Join(r.logDir, auditdLogName), flush); err != nil {
			return nil, err
		}
		argv = []string{env.auditd, "-n", "-c", confDir}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownReader, name)
	}
	if err := os.MkdirAll(r.logDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: cannot create log directory %q: %w", r.logDir, err)
	}

	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Stdout, r.cmd.Stderr = r.output, r.output
	r.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // a Ctrl-C on the terminal reaches only the bench, which stops it in order
		Pdeathsig: syscall.SIGTERM, // and if the bench dies, so does it
	}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: cannot start reader %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	r.done = make(chan struct{})
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()
	if err := env.kernel.waitRegistered(ctx, r.cmd.Process.Pid, r.done, readyTimeout); err != nil {
		r.stop()
		return nil, fmt.Errorf("bench: reader %s did not start: %w (output: %s)", name, err, r.output.String())
	}
	return r, nil
}

// pid returns the reader's process id, or 0 for "none".
func (r *runningReader) pid() int {
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// isDaemon reports whether the reader is an auditdrain daemon.
func (r *runningReader) isDaemon() bool {
	return r.name == ReaderAuditdrain || r.name == ReaderDiscard
}

// alive reports whether the reader's process is still running.
func (r *runningReader) alive() bool {
	if r.cmd == nil {
		return true
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// estimated reports whether the reader writes nothing, so that the bench's
// events are estimated from its count of records read.
func (r *runningReader) estimated() bool {
	return r.name == ReaderDiscard || r.name == ReaderFloor
}

// recordsRead returns the records an estimated reader has read so far.
func (r *runningReader) recordsRead(ctx context.Context) (int64, error) {
	if r.name == ReaderFloor {
		return readCounter(r.countFile)
	}
	st, err := r.daemonStatus(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := statusNumber(st, "records_read")
	if !ok {
		return 0, fmt.Errorf("bench: %s reader's status has no records_read", r.name)
	}
	return int64(n), nil
}

// daemonStatus asks an auditdrain reader for its status (`status --json`).
func (r *runningReader) daemonStatus(ctx context.Context) (map[string]any, error) {
	cmd := exec.CommandContext(ctx, r.env.bin, "status", "--json", "--control-socket", r.ctlSock)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench: %s status --json --control-socket %s: %w (stderr: %s)", r.env.bin, r.ctlSock, err, tail(stderr.String(), 300))
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("bench: cannot decode daemon status %q: %w", tail(string(out), 300), err)
	}
	return v, nil
}

// progress returns a figure that grows while the reader is still taking in
// records: the daemon's records_read, or the size of auditd's log.
func (r *runningReader) progress(ctx context.Context) (int64, error) {
	switch {
	case r.cmd == nil:
		return 0, nil
	case r.isDaemon(), r.name == ReaderFloor:
		return r.recordsRead(ctx)
	default:
		return dirSize(r.logDir)
	}
}

// usage returns the reader's CPU seconds so far and its peak RSS.
func (r *runningReader) usage() (float64, int64, error) {
	if r.cmd == nil {
		return 0, 0, nil
	}
	return procUsage(r.pid())
}

// stop stops the reader: SIGTERM, then SIGKILL after stopTimeout, then a
// wait until the kernel no longer has it registered. It is idempotent; only
// the first call can return an error. It never signals any other process.
func (r *runningReader) stop() error {
	if r.cmd == nil || r.stopped {
		return nil
	}
	r.stopped = true
	pid := r.pid()
	var errs []error
	if r.alive() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(stopTimeout):
			r.cmd.Process.Kill()
			<-r.done
			errs = append(errs, fmt.Errorf("bench: reader %s (pid %d) did not stop within %v of SIGTERM; killed", r.name, pid, stopTimeout))
		}
	}
	if r.waitErr != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("bench: reader %s (pid %d) exited: %w (output: %s)", r.name, pid, r.waitErr, r.output.String()))
	}
	if err := r.env.kernel.waitUnregistered(pid, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// count counts the records in the stopped reader's log, the events m
// matches among them, and the bytes the log takes.
func (r *runningReader) count(ctx context.Context, m Matcher) (Count, int64, error) {
	switch r.name {
	case ReaderAuditdrain:
		c, err := countCat(ctx, r.env.bin, r.logDir, m)
		if err != nil {
			return c, 0, err
		}
		size, err := dirSize(r.logDir)
		return c, size, err
	case ReaderAuditd, ReaderAuditdRaw, ReaderAuditdData:
		return countFiles(r.logDir, auditdLogName, m)
	}
	return Count{}, 0, nil
}

// statusNumber finds a number called key in auditdrain's `status --json`
// output: in its "daemon" object, else at the top level.
func statusNumber(st map[string]any, key string) (float64, bool) {
	n, ok := statusValue(st, key).(float64)
	return n, ok
}

// statusValue is a status field: in its daemon section, else at the top.
func statusValue(st map[string]any, key string) any {
	if d, ok := st["daemon"].(map[string]any); ok {
		if v, ok := d[key]; ok {
			return v
		}
	}
	return st[key]
}

// writeAuditdConf writes dir/auditd.conf: auditd's shipped configuration
// with the log redirected to logFile, rotation set to keep every file (so
// that every record written can be counted; rotation still costs what it
// costs), and with rawFlush set, log_format RAW and that flush setting.
func writeAuditdConf(shipped, dir, logFile string, rawFlush string) error {
	base, err := os.ReadFile(shipped)
	if err != nil {
		return fmt.Errorf("bench: cannot read auditd's configuration %q: %w", shipped, err)
	}
	set := map[string]string{"log_file": logFile, "max_log_file_action": "KEEP_LOGS"}
	if rawFlush != "" {
		set["log_format"], set["flush"] = "RAW", rawFlush
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("bench: cannot create %q: %w", dir, err)
	}
	path := filepath.Join(dir, "auditd.conf")
	// auditd refuses a configuration file others may write.
	if err := os.WriteFile(path, auditdConf(base, set), 0o640); err != nil {
		return fmt.Errorf("bench: cannot write %q: %w", path, err)
	}
	return nil
}

// auditdConf returns an auditd.conf text with the keys in set given the
// values in set: lines setting them are replaced, missing ones appended.
func auditdConf(base []byte, set map[string]string) []byte {
	var out bytes.Buffer
	done := map[string]bool{}
	for line := range strings.Lines(string(base)) {
		k, _, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if v, want := set[k]; ok && want && !strings.HasPrefix(k, "#") {
			if !done[k] {
				fmt.Fprintf(&out, "%s = %s\n", k, v)
				done[k] = true
			}
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	// Deterministic output.
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&out, "%s = %s\n", k, set[k])
	}
	return out.Bytes()
}

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strconv.Quote(strings.TrimSpace(string(t.b)))
}

// isAuditd reports whether a reader is one of the installed auditd's.
func isAuditd(name string) bool {
	return name == ReaderAuditd || name == ReaderAuditdRaw || name == ReaderAuditdData
}
