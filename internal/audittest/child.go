package audittest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Child is a copy of the running test binary, started as a load process
// after audit is enabled: the kernel gives no audit context to threads that
// existed before the first enable, so a test's own threads may go
// unaudited on a freshly booted machine. The child's side is the test
// binary's TestMain or init, which recognises its environment, calls
// WaitGo and makes its records. The parent adds rules naming Pid, then
// calls Run.
type Child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error

	mu  sync.Mutex
	out bytes.Buffer
}

// StartChild starts the test binary (running no tests) with env added to
// this process's environment. The child is killed, by its pid, when the
// test ends if it is still running.
func StartChild(t testing.TB, env ...string) *Child {
	t.Helper()
	c := &Child{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = (*childOut)(c), (*childOut)(c)
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting the load child: %v", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill() // by pid: the process this test started
			<-c.done
		}
	})
	return c
}

// Pid is the child's process id, for rules scoped to it.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Run tells the child to start (one line on its stdin) and waits until it
// exits. It fails the test, with the child's output, when the child fails
// or is still running after timeout.
func (c *Child) Run(t testing.TB, timeout time.Duration) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("load child: %v\n%s", err, c.Output())
		}
	case <-time.After(timeout):
		t.Fatalf("load child still running after %v:\n%s", timeout, c.Output())
	}
}

// Output returns what the child printed so far.
func (c *Child) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

type childOut Child

func (o *childOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.out.Write(p)
}

// WaitGo is the child's side of Run: it returns once the parent says go.
func WaitGo() error {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go line: %w", err)
	}
	return nil
}
