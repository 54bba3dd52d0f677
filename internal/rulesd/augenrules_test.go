package rulesd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditdrain/auditdrain/internal/auditctl"
)

// The paths augenrules reads and writes; it has no option to change them.
const (
	sysRulesDir   = "/etc/audit/rules.d"
	sysAuditRules = "/etc/audit/audit.rules"
	backupDir     = "/etc/audit/rules.d.auditdrain-test-backup"
)

// savedFile is a file's content and mode, or its absence.
type savedFile struct {
	path   string
	exists bool
	data   []byte
	mode   os.FileMode
}

func saveFile(t *testing.T, path string) savedFile {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return savedFile{path: path}
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return savedFile{path: path, exists: true, data: data, mode: fi.Mode().Perm()}
}

func (f savedFile) restore(t *testing.T) {
	if !f.exists {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("restoring %s: %v", f.path, err)
		}
		return
	}
	if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
		t.Errorf("restoring %s: %v", f.path, err)
	}
	if err := os.Chmod(f.path, f.mode); err != nil {
		t.Errorf("restoring %s: %v", f.path, err)
	}
}

// augenrulesPath returns augenrules' path, skipping the test without it or
// without root.
func augenrulesPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("augenrules")
	if err != nil {
		t.Skipf("skipping: augenrules is not installed (Debian package auditd): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: augenrules reads /etc/audit/rules.d and writes /etc/audit/audit.rules: requires root")
	}
	return p
}

// swapRulesD moves /etc/audit/rules.d aside, puts files in a new one, and
// puts the original back when the test ends, with /etc/audit/audit.rules and
// audit.rules.prev as they were, however the test ends (short of the test
// binary dying; then backupDir is left behind and the next run refuses to
// start until it is moved back by hand). Unless haveLock (the test holds
// audittest.Kernel), it takes the machine lock for the duration.
func swapRulesD(t *testing.T, files map[string]string, haveLock bool) {
	t.Helper()
	augenrulesPath(t)
	if !haveLock {
		unlock, err := auditctl.LockMachine()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(unlock)
	}
	if _, err := os.Lstat(backupDir); err == nil {
		t.Fatalf("%s exists: an earlier test run died with the real rules.d moved there; check it and move it back to %s by hand", backupDir, sysRulesDir)
	}
	fi, err := os.Stat(sysRulesDir)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	saved := []savedFile{saveFile(t, sysAuditRules), saveFile(t, sysAuditRules+".prev")}
	if err := os.Rename(sysRulesDir, backupDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(sysRulesDir); err != nil {
			t.Errorf("removing the test's %s: %v", sysRulesDir, err)
			return
		}
		if err := os.Rename(backupDir, sysRulesDir); err != nil {
			t.Errorf("putting %s back: %v", sysRulesDir, err)
		}
		for _, f := range saved {
			f.restore(t)
		}
	})
	if err := os.Mkdir(sysRulesDir, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	writeDir(t, sysRulesDir, files)
}

