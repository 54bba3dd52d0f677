package plugins

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
)

// TestMain trusts the test's own files as if they were root's (owned by
// the test's uid, not writable by group or others), so that the tests run
// without root; as root, config.CheckTrusted applies unchanged.
// TestTrustRefusals checks real owners.
func TestMain(m *testing.M) {
	if uid := os.Getuid(); uid != 0 {
		checkTrusted = func(path string) error {
			err := config.CheckTrusted(path)
			var st syscall.Stat_t
			if errors.Is(err, config.ErrUntrusted) && syscall.Stat(path, &st) == nil &&
				int(st.Uid) == uid && st.Mode&0o022 == 0 && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
				return nil
			}
			return err
		}
	}
	os.Exit(m.Run())
}

// writeFile writes dir/name with mode perm (chmod, not subject to umask)
// and returns its path.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// program writes an executable shell script.
func program(t *testing.T, dir, name, body string) string {
	t.Helper()
	return writeFile(t, dir, name, "#!/bin/sh\n"+body+"\n", 0o755)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	bin := t.TempDir()
	prog := program(t, bin, "plug", "cat >/dev/null")
	writeFile(t, dir, "a-prog.conf", `# a program
active = yes
direction = out
path = `+prog+`
type = always
args = one two
format = binary
`, 0o640)
	writeFile(t, dir, "b-afunix.conf", "ACTIVE = Yes\npath = builtin_af_unix\ntype = builtin \nargs = 0640 "+dir+"/sock\n", 0o600)
	writeFile(t, dir, "c-inactive.conf", "active = no\npath = /sbin/does-not-exist\n", 0o644)
	long := "# " + strings.Repeat("x", maxLine) + "\n"
	writeFile(t, dir, "d-warn.conf", long+"active = no\nargs = a b c d\n", 0o644)
	writeFile(t, dir, "no-newline", "active = no", 0o644)
	// Skipped as auditd skips them, although malformed.
	writeFile(t, dir, ".hidden.conf", "junk\n", 0o644)
	writeFile(t, dir, "old.conf.rpmsave", "junk\n", 0o644)
	// Read (any name with at most one dot), and refused.
	writeFile(t, dir, "README", "This directory holds plugins.\n", 0o644)
	writeFile(t, dir, "e-bad.conf", "active = yes\n\nformat = text\n", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}

	cfgs, err := LoadDir(dir)
	want := []Config{
		{Name: "a-prog.conf", File: filepath.Join(dir, "a-prog.conf"), Active: true, Direction: "out", Path: prog, Type: TypeAlways, Args: []string{"one", "two"}, Format: FormatBinary},
		{Name: "b-afunix.conf", File: filepath.Join(dir, "b-afunix.conf"), Active: true, Path: BuiltinAFUnix, Type: TypeBuiltin, Args: []string{"0640", dir + "/sock"}},
		{Name: "c-inactive.conf", File: filepath.Join(dir, "c-inactive.conf"), Path: "/sbin/does-not-exist"},
		{Name: "d-warn.conf", File: filepath.Join(dir, "d-warn.conf"), Args: []string{"a", "b"}, Warnings: []string{
			filepath.Join(dir, "d-warn.conf") + ":1: line longer than 158 characters skipped, as auditd does",
			filepath.Join(dir, "d-warn.conf") + ":3: args beyond the second (c d) ignored, as auditd does",
		}},
		{Name: "no-newline", File: filepath.Join(dir, "no-newline")},
	}
	if !reflect.DeepEqual(cfgs, want) {
		t.Errorf("LoadDir configs:\n got %+v\nwant %+v", cfgs, want)
	}
	if err == nil {
		t.Fatal("LoadDir: no error for README, e-bad.conf and subdir")
	}
	msg := err.Error()
	for _, w := range []string{
		filepath.Join(dir, "README") + `:1: want "key = value"`,
		filepath.Join(dir, "e-bad.conf") + `:3: key "format": value "text" is not one of binary, string`,
		filepath.Join(dir, "subdir") + " is not a regular file",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("LoadDir error %q does not contain %q", msg, w)
		}
	}
	if strings.Count(msg, "plugins: ") != 3 || strings.Contains(msg, "plugins: plugins:") {
		t.Errorf("LoadDir error %q: want one \"plugins: \" prefix per file", msg)
	}

	if cfgs, err := LoadDir(filepath.Join(dir, "missing")); cfgs != nil || err != nil {
		t.Errorf("LoadDir(missing dir) = %v, %v; want no plugins and no error", cfgs, err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	prog := program(t, t.TempDir(), "plug", "exit 0")
	for _, tc := range []struct{ content, want string }{
		{"active yes\n", `:1: want "key = value"`},
		{"active =\n", `:1: want "key = value"`},
		{"# c\nactive=yes\n", `:2: want "key = value"`},
		{"active\t=\tyes\n", `:1: want "key = value"`},
		{"colour = blue\n", `:1: unknown key "colour"`},
		{"active = maybe\n", `:1: key "active": value "maybe" is not one of no, yes`},
		{"direction = in\n", `:1: key "direction": value "in" is not one of out`},
		{"type = sometimes\n", `:1: key "type": value "sometimes" is not one of always, builtin`},
		{"active = yes no\n", `:1: key "active" takes one value, got "yes no"`},
		{"path = plug\n", `:1: key "path": value "plug": directory "." is too short`},
		{"path = /x/plug\n", `:1: key "path": value "/x/plug": directory "/x" is too short`},
		{"active = yes\n", `plugin is active but has no path`},
		{"active = yes\npath = builtin_syslog\ntype = builtin\n", `path builtin_syslog with type builtin: the only builtin is builtin_af_unix`},
		{"active = yes\npath = builtin_af_unix\n", `path builtin_af_unix with type always: the only builtin`},
		{"active = yes\npath = builtin_af_unix\ntype = builtin\n", `builtin_af_unix: args: no socket path`},
		{"active = yes\npath = builtin_af_unix\ntype = builtin\nargs = 0698 /run/x\n", `mode "0698" is not an octal file mode`},
		{"active = yes\npath = builtin_af_unix\ntype = builtin\nargs = 0600 sock\n", `"sock" is neither a mode (octal) nor a socket path`},
		{"active = yes\npath = /sbin/no-such-plugin-here\n", `/sbin/no-such-plugin-here: no such file or directory`},
		{"active = yes\npath = " + prog + "\n", ""},
	} {
		f := writeFile(t, dir, "p.conf", tc.content, 0o644)
		_, err := LoadFile(f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.content, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "plugins: ") || !strings.Contains(err.Error(), f)):
			t.Errorf("%q: error %v, want one naming %s and containing %q", tc.content, err, f, tc.want)
		}
	}
}

