package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// The load runs in a process of its own, started for each step after audit
// is enabled. On a machine where audit was never enabled before the bench
// started, the kernel (audit_alloc) gives no audit context to threads that
// existed before the first enable: a load run on the bench's own threads
// would not be audited at all. A separate process also keeps the bench's
// own goroutines (status polls, the backlog poller) off the load's threads.
//
// Protocol, over the child's stdin and stdout, one JSON line each way:
// the child (`auditdrain bench load-worker --load NAME --scratch DIR`)
// prints {"ready":true} once set up, the parent adds the rules scoped to
// the child's pid and sends the LoadSpec, the child runs it and prints
// {"events":N,"elapsed_ns":D,"error":"..."} and exits.

// loadWorkerCommand is the hidden bench subcommand that runs a load.
const loadWorkerCommand = "load-worker"

// workerResult is the child's answer.
type workerResult struct {
	Ready     bool   `json:"ready,omitempty"`
	Events    int64  `json:"events"`
	ElapsedNs int64  `json:"elapsed_ns"`
	Error     string `json:"error,omitempty"`
}

// loadProcess is a load child waiting for its spec. Its Load describes the
// rules and matchers for the child's pid.
type loadProcess struct {
	Load
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	done bool
}

// startLoadProcess starts bin's load worker for load name and waits until it
// is ready.
func startLoadProcess(ctx context.Context, bin, name, scratch string) (*loadProcess, error) {
	cmd := exec.Command(bin, "bench", loadWorkerCommand, "--load", name, "--scratch", scratch)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr tailBuffer
	stderr.max = 2 << 10
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: cannot start the load process (%s): %w", strings.Join(cmd.Args, " "), err)
	}
	p := &loadProcess{cmd: cmd, in: in, out: bufio.NewReader(out)}
	var ready workerResult
	if err := p.read(ctx, &ready); err != nil || !ready.Ready {
		p.kill()
		return nil, fmt.Errorf("bench: load process did not get ready: %v %s (stderr: %s)", err, ready.Error, stderr.String())
	}
	if p.Load, err = NewLoad(name, scratch, cmd.Process.Pid); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// read reads one JSON line from the child, giving up when ctx ends.
func (p *loadProcess) read(ctx context.Context, v any) error {
	type line struct {
		b   []byte
		err error
	}
	ch := make(chan line, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- line{b, err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			return fmt.Errorf("reading the load process's answer: %w", l.err)
		}
		return json.Unmarshal(l.b, v)
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	}
}

// Run sends spec to the child, waits for its outcome and reaps it. It is
// called once.
func (p *loadProcess) Run(ctx context.Context, spec LoadSpec) (LoadOutcome, error) {
	b, _ := json.Marshal(spec)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.kill()
		return LoadOutcome{}, fmt.Errorf("bench: cannot start the load: %w", err)
	}
	var res workerResult
	// The child stops on its own after spec.Duration; a cancelled ctx
	// makes it stop early through SIGINT.
	stop := context.AfterFunc(ctx, func() { p.cmd.Process.Signal(syscall.SIGINT) })
	err := p.read(context.WithoutCancel(ctx), &res)
	stop()
	werr := p.wait()
	out := LoadOutcome{Events: res.Events, Elapsed: time.Duration(res.ElapsedNs)}
	if err != nil {
		return out, fmt.Errorf("bench: load process: %w", errors.Join(err, werr))
	}
	if res.Error != "" {
		return out, errors.New(res.Error)
	}
	return out, nil
}

// close ends a child that never ran (or reaps one that did).
func (p *loadProcess) close() {
	if !p.done {
		p.kill()
	}
}

func (p *loadProcess) kill() {
	p.cmd.Process.Kill()
	p.wait()
}

func (p *loadProcess) wait() error {
	if p.done {
		return nil
	}
	p.done = true
	p.in.Close()
	return p.cmd.Wait()
}

// loadWorker is the child's side: set up the load for this process, say
// ready, read the spec, run, answer.
func loadWorker(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	var name, scratch string
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--load":
			name = args[i+1]
		case "--scratch":
			scratch = args[i+1]
		default:
			return fmt.Errorf("%w: load-worker: unknown flag %q", ErrOptions, args[i])
		}
	}
	enc := json.NewEncoder(stdout)
	l, err := NewLoad(name, scratch, os.Getpid())
	if err != nil {
		return enc.Encode(workerResult{Error: err.Error()})
	}
	if err := enc.Encode(workerResult{Ready: true}); err != nil {
		return err
	}
	var spec LoadSpec
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("bench: load-worker: reading the spec: %w", err)
	}
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("bench: load-worker: bad spec %q: %w", line, err)
	}
	out, err := l.Run(ctx, spec)
	res := workerResult{Events: out.Events, ElapsedNs: int64(out.Elapsed)}
	if err != nil {
		res.Error = err.Error()
	}
	return enc.Encode(res)
}
