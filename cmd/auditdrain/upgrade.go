package main

import (
	"fmt"
	"time"

	"github.com/auditdrain/auditdrain/internal/daemon"
)

// upgradeSignal makes the running daemon upgrade in place, as `auditdrain
// upgrade` does, for service managers that can only send signals. SIGUSR2
// (nginx's and haproxy's) is taken: it resumes writing, as in auditd.
const upgradeSignalName = "SIGPWR"

func cmdUpgrade(e *env, args []string) error {
	fs := e.flags("[flags]", "Upgrade the running daemon in place: it stops reading, writes out and fsyncs what it holds,\n"+
		"closes its segment, then executes the auditdrain binary now on disk (the path it was started from)\n"+
		"with the audit socket inherited: same pid, same registration, no record lost. If the new binary\n"+
		"is not root's, not runnable, or the exec fails, the daemon keeps running and this command fails.\n"+
		upgradeSignalName+" to the daemon does the same, reporting only in its log.")
	cf := addConfigFlag(fs)
	ctlSock := controlSocketFlag(fs)
	timeout := fs.Duration("timeout", 60*time.Second, "wait at most `D` for the new program to answer")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	sock, err := controlSocket(cf, *ctlSock)
	if err != nil {
		return err
	}
	if _, err := fetchDaemon(cf, sock); err != nil {
		return err
	}
	st, err := daemon.RequestUpgrade(sock, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "upgraded auditdrain (pid %d): audit socket %s, %s mode\n", st.PID, st.AuditSocket, st.Mode)
	return nil
}
