package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// serveUpgrade is the control endpoint's POST /upgrade: it runs Upgrade.
// On success the exec closes the connection without an answer (the client
// then waits for the new program's status); a failure is answered with
// 500 and the error.
func (d *Daemon) serveUpgrade(w http.ResponseWriter, _ *http.Request) {
	err := d.Upgrade()
	if err == nil {
		err = errors.New("daemon: upgrade returned without an exec")
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// RequestUpgrade asks the daemon listening on the control socket path to
// upgrade in place (Upgrade) and waits, at most timeout, until the new
// program answers on the same socket with the same pid. It returns the new
// program's status, or the error the old program reported (it then keeps
// running).
func RequestUpgrade(path string, timeout time.Duration) (Status, error) {
	before, err := FetchStatus(path)
	if err != nil {
		return before, err
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://auditdrain/upgrade", nil)
	resp, err := controlClient(path, 0).Do(req)
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return before, fmt.Errorf("pid %d did not upgrade: %s", before.PID, strings.TrimSpace(string(b)))
	}
	if ctx.Err() != nil {
		return before, fmt.Errorf("no answer from pid %d within %v: %w", before.PID, timeout, unwrapURLError(err))
	}
	// The exec closed the connection: wait for the new program.
	for {
		st, err := FetchStatus(path)
		if err == nil && st.PID == before.PID && st.UptimeSeconds < time.Since(t0).Seconds() {
			return st, nil
		}
		if err == nil && st.PID != before.PID {
			return st, fmt.Errorf("pid %d is gone; pid %d answers on %s", before.PID, st.PID, path)
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("pid %d did not answer on %s within %v after the exec: %v", before.PID, path, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
