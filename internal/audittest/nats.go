package audittest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NATS is a nats-server -js of a test (Debian's nats-server package), on
// a free loopback port with its store in a temporary directory. Stop and
// Start keep the port and the store.
type NATS struct {
	t     testing.TB
	bin   string
	port  int
	store string
	args  []string
	cmd   *exec.Cmd
	log   string
}

// URL is the server's nats:// URL.
func (s *NATS) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// StartNATS starts a JetStream server (extra: more nats-server flags),
// stopped by its pid in cleanup, or skips the test without nats-server.
func StartNATS(t testing.TB, extra ...string) *NATS {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (apt-get install nats-server; .ci/run installs it)")
	}
	dir := t.TempDir()
	s := &NATS{t: t, bin: bin, port: freePort(t), store: filepath.Join(dir, "store"), log: filepath.Join(dir, "nats.log"), args: extra}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) and waits until it listens.
func (s *NATS) Start() {
	s.t.Helper()
	args := append([]string{"-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", s.store, "-l", s.log}, s.args...)
	s.cmd = exec.Command(s.bin, args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			s.t.Fatalf("nats-server did not listen on %d: %s", s.port, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: a crash) and waits for it.
func (s *NATS) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}

// StartNATSCluster starts n JetStream servers clustered on loopback
// ports (each with its own store), stopped by pid in cleanup. JetStream
// needs a few seconds to elect its meta leader after the start: callers
// retry their first stream creation.
func StartNATSCluster(t testing.TB, n int) []*NATS {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (apt-get install nats-server; .ci/run installs it)")
	}
	dir := t.TempDir()
	routes := make([]string, n)
	cports := make([]int, n)
	for i := range n {
		cports[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", cports[i])
	}
	var srvs []*NATS
	for i := range n {
		s := &NATS{t: t, bin: bin, port: freePort(t), store: filepath.Join(dir, fmt.Sprintf("store%d", i)),
			log: filepath.Join(dir, fmt.Sprintf("nats%d.log", i))}
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i))
		text := fmt.Sprintf("server_name: n%d\ncluster {\n  name: test\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n",
			i, cports[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s.args = []string{"-c", conf}
		srvs = append(srvs, s)
	}
	for _, s := range srvs {
		s.Start()
		t.Cleanup(s.Stop)
	}
	return srvs
}

// ClusterURL is the comma-separated URLs of srvs, as NATS clients take
// them.
func ClusterURL(srvs []*NATS) string {
	urls := make([]string, len(srvs))
	for i, s := range srvs {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}
