package record

import "testing"

var benchPayloads = []struct{ name, payload string }{
	{"syscall-quoted", `audit(1795637279.731:9): arch=c000003e syscall=59 success=yes exit=0 a0=55be1eee19c0 a1=55be1eede2c0 a2=55be1eedc7e0 a3=0 items=2 ppid=13264 pid=13285 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditctl" exe="/usr/sbin/auditctl" key="cap_exec"`},
	{"syscall-null", `audit(1795637279.731:8): arch=c000003e syscall=44 success=yes exit=1064 a0=5 a1=7ffe8ef01f30 a2=428 a3=0 items=0 ppid=13264 pid=13283 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditctl" exe="/usr/sbin/auditctl" key=(null)`},
	{"syscall-hex", `audit(1795637279.731:9): arch=c000003e syscall=59 success=yes exit=0 a0=55be1eee19c0 a1=55be1eede2c0 a2=55be1eedc7e0 a3=0 items=2 ppid=13264 pid=13285 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditctl" exe="/usr/sbin/auditctl" key=6361705F65786563016E6F697379`},
	{"config-change", `audit(1795637279.731:8): auid=4294967295 ses=4294967295 op=add_rule key="cap_exec" list=4 res=1`},
	{"path-nokey", `audit(1795637279.731:9): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=325835 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`},
	{"proctitle-nokey", `audit(1795637279.731:9): proctitle=617564697463746C002D6100616C776179732C65786974002D4600617263683D623634002D53006F70656E6174002D46006469723D2F746D702F6361702F77002D46006B65793D6361705F6F70656E`},
}

func BenchmarkHeader(b *testing.B) {
	p := []byte(benchPayloads[0].payload)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := Header(p); !ok {
			b.Fatal("Header failed")
		}
	}
}

func BenchmarkKey(b *testing.B) {
	for _, bp := range benchPayloads {
		b.Run(bp.name, func(b *testing.B) {
			p := []byte(bp.payload)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				Key(p)
			}
		})
	}
}
