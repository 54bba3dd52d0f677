package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
)

// The load child of TestEnrichedBesideAuditd: the test binary run again
// with loadChildEnv set to the watched directory. init runs it before
// TestMain (which would build the binary again): it waits for a line on
// stdin, sent once the rules naming its pid are in, makes its records, logs
// loadEndEnv's text as a user message and exits.
const (
	loadChildEnv = "AUDITDRAIN_ENRICHED_LOAD_DIR"
	loadEndEnv   = "AUDITDRAIN_ENRICHED_LOAD_END"
	loadNoName   = 54329 // a uid and gid that no passwd or group entry names
)

func init() {
	dir := os.Getenv(loadChildEnv)
	if dir == "" {
		return
	}
	if err := enrichedLoad(dir, os.Getenv(loadEndEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// enrichedLoad makes records whose ENRICHED fields vary: execs with odd
// arguments, as root, as nobody and as a uid without a name; file
// operations in a watched directory with a chown to the nameless ids;
// user messages (auditctl -m) with id fields in their text.
func enrichedLoad(dir, end string) error {
	if err := audittest.WaitGo(); err != nil {
		return err
	}
	argvs := [][]string{
		{"/bin/true"},
		{"/bin/true", "with space", `qu"ote`, "it's", "ünïcödé", "tab\there", "", "a=b uid=0"},
		{"/bin/true", "new\nline", "\x1dgs", "--long=" + strings.Repeat("x", 300)},
		{"/bin/sh", "-c", "exit 0"},
	}
	creds := []*syscall.Credential{nil, {Uid: 65534, Gid: 65534}, {Uid: loadNoName, Gid: loadNoName}}
	for rep := range 40 {
		for i, argv := range argvs {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = "/"
			if c := creds[(rep+i)%len(creds)]; c != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c}
			}
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("exec %q: %w", argv, err)
			}
		}
		for _, n := range []string{"plain", "with space", "ünï"} {
			p := filepath.Join(dir, fmt.Sprintf("%s-%d", n, rep))
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				return err
			}
			if err := os.Chown(p, loadNoName, loadNoName); err != nil {
				return err
			}
			if err := os.Rename(p, p+".r"); err != nil {
				return err
			}
			if err := os.Remove(p + ".r"); err != nil {
				return err
			}
		}
		if rep%4 == 0 {
			msg := fmt.Sprintf("enriched load %d uid=%d gid=0 auid=%d 'quoted'", rep, loadNoName, 65534)
			if out, err := exec.Command("auditctl", "-m", msg).CombinedOutput(); err != nil {
				return fmt.Errorf("auditctl -m: %v: %s", err, out)
			}
		}
	}
	if out, err := exec.Command("auditctl", "-m", end).CombinedOutput(); err != nil {
		return fmt.Errorf("auditctl -m: %v: %s", err, out)
	}
	return nil
}

// recordLineRe takes the type and the serial from a log line.
var recordLineRe = regexp.MustCompile(`^type=(\S+) msg=audit\(\d+\.\d+:(\d+)\)`)

