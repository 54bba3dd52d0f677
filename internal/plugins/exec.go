package plugins

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval is how often an idle feeder looks at its program (has it
// exited?) and how long one write to a program that does not read may
// block before the feeder looks again.
const pollInterval = 100 * time.Millisecond

var hup = syscall.SIGHUP

// execState is the feeder's view of a program plugin. Feeder only, except
// killed, which stop reads after the feeder is done.
type execState struct {
	out    *os.File   // our end of the stdin socket pair (non-blocking)
	theirs *os.File   // the program's end, kept to count what it left unread
	exited chan error // receives cmd.Wait's result
	buf    []byte     // the batch being written
	tail   []byte     // what a program that exited left unread
	killed string     // set when Stop had to SIGKILL
}

// runExec is the feeder of a program plugin: it starts the program, writes
// every queued record to its stdin, restarts it when it exits, and shuts it
// down on Stop.
func (p *plugin) runExec() {
	defer close(p.done)
	x := p.exec
	p.spawn()
	for {
		p.checkExit(nil)
		p.reportOverflow()
		if p.failed.Load() {
			p.dropQueued()
		}
		if !p.q.Wait(pollInterval) {
			if p.q.Closed() {
				break
			}
			continue
		}
		x.buf = x.buf[:0]
		var n uint64
		p.q.Drain(p.batchBytes, func(typ uint16, payload []byte) {
			x.buf = p.enc.appendRecord(x.buf, typ, payload)
			n++
		})
		p.consumed.Add(n)
		p.send(x.buf, n)
	}
	p.shutdown()
}

// spawn starts the program, and restarts it while it cannot start and
// restarts remain. Feeder only.
func (p *plugin) spawn() {
	for {
		err := p.startProcess()
		if err == nil {
			return
		}
		p.d.logf("plugins: plugin %s: cannot run %s: %v", p.cfg.Name, p.cfg.Path, err)
		if !p.mayRestart() {
			return
		}
	}
}

// mayRestart counts a restart, or, when MaxRestarts are used up, gives the
// plugin up until the next Reload. Feeder only.
func (p *plugin) mayRestart() bool {
	p.mu.Lock()
	if p.restarts >= p.d.opts.MaxRestarts {
		p.state, p.pid, p.proc = StateFailed, 0, nil
		p.mu.Unlock()
		p.failed.Store(true)
		p.d.logf("plugins: plugin %s has exceeded max_restarts (%d); its records are counted lost until a reload", p.cfg.Name, p.d.opts.MaxRestarts)
		return false
	}
	p.restarts++
	p.state = StateRestarting
	p.mu.Unlock()
	return true
}

// startProcess runs the program as auditd 3.0.9 does: argv[0] its path,
// then its args, an empty environment, stdin one end of a unix stream
// socket pair, working directory /. The program file is checked again (it
// may have been replaced since the config was read). Feeder only.
func (p *plugin) startProcess() error {
	if err := checkTrusted(p.cfg.Path); err != nil {
		return fmt.Errorf("plugin program: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socketpair", err)
	}
	if err := unix.SetNonblock(fds[1], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return os.NewSyscallError("fcntl", err)
	}
	theirs := os.NewFile(uintptr(fds[0]), p.cfg.Name+" stdin")
	out := os.NewFile(uintptr(fds[1]), p.cfg.Name+" feed") // pollable: non-blocking
	cmd := &exec.Cmd{
		Path:  p.cfg.Path,
		Args:  append([]string{p.cfg.Path}, p.cfg.Args...),
		Env:   []string{},
		Dir:   "/",
		Stdin: theirs,
	}
	if out := p.d.opts.Output; out != nil { // not a typed nil in the interface
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		theirs.Close()
		out.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	x := p.exec
	x.out, x.theirs, x.exited = out, theirs, exited
	p.mu.Lock()
	p.state, p.pid, p.proc, p.ino = StateRunning, cmd.Process.Pid, cmd.Process, inode(p.cfg.Path)
	restarts := p.restarts
	p.mu.Unlock()
	if restarts > 0 {
		p.d.logf("plugins: plugin %s was restarted (pid %d, restart %d of %d)", p.cfg.Name, cmd.Process.Pid, restarts, p.d.opts.MaxRestarts)
	}
	return nil
}

// send writes one batch of n records to the program. A write that cannot
// complete within pollInterval is resumed after a look at the program: if
// it exited, the batch's unwritten rest is counted with what it left
// unread and it is restarted; on Stop, writing ends at the stop deadline.
// Feeder only.
func (p *plugin) send(b []byte, n uint64) {
	for {
		x := p.exec
		if x.out == nil { // given up
			p.lostFeed.Add(n)
			return
		}
		dl := time.Now().Add(pollInterval)
		stopping := p.q.Closed()
		if stopping {
			stopBy := p.stopDeadline()
			if !time.Now().Before(stopBy) {
				lost := p.enc.unread(nil, b)
				p.lostFeed.Add(lost)
				p.delivered.Add(n - lost)
				return
			}
			if stopBy.Before(dl) {
				dl = stopBy
			}
		}
		x.out.SetWriteDeadline(dl)
		k, err := x.out.Write(b)
		b = b[k:]
		if len(b) == 0 {
			p.delivered.Add(n)
			return
		}
		if p.checkExit(b) {
			// The rest is counted lost and not written to the new
			// program: its first record is cut.
			p.delivered.Add(n - p.enc.unread(nil, b))
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// EPIPE and the like: the program is going away; wait for
			// its exit to be reported.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// checkExit handles the program's exit if it has exited: what it left
// unread in its stdin and rest (the unwritten rest of the batch being
// sent) are counted lost, and it is restarted if restarts remain. It
// reports whether the program had exited. Feeder only.
func (p *plugin) checkExit(rest []byte) bool {
	x := p.exec
	if x.exited == nil {
		return false
	}
	var werr error
	select {
	case werr = <-x.exited:
	default:
		return false
	}
	pid, lost := p.reap(rest)
	p.mu.Lock()
	stopping := p.stopCtx != nil
	p.mu.Unlock()
	if stopping {
		p.d.logf("plugins: plugin %s (pid %d) exited while stopping (%s); %d records it had not read are lost", p.cfg.Name, pid, exitText(werr), lost)
		return true
	}
	p.d.logf("plugins: plugin %s (pid %d) terminated unexpectedly (%s); %d records it had not read are lost", p.cfg.Name, pid, exitText(werr), lost)
	if p.mayRestart() {
		p.spawn()
	}
	return true
}

// reap closes the descriptors of a program that has exited and counts what
// it did not read: what it left in its stdin (still there, since we hold a
// descriptor of its end) and rest, the unwritten rest of the batch being
// sent. Records it left unread were counted delivered when written; they
// move to lost. It returns the program's pid and the records lost. Feeder
// only.
func (p *plugin) reap(rest []byte) (pid int, lost uint64) {
	x := p.exec
	x.exited = nil
	x.tail = x.tail[:0]
	fd := int(x.theirs.Fd())
	for {
		if len(x.tail) == cap(x.tail) {
			x.tail = append(x.tail, make([]byte, 64<<10)...)[:len(x.tail)]
		}
		m, _, err := unix.Recvfrom(fd, x.tail[len(x.tail):cap(x.tail)], unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		x.tail = x.tail[:len(x.tail)+m]
	}
	lost = p.enc.unread(x.tail, rest)
	written := lost - p.enc.unread(nil, rest) // written, then left unread
	p.lostFeed.Add(lost)
	p.delivered.Add(-written)
	x.out.Close() // a no-op if shutdown closed it
	x.theirs.Close()
	x.out, x.theirs = nil, nil
	p.mu.Lock()
	pid = p.pid
	p.pid, p.proc = 0, nil
	p.mu.Unlock()
	return pid, lost
}

// shutdown ends the program after the queue was written: its stdin is
// closed (EOF), it gets SIGTERM, and SIGKILL if it is still running after
// StopTimeout or when Stop's context is done. Records it did not read are
// counted lost. Feeder only.
func (p *plugin) shutdown() {
	x := p.exec
	if x.exited == nil {
		return // not running (given up)
	}
	x.out.Close()
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(p.d.opts.StopTimeout)
	defer t.Stop()
	var werr error
	exited := true
	select {
	case werr = <-x.exited:
	case <-t.C:
		exited = false
	case <-p.stopContext().Done():
		exited = false
	}
	if !exited {
		select {
		case werr = <-x.exited:
		default:
			p.mu.Lock()
			x.killed = fmt.Sprintf("(pid %d) did not exit within %v of SIGTERM; killed", p.pid, p.d.opts.StopTimeout)
			p.mu.Unlock()
			p.signal(syscall.SIGKILL)
			werr = <-x.exited
		}
	}
	if pid, lost := p.reap(nil); lost > 0 {
		p.d.logf("plugins: plugin %s (pid %d) exited (%s) leaving %d records unread", p.cfg.Name, pid, exitText(werr), lost)
	}
}

// signal sends sig to the running program, if any.
func (p *plugin) signal(sig os.Signal) {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if proc != nil {
		_ = proc.Signal(sig) // os.ErrProcessDone once it has exited
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// inode returns the inode of the file at path (after symbolic links), 0 if
// it cannot be read.
func inode(path string) uint64 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}
