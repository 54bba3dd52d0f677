package record

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	f := func(in, want string, wantQuoted, wantOK bool) {
		t.Helper()
		p := []byte(in)
		v, quoted, ok := KeyField(p)
		if string(v) != want || quoted != wantQuoted || ok != wantOK {
			t.Errorf("KeyField(%q) = %q, %v, %v; want %q, %v, %v", in, v, quoted, ok, want, wantQuoted, wantOK)
		}
		if ok && len(v) > 0 && !aliases(p, v) {
			t.Errorf("KeyField(%q) = %q does not alias its input", in, v)
		}
		if !ok && v != nil {
			t.Errorf("KeyField(%q) returned %q with ok false, want nil", in, v)
		}
		k, kok := Key(p)
		if !bytes.Equal(k, v) || kok != ok {
			t.Errorf("Key(%q) = %q, %v; KeyField gave %q, %v", in, k, kok, v, ok)
		}
	}
	const sys = `audit(1795637279.731:9): arch=c000003e syscall=59 success=yes exit=0 a0=55be1eee19c0 a1=55be1eede2c0 a2=55be1eedc7e0 a3=0 items=2 ppid=13264 pid=13285 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditctl" exe="/usr/sbin/auditctl"`

	// Captured SYSCALL records: the key is the last field.
	f(sys+` key="cap_exec"`, "cap_exec", true, true)
	f(sys+` key=(null)`, "", false, false)
	// A rule with two keys (-k cap_exec -k noisy): "cap_exec\x01noisy" in hex.
	f(sys+` key=6361705F65786563016E6F697379`, "6361705F65786563016E6F697379", false, true)
	// A key with a space is hex-encoded too.
	f(sys+` key=6D79206B6579`, "6D79206B6579", false, true)
	// With an LSM the subj= field comes before key=, which is still last.
	f(sys+` subj=unconfined key="k"`, "k", true, true)
	f(sys+` key=""`, "", true, true)

	// CONFIG_CHANGE: the key of the rule being changed, mid-record.
	f(`audit(1795637279.731:8): auid=4294967295 ses=4294967295 op=add_rule key="cap_exec" list=4 res=1`, "cap_exec", true, true)
	f(`audit(1795637279.731:8): auid=4294967295 ses=4294967295 op=remove_rule key=(null) list=4 res=1`, "", false, false)
	f(`audit(1795637279.731:8): auid=4294967295 ses=4294967295 op=add_rule key=6101620A list=4 res=1`, "6101620A", false, true)
	f(`audit(1.000:8): op=updated_rules path="/etc/x" key="w" list=4 res=1`, "w", true, true)

	// Records without a key field, some with "key=" inside other values.
	f(`audit(1795637279.731:9): cwd="/tmp/cap"`, "", false, false)
	f(`audit(1795637279.731:9): item=0 name="/usr/sbin/auditctl" inode=10706946 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`, "", false, false)
	f(`audit(1795637279.731:9): argc=11 a0="auditctl" a1="-a" a2="always,exit" a3="-F" a4="arch=b64" a5="-S" a6="openat" a7="-F" a8="dir=/tmp/cap/w" a9="-F" a10="key=cap_open"`, "", false, false)
	f(`audit(1795637279.731:9): proctitle=617564697463746C002D6B006361705F65786563`, "", false, false)
	f(`audit(1.000:9): comm="akey=b" exe="/x"`, "", false, false)
	f(`audit(1.000:9): name="/tmp/a key=b"`, "b\"", false, true) // never from the kernel: a space is hex-encoded
	f(`audit(1795637279.963:292): pid=13340 uid=0 msg='op=x key="u" res=success'`, "u", true, true)
	f(`audit(1.000:1):`, "", false, false)
	f(``, "", false, false)

	// Malformed ends and the last-occurrence rule.
	f(`audit(1.000:1): key="a" key="b"`, "b", true, true)
	f(`audit(1.000:1): key="a" key=(null)`, "", false, false)
	f(`audit(1.000:1): key=(null) x=1 key="b" y=2`, "b", true, true)
	f(`audit(1.000:1): key="unterminated`, "", false, false)
	f(`audit(1.000:1): key=`, "", false, false)
	f(`audit(1.000:1): key= x=1`, "", false, false)
	f(`audit(1.000:1): key="a b"`, "a b", true, true) // never from the kernel, but well defined
	f(`audit(1.000:1): key=" key="`, "", false, false)
	f(`key="x"`, "", false, false) // no field separator before key=
	f(`"`, "", false, false)
	f(` key="`, "", false, false)
	f(` key=""`, "", true, true)
}

