package forward

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// natsServer is a nats-server -js of the test, on a free loopback port
// with its store in a temporary directory. Stop and Start keep the port
// and the store.
type natsServer struct {
	t     *testing.T
	bin   string
	port  int
	store string
	args  []string
	cmd   *exec.Cmd
	log   string
}

func (s *natsServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNATS starts a JetStream server, or skips the test without one.
func startNATS(t *testing.T, extra ...string) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (apt-get install nats-server; .ci/run installs it)")
	}
	dir := t.TempDir()
	s := &natsServer{t: t, bin: bin, port: freePort(t), store: filepath.Join(dir, "store"), log: filepath.Join(dir, "nats.log"), args: extra}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *natsServer) Start() {
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
func (s *natsServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}
