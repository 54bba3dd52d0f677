package audittest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Paths of Debian's auditd and audispd-plugins packages.
const (
	AuditdBin         = "/usr/sbin/auditd"
	AudispRemoteConf  = "/etc/audit/audisp-remote.conf"
	AudispRemotePlug  = "/etc/audit/plugins.d/au-remote.conf"
	aggregatorTimeout = 15 * time.Second
)

// Aggregator runs a second, real auditd that only aggregates
// (local_events = no, tcp_listen_port on 127.0.0.1; it never registers with
// the kernel, so it runs beside the daemon under test), points
// audisp-remote.conf at it (restored when the test ends) and returns the
// path of its log. The aggregator is stopped, by its pid, when the test
// ends. Call it with the machine-wide lock held (Kernel holds it): the
// aggregator writes /var/run/auditd.pid and audisp-remote.conf is
// machine-wide.
func Aggregator(t testing.TB) string {
	t.Helper()
	for _, f := range []string{AuditdBin, AudispRemotePlug, AudispRemoteConf} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v (apt-get install -y auditd audispd-plugins)", err)
		}
	}
	port := freePort(t)
	log := startAggregator(t, port)
	pointAudispRemote(t, port)
	return log
}

// AudispRemotePlugin writes Debian's au-remote.conf, made active, into dir.
func AudispRemotePlugin(t testing.TB, dir string) {
	t.Helper()
	deb, err := os.ReadFile(AudispRemotePlug)
	if err != nil {
		t.Fatal(err)
	}
	active := regexp.MustCompile(`(?m)^active *=.*$`).ReplaceAllString(string(deb), "active = yes")
	p := filepath.Join(dir, "au-remote.conf")
	if err := os.WriteFile(p, []byte(active), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
}

// RecordLines returns the lines of an auditd log that are not a daemon's
// own (type=DAEMON_START, DAEMON_ACCEPT, DAEMON_ERR...).
func RecordLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return recordLines(b)
}

func recordLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "type=DAEMON_") {
			out = append(out, sc.Text())
		}
	}
	return out
}

// RecordLinesOf is RecordLines of a log's text.
func RecordLinesOf(log string) []string { return recordLines([]byte(log)) }

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pointAudispRemote sets remote_server = 127.0.0.1 and port in
// audisp-remote.conf, and restores the file when the test ends.
func pointAudispRemote(t testing.TB, port int) {
	orig, err := os.ReadFile(AudispRemoteConf)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(AudispRemoteConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(AudispRemoteConf, orig, fi.Mode().Perm()); err != nil {
			t.Errorf("restoring %s: %v", AudispRemoteConf, err)
		}
	})
	conf := regexp.MustCompile(`(?m)^remote_server *=.*$`).ReplaceAllString(string(orig), "remote_server = 127.0.0.1")
	conf = regexp.MustCompile(`(?m)^port *=.*$`).ReplaceAllString(conf, fmt.Sprintf("port = %d", port))
	if !strings.Contains(conf, "remote_server = 127.0.0.1\n") || !strings.Contains(conf, fmt.Sprintf("port = %d\n", port)) {
		t.Fatalf("%s has no remote_server or port line to set:\n%s", AudispRemoteConf, orig)
	}
	if err := os.WriteFile(AudispRemoteConf, []byte(conf), fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// startAggregator runs `auditd -n -c DIR` with local_events = no and
// tcp_listen_port = port and waits until it listens.
func startAggregator(t testing.TB, port int) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "audit.log")
	plugins := filepath.Join(dir, "plugins.d")
	if err := os.Mkdir(plugins, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`local_events = no
write_logs = yes
log_file = %s
log_format = RAW
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 100
num_logs = 5
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
tcp_listen_port = %d
tcp_listen_queue = 5
tcp_max_per_addr = 1
use_libwrap = no
tcp_client_max_idle = 0
distribute_network = no
plugin_dir = %s
`, log, port, plugins)
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "auditd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(AuditdBin, "-n", "-c", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(aggregatorTimeout):
			t.Errorf("aggregator auditd (pid %d) did not exit within %v of SIGTERM; killing it", cmd.Process.Pid, aggregatorTimeout)
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(aggregatorTimeout)
	for !listening(port) {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("aggregator auditd exited (%v): %s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aggregator auditd does not listen on port %d after %v", port, aggregatorTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return log
}

// listening reports whether a TCP socket listens on port, from
// /proc/net/tcp and tcp6, without connecting to it.
func listening(port int) bool {
	needle := fmt.Sprintf(":%04X ", port)
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