// runAugenrules runs augenrules with args and returns its output.
func runAugenrules(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(augenrulesPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("augenrules %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// awkHasBackslashS reports whether the machine's awk reads "\s" in a
// dynamic regular expression as white space, as gawk does; mawk
// 1.3.4-20200120 reads it as 's'.
func awkHasBackslashS(t *testing.T) bool {
	cmd := exec.Command("awk", `{ print match($0, "^\\s*#") }`)
	cmd.Stdin = strings.NewReader(" #\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out)) == "1"
}

// debianRules is Debian's /etc/audit/rules.d/audit.rules (auditd 3.0.9).
const debianRules = `## First rule - delete all
-D

## Increase the buffers to survive stress events.
## Make this bigger for busy systems
-b 8192

## This determine how long to wait in burst of events
--backlog_wait_time 60000

## Set failure mode to syslog
-f 1

`

// TestWriteAuditRulesMatchesAugenrules compares WriteAuditRules with the
// audit.rules that augenrules writes for the same rules.d, byte for byte,
// and checks that `augenrules --check` finds nothing to change in ours.
func TestWriteAuditRulesMatchesAugenrules(t *testing.T) {
	sets := []struct {
		name  string
		files map[string]string
	}{
		{"debian", map[string]string{"audit.rules": debianRules}},
		{"empty", map[string]string{}},
		{"mixed", map[string]string{
			"10-base.rules":  "## base\n-D\n-b 1024\n--backlog_wait_time 1000\n-f 1\n\n-w /etc/passwd -p wa -k base\n",
			"2-x.rules":      "-a always,exit -F arch=b64 -S unlinkat -k x2\n-b 2048\n# comment\n-e 0\n",
			"a b.rules":      "-w /etc/shadow -p wa -k ab\n",
			"notes.txt":      "-w /etc/group -p wa -k notes\n",
			".hidden.rules":  "-w /etc/group -p wa -k hidden\n",
			"x.rules~":       "-w /etc/group -p wa -k backup\n",
			"dir.rules":      dirEntry,
			"99-fin.rules":   "-e 1\n",
			"30-tail.rules":  "-r 100\n   \n-a always,exit -F arch=b64 -S renameat -k tail\n-D\n-a never,exit -F arch=b64 -S getpid trailing-space \n",
			"file10.rules":   "-w /etc/hosts -p wa -k f10\n",
			"file9.rules":    "-w /etc/hosts -p r -k f9\n",
			"file09.rules":   "-w /etc/hosts -p x -k f09\n",
			"Upper.rules":    "-a always,exit -F arch=b64 -S chmod -F auid>=1000 -F auid!=unset -k upper\n",
			"crlf.rules":     "-w /etc/hostname -p wa -k crlf\r\n-b 77\r\n",
			"only-e.rules":   "-e 1\n-e 0\n",
			"01-first.rules": "-D\n-f 0\n",
		}},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			swapRulesD(t, set.files, false)
			s, err := Merge(sysRulesDir)
			if s == nil {
				t.Fatal(err)
			}
			var ours bytes.Buffer
			if err := s.WriteAuditRules(&ours); err != nil {
				t.Fatal(err)
			}
			runAugenrules(t)
			theirs, err := os.ReadFile(sysAuditRules)
			if err != nil {
				t.Fatal(err)
			}
			if ours.String() != string(theirs) {
				t.Fatalf("WriteAuditRules differs from augenrules:\n--- ours\n%s\n--- augenrules\n%s", ours.String(), theirs)
			}
			// And the other way round: augenrules finds our file current.
			if err := os.WriteFile(sysAuditRules, ours.Bytes(), 0o640); err != nil {
				t.Fatal(err)
			}
			if out := runAugenrules(t, "--check"); !strings.Contains(out, "No change") {
				t.Fatalf("augenrules --check on our audit.rules: %s", out)
			}
		})
	}
}

// TestAugenrulesDifferences shows the documented differences against the
// machine's augenrules: indented lines (which depend on the awk) and a file
// without a final newline.
func TestAugenrulesDifferences(t *testing.T) {
	files := map[string]string{
		"1.rules": "  # indented comment\n\t-e 1\n-w /etc/passwd -p wa -k a",
		"2.rules": "-w /etc/group -p wa -k b\n",
	}
	swapRulesD(t, files, false)
	s, err := Merge(sysRulesDir)
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	if err := s.WriteAuditRules(&ours); err != nil {
		t.Fatal(err)
	}
	const header = "## This file is automatically generated from /etc/audit/rules.d\n"
	if want := header + "\n\n\n-w /etc/passwd -p wa -k a\n-w /etc/group -p wa -k b\n\t-e 1\n"; ours.String() != want {
		t.Fatalf("ours:\n%q\nwant\n%q", ours.String(), want)
	}
	runAugenrules(t)
	theirs, err := os.ReadFile(sysAuditRules)
	if err != nil {
		t.Fatal(err)
	}
	want := header + "\n\n\n-w /etc/passwd -p wa -k a-w /etc/group -p wa -k b\n\t-e 1\n"
	if !awkHasBackslashS(t) {
		want = header + "\n\n\n  # indented comment\n\t-e 1\n-w /etc/passwd -p wa -k a-w /etc/group -p wa -k b\n\n"
	}
	if string(theirs) != want {
		t.Fatalf("augenrules wrote\n%q\nthe package documentation says\n%q", theirs, want)
	}
}

func TestSwapRulesDRestores(t *testing.T) {
	augenrulesPath(t)
	unlock, err := auditctl.LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, sysRulesDir)
	rulesBefore := saveFile(t, sysAuditRules)
	unlock()
	t.Run("swap", func(t *testing.T) {
		swapRulesD(t, map[string]string{"x.rules": "-w /etc/passwd -p wa -k swap\n"}, false)
		runAugenrules(t)
		if got := snapshotDir(t, sysRulesDir); got["x.rules"] == "" {
			t.Fatalf("test rules.d not in place: %v", got)
		}
	})
	unlock, err = auditctl.LockMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	after := snapshotDir(t, sysRulesDir)
	if len(after) != len(before) {
		t.Fatalf("rules.d not restored: before %v, after %v", before, after)
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("rules.d/%s not restored", k)
		}
	}
	if got := saveFile(t, sysAuditRules); got.exists != rulesBefore.exists || !bytes.Equal(got.data, rulesBefore.data) || got.mode != rulesBefore.mode {
		t.Fatalf("%s not restored", sysAuditRules)
	}
	if _, err := os.Lstat(backupDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s left behind: %v", backupDir, err)
	}
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(data)
	}
	return m
}