// TestTrustRefusals checks the owner and mode refusals of plugin files and
// programs with real owners: as root, files given to uid 65534; otherwise
// the test's own files, which are not root's.
func TestTrustRefusals(t *testing.T) {
	dir := t.TempDir()
	bin := t.TempDir()
	good := program(t, bin, "good", "exit 0")
	groupWritable := writeFile(t, bin, "gw", "#!/bin/sh\n", 0o775)
	tooTight := writeFile(t, bin, "tight", "#!/bin/sh\n", 0o700)
	conf := func(name, path string, perm os.FileMode) string {
		return writeFile(t, dir, name, "active = yes\npath = "+path+"\n", perm)
	}
	for _, tc := range []struct {
		file, want string
	}{
		{conf("world.conf", good, 0o646), "untrusted file: " + dir + "/world.conf is owned by uid %d with mode 0646; it must be owned by uid 0 (root) and not writable by group or others"},
		{conf("group.conf", good, 0o664), "group.conf is owned by uid %d with mode 0664"},
		{conf("gwprog.conf", groupWritable, 0o644), "plugin program: untrusted file: " + groupWritable + " is owned by uid %d with mode 0775"},
		{conf("tight.conf", tooTight, 0o644), "plugin program " + tooTight + " has mode 0700; auditd requires at least 0750"},
	} {
		_, err := LoadFile(tc.file)
		want := strings.ReplaceAll(tc.want, "%d", itoa(os.Getuid()))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", tc.file, err, want)
		}
	}

	// Not owned by root, with a real owner: without the test's trust.
	old := checkTrusted
	checkTrusted = config.CheckTrusted
	defer func() { checkTrusted = old }()
	notRoot := conf("owner.conf", "/bin/true", 0o644)
	uid := os.Getuid()
	if uid == 0 {
		uid = 65534
		if err := os.Chown(notRoot, uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadFile(notRoot)
	want := "plugins: plugin file: untrusted file: " + notRoot + " is owned by uid " + itoa(uid) + " with mode 0644; it must be owned by uid 0 (root)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("not root's: error %v, want %q", err, want)
	}
	if os.Getuid() == 0 { // the conf itself must pass to reach the program
		notRootProg := program(t, bin, "notroot", "exit 0")
		if err := os.Chown(notRootProg, 65534, -1); err != nil {
			t.Fatal(err)
		}
		f := conf("prog-owner.conf", notRootProg, 0o644)
		_, err = LoadFile(f)
		want = "plugins: " + f + ": plugin program: untrusted file: " + notRootProg + " is owned by uid 65534"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("program not root's: error %v, want %q", err, want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
