package audittest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Paths of Debian's audispd-plugins package.
const (
	AudispRemoteConf = "/etc/audit/audisp-remote.conf"
	AudispRemotePlug = "/etc/audit/plugins.d/au-remote.conf"
)

// Aggregator runs (StartAuditd) a second, real auditd that only aggregates
// (local_events = no, tcp_listen_port on this machine; it never registers
// with the kernel, so it runs beside the daemon under test), points
// audisp-remote.conf at it (restored when the test ends) and returns the
// path of its log. The aggregator is stopped, by its pid, when the test
// ends. Call it with the machine-wide lock held (Kernel holds it): the
// aggregator writes /var/run/auditd.pid and audisp-remote.conf is
// machine-wide.
func Aggregator(t testing.TB) string {
	t.Helper()
	for _, f := range []string{AudispRemotePlug, AudispRemoteConf} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v (apt-get install -y auditd audispd-plugins)", err)
		}
	}
	port := freePort(t)
	a := StartAuditd(t, nil, t.TempDir(), map[string]string{
		"local_events": "no", "tcp_listen_port": strconv.Itoa(port), "tcp_listen_queue": "5",
		"tcp_max_per_addr": "1", "use_libwrap": "no", "tcp_client_max_idle": "0", "distribute_network": "no",
	})
	pointAudispRemote(t, port)
	return a.LogFile
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