// TestKeyCapturedRecords compares Key on every captured record with a
// tokenizer that splits fields on spaces (kernel values never contain one),
// and checks the captured keys are the ones the capture's rules set.
func TestKeyCapturedRecords(t *testing.T) {
	counts := map[string]int{}
	for i, r := range loadRecords(t) {
		got, ok := Key(r.Payload)
		want, wantOK := refFieldsKey(string(r.Payload))
		if ok != wantOK || string(got) != want {
			t.Fatalf("record %d (type %d): Key = %q, %v; tokenizer says %q, %v in %q", i, r.Type, got, ok, want, wantOK, r.Payload)
		}
		if ok {
			counts[typeName(r.Type)+" "+string(got)]++
		} else if bytes.Contains(r.Payload, []byte(" key=")) {
			counts[typeName(r.Type)+" (null)"]++
		}
	}
	want := map[string]int{
		"SYSCALL cap_exec":        317,
		"SYSCALL cap_conn":        1,
		"SYSCALL (null)":          8,
		"CONFIG_CHANGE cap_exec":  2,
		"CONFIG_CHANGE cap_open":  1,
		"CONFIG_CHANGE cap_conn":  2,
		"CONFIG_CHANGE cap_watch": 2,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d records, want %d (all counts: %v)", k, counts[k], n, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("unexpected key counts %v", counts)
	}
}

func typeName(typ uint16) string {
	switch typ {
	case 1300:
		return "SYSCALL"
	case 1305:
		return "CONFIG_CHANGE"
	}
	return strconv.Itoa(int(typ))
}

// refFieldsKey finds the last key= field by splitting on spaces.
func refFieldsKey(p string) (string, bool) {
	fields := strings.Split(p, " ")
	for i := len(fields) - 1; i >= 0; i-- {
		v, found := strings.CutPrefix(fields[i], "key=")
		if !found {
			continue
		}
		if v == "(null)" || v == "" {
			return "", false
		}
		if q, found := strings.CutPrefix(v, `"`); found {
			return strings.TrimSuffix(q, `"`), true
		}
		return v, true
	}
	return "", false
}

func TestAppendUnhex(t *testing.T) {
	f := func(dst, src, want string, wantOK bool) {
		t.Helper()
		got, ok := AppendUnhex([]byte(dst), []byte(src))
		if string(got) != want || ok != wantOK {
			t.Errorf("AppendUnhex(%q, %q) = %q, %v; want %q, %v", dst, src, got, ok, want, wantOK)
		}
	}
	f("", "", "", true)
	f("", "6361705F65786563016E6F697379", "cap_exec\x01noisy", true)
	f("", "6d79206b6579", "my key", true)
	f("x", "41", "xA", true)
	f("x", "4", "x", false)
	f("x", "4G", "x", false)
	f("x", "41 42", "x", false)
	f("x", "414", "x", false)

	// Round trip with encoding/hex on every byte value.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, enc := range []string{hex.EncodeToString(all), strings.ToUpper(hex.EncodeToString(all))} {
		got, ok := AppendUnhex(nil, []byte(enc))
		if !ok || !bytes.Equal(got, all) {
			t.Fatalf("AppendUnhex round trip failed: ok %v, got %x", ok, got)
		}
	}
}

// TestKeyMultiKey decodes and splits a multi-key value the way a consumer
// would, without allocating when the buffer is large enough.
func TestKeyMultiKey(t *testing.T) {
	p := []byte(`audit(1.000:1): arch=c000003e syscall=59 key=6361705F65786563016E6F697379`)
	var buf [64]byte
	var parts [4][]byte
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		v, quoted, ok := KeyField(p)
		if !ok || quoted {
			t.Fatalf("KeyField = %q, %v, %v", v, quoted, ok)
		}
		dec, ok := AppendUnhex(buf[:0], v)
		if !ok {
			t.Fatalf("AppendUnhex(%q) failed", v)
		}
		sep := [1]byte{KeySeparator}
		for n = 0; len(dec) > 0 && n < len(parts); n++ {
			parts[n], dec, _ = bytes.Cut(dec, sep[:])
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode and split, want 0", allocs)
	}
	if n != 2 || string(parts[0]) != "cap_exec" || string(parts[1]) != "noisy" {
		t.Errorf("keys = %q, want [cap_exec noisy]", parts[:n])
	}
}

func TestNoAllocs(t *testing.T) {
	payloads := []string{
		`audit(1795637279.731:9): arch=c000003e syscall=59 exe="/usr/sbin/auditctl" key="cap_exec"`,
		`audit(1795637279.731:9): arch=c000003e syscall=59 exe="/usr/sbin/auditctl" key=(null)`,
		`audit(1795637279.731:9): arch=c000003e syscall=59 exe="/usr/sbin/auditctl" key=6101620A`,
		`audit(1795637279.731:8): auid=4294967295 ses=4294967295 op=add_rule key="cap_exec" list=4 res=1`,
		`audit(1795637279.731:9): item=0 name="/usr/sbin/auditctl" inode=10706946 dev=fe:00 mode=0100755 nametype=NORMAL`,
	}
	var buf [16]byte
	for _, s := range payloads {
		p := []byte(s)
		allocs := testing.AllocsPerRun(100, func() {
			Header(p)
			v, _, _ := KeyField(p)
			AppendUnhex(buf[:0], v)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per run, want 0", s, allocs)
		}
	}
}

// aliases reports whether sub lies inside p's memory.
func aliases(p, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range p {
		if &p[i] == &sub[0] {
			return i+len(sub) <= len(p)
		}
	}
	return false
}