// TestEnrichedBesideAuditd is the live oracle of log_format = enriched:
// auditd 3.0.9 registered with log_format = ENRICHED, and auditdrain run in
// multicast mode beside it with log_format = enriched, log the same
// records while a child makes varied ones; every line of auditd's log must
// be auditdrain's line for the same serial and type, byte for byte.
func TestEnrichedBesideAuditd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs auditd and auditdrain against the kernel for several seconds")
	}
	k := audittest.Kernel(t) // skips without root
	if _, err := exec.LookPath("auditctl"); err != nil {
		t.Fatalf("auditctl is not installed: %v", err)
	}
	st, err := k.Conn().Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 0 {
		t.Fatalf("pid %d is registered as the audit daemon; this test runs its own auditd and stops nothing else", st.PID)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	watched := filepath.Join(dir, "watched")
	if err := os.MkdirAll(watched, 0o755); err != nil {
		t.Fatal(err)
	}
	// Registered, writing ENRICHED lines, each record as it reads it.
	ad := audittest.StartAuditd(t, k, filepath.Join(dir, "auditd"), map[string]string{"log_format": "ENRICHED", "freq": "1"})
	auditLog := ad.LogFile

	logDir := filepath.Join(dir, "log")
	d := startDaemon(t, "--mode", "multicast", "--log-dir", logDir, "--set", "log_format=enriched",
		"--set", "backlog_limit=-1", "--set", "enabled=-1", "--set", "failure=-1", "--control-socket", filepath.Join(dir, "ctl.sock"))
	d.waitReady(t)

	// The load child, started after auditing is on; it waits for "go".
	end := "enriched-end-" + k.Key("end")
	child := audittest.StartChild(t, loadChildEnv+"="+watched, loadEndEnv+"="+end)
	cp := child.Pid()
	key := k.Key("enr")
	k.AddRule(fmt.Sprintf("-a always,exit -F arch=b64 -S execve -F ppid=%d -k %s", cp, key))
	k.AddRule(fmt.Sprintf("-a always,exit -F arch=b64 -S openat,fchownat,renameat,unlinkat -F pid=%d -k %s", cp, key))
	k.AddRule(fmt.Sprintf("-w %s -p rwxa -k %s", watched, key))
	child.Run(t, 180*time.Second)
	// Both logs must show the end marker: auditd writes each record as it
	// reads it (freq = 1), auditdrain within its flush interval.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, _ := os.ReadFile(auditLog)
		if strings.Contains(string(a), end) && strings.Contains(catLog(t, logDir), end) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the end marker is not in both logs after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)
	if err := ad.Stop(); err != nil {
		t.Errorf("auditd: %v\n%s", err, ad.Output())
	}

	theirs, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	ours := catLog(t, logDir)
	type slot struct {
		serial uint64
		typ    string
	}
	index := func(log string) (map[slot][]string, []slot) {
		m := map[slot][]string{}
		var order []slot
		for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
			r := recordLineRe.FindStringSubmatch(l)
			if r == nil {
				continue
			}
			serial, _ := strconv.ParseUint(r[2], 10, 64)
			s := slot{serial, r[1]}
			if len(m[s]) == 0 {
				order = append(order, s)
			}
			m[s] = append(m[s], l)
		}
		return m, order
	}
	ourLines, ourOrder := index(ours)
	theirLines, theirOrder := index(string(theirs))
	// Up to the last record auditdrain read before it stopped (auditd
	// goes on to log auditdrain's own exit).
	var last uint64
	for _, s := range ourOrder {
		last = max(last, s.serial)
	}
	// The load's records: from the first line with its key on.
	var first uint64
	for _, s := range theirOrder {
		for _, l := range theirLines[s] {
			if first == 0 && strings.Contains(l, `key="`+key+`"`) {
				first = s.serial
			}
		}
	}
	if first == 0 {
		t.Fatalf("auditd logged no record with key %s", key)
	}
	compared, differ, missing, enriched, keyed := 0, 0, 0, 0, 0
	for _, s := range theirOrder {
		want, got := theirLines[s], ourLines[s]
		if s.serial < first || s.serial > last || strings.HasPrefix(s.typ, "DAEMON_") {
			continue
		}
		for i, w := range want {
			if i >= len(got) {
				missing++
				if missing <= 5 {
					t.Errorf("auditdrain has no line for auditd's %q", w)
				}
				continue
			}
			compared++
			if strings.Contains(w, "\x1d") {
				enriched++
			}
			if strings.Contains(w, key) {
				keyed++
			}
			if got[i] != w {
				differ++
				if differ <= 10 {
					t.Errorf("serial %d %s differs:\nauditd     %q\nauditdrain %q", s.serial, s.typ, w, got[i])
				}
			}
		}
	}
	t.Logf("serials %d-%d: compared %d lines (%d enriched, %d with the load's key), %d differ, %d of auditd's missing from auditdrain's log",
		first, last, compared, enriched, keyed, differ, missing)
	if compared < 1000 {
		t.Errorf("only %d lines compared, want at least 1000", compared)
	}
	if enriched < compared/3 {
		t.Errorf("only %d of %d lines carry ENRICHED fields", enriched, compared)
	}
	if !strings.Contains(ours, fmt.Sprintf(`UID="unknown(%d)"`, loadNoName)) {
		t.Errorf("no line names uid %d unknown(%d): the nameless uid was not exercised", loadNoName, loadNoName)
	}
}
