package plugins

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/auditdrain/auditdrain/internal/ring"
)

// clientQueueBytes is the size of each af_unix client's own queue: what it
// may lag behind (about 460 binary frames or 15,000 lines).
const clientQueueBytes = 4 << 20

// afUnix is the builtin_af_unix plugin: a listening unix stream socket;
// every connected client gets every record in the plugin's format. The
// feeder formats each record once and copies it into every client's own
// queue (a ring: the feeder produces, the client's writer goroutine
// consumes); a record that does not fit is lost for that client only.
type afUnix struct {
	path string
	mode int // -1: leave the mode bind gives

	ln       *net.UnixListener
	nclients atomic.Int32 // read by Dispatch

	mu      sync.Mutex // guards clients (accept goroutine, feeder)
	clients []*afClient
	gen     atomic.Uint64 // bumped when clients changes
	writers sync.WaitGroup

	// Feeder only.
	seen uint64
	view []*afClient
	line []byte
}

// afClient is one connection and its queue.
type afClient struct {
	conn *net.UnixConn
	q    *ring.Ring
	gone atomic.Bool // its writer ended (the client went away)
}

// afUnixArgs reads builtin_af_unix's args as auditd 3.0.9 does: an
// all-digit arg is the socket's mode in octal, an arg with a '/' its path.
// A path is required.
func afUnixArgs(args []string) (mode int, path string, err error) {
	mode = -1
	for _, a := range args {
		switch {
		case a != "" && strings.Trim(a, "0123456789") == "":
			m, err := strconv.ParseUint(a, 8, 32)
			if err != nil || m > 0o7777 {
				return 0, "", fmt.Errorf("%s: args: mode %q is not an octal file mode", BuiltinAFUnix, a)
			}
			mode = int(m)
		case strings.Contains(a, "/"):
			path = a
		default:
			return 0, "", fmt.Errorf("%s: args: %q is neither a mode (octal) nor a socket path", BuiltinAFUnix, a)
		}
	}
	if path == "" {
		return 0, "", fmt.Errorf("%s: args: no socket path (want for example \"args = 0640 /var/run/audispd_events\")", BuiltinAFUnix)
	}
	if len(path) > 107 {
		return 0, "", fmt.Errorf("%s: socket path %s is longer than 107 bytes", BuiltinAFUnix, path)
	}
	return mode, path, nil
}

// listen opens the socket as auditd does: the directory must exist, an
// old file at the path is removed, the mode (if given) is applied.
func (p *plugin) listen() error {
	a := p.afUnix
	if fi, err := os.Stat(filepath.Dir(a.path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: directory of %s: %w", BuiltinAFUnix, a.path, errOr(err, errors.New("not a directory")))
	}
	if err := os.Remove(a.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", BuiltinAFUnix, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("%s: %w", BuiltinAFUnix, err)
	}
	if a.mode >= 0 {
		if err := os.Chmod(a.path, os.FileMode(a.mode)); err != nil {
			ln.Close()
			return fmt.Errorf("%s: %w", BuiltinAFUnix, err)
		}
	}
	a.ln = ln
	p.setState(StateListening)
	go p.accept()
	return nil
}

func errOr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// accept adds every connecting client until the listener is closed.
func (p *plugin) accept() {
	a := p.afUnix
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.d.logf("plugins: plugin %s: accept on %s: %v", p.cfg.Name, a.path, err)
			}
			return
		}
		q, err := ring.New(clientQueueBytes)
		if err != nil {
			conn.Close()
			continue
		}
		c := &afClient{conn: conn, q: q}
		a.mu.Lock()
		a.clients = append(a.clients, c)
		a.gen.Add(1) // before nclients: a record Dispatch pushes once it
		// sees the client finds the feeder's refresh seeing it too
		a.nclients.Store(int32(len(a.clients)))
		a.mu.Unlock()
		a.writers.Add(1)
		go p.writeClient(c)
	}
}

// writeClient writes a client's queue to it until the queue is closed and
// written (or the stop deadline passes) or the client goes away.
func (p *plugin) writeClient(c *afClient) {
	a := p.afUnix
	defer a.writers.Done()
	defer c.conn.Close()
	var buf []byte
	var n uint64
	collect := func(_ uint16, rec []byte) {
		buf = append(buf, rec...)
		n++
	}
	for c.q.Wait(0) {
		buf, n = buf[:0], 0
		c.q.Drain(256<<10, collect)
		if c.q.Closed() {
			c.conn.SetWriteDeadline(p.stopDeadline())
		}
		if _, err := c.conn.Write(buf); err != nil {
			c.gone.Store(true)
			if c.q.Closed() {
				p.lostFeed.Add(n)
				c.q.Drain(0, func(uint16, []byte) { p.lostFeed.Add(1) })
			}
			return
		}
		p.delivered.Add(n)
	}
}

// runAFUnix is the af_unix feeder: it formats each record once and copies
// it into every client's queue.
func (p *plugin) runAFUnix() {
	defer close(p.done)
	a := p.afUnix
	put := func(typ uint16, payload []byte) {
		a.line = p.enc.appendRecord(a.line[:0], typ, payload)
		for _, c := range a.view {
			if c.gone.Load() {
				continue
			}
			if ok, _ := c.q.TryPush(0, a.line); !ok {
				p.lostFeed.Add(1)
			}
		}
	}
	for {
		p.reportOverflow()
		p.refreshClients()
		if !p.q.Wait(pollInterval) {
			if p.q.Closed() {
				break
			}
			continue
		}
		p.refreshClients()
		p.consumed.Add(uint64(p.q.Drain(p.batchBytes, put)))
	}
	a.ln.Close() // removes the socket file
	a.mu.Lock()
	for _, c := range a.clients {
		c.q.Close()
		c.conn.SetWriteDeadline(p.stopDeadline())
	}
	a.mu.Unlock()
	a.writers.Wait()
	a.mu.Lock()
	a.clients = nil
	a.nclients.Store(0)
	a.mu.Unlock()
}

// refreshClients updates the feeder's view of the clients, dropping those
// whose writer ended.
func (p *plugin) refreshClients() {
	a := p.afUnix
	gone := false
	for _, c := range a.view {
		gone = gone || c.gone.Load()
	}
	if g := a.gen.Load(); g == a.seen && !gone {
		return
	}
	a.mu.Lock()
	kept := a.clients[:0]
	for _, c := range a.clients {
		if c.gone.Load() {
			c.q.Close()
			continue
		}
		kept = append(kept, c)
	}
	clear(a.clients[len(kept):])
	a.clients = kept
	a.nclients.Store(int32(len(kept)))
	a.view = append(a.view[:0], kept...)
	a.seen = a.gen.Add(1)
	a.mu.Unlock()
}
