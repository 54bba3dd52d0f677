package jsonevent_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/auditdrain/auditdrain/internal/jsonevent"
)

// Converting a RAW log on read, as `cat --format json` will: each line to
// the Assembler, each event it completes to the Encoder, Flush at the end.
func Example() {
	log := `type=USER msg=audit(1795637279.963:292): pid=13340 uid=0 auid=4294967295 ses=4294967295 msg='text=hello exe="/usr/sbin/auditctl" hostname=? addr=? terminal=? res=success'
not a record
`
	enc := jsonevent.NewEncoder(jsonevent.Options{OmitRaw: true})
	out := bufio.NewWriter(os.Stdout)
	var buf []byte
	a := jsonevent.NewAssembler(jsonevent.AssemblerOptions{}, func(ev *jsonevent.Event) {
		buf = enc.AppendEvent(buf[:0], ev)
		out.Write(buf)
	})
	sc := bufio.NewScanner(strings.NewReader(log))
	for n := 1; sc.Scan(); n++ {
		if err := a.Add(sc.Bytes()); err != nil {
			fmt.Fprintf(out, "audit.log:%d: %v\n", n, err)
		}
	}
	a.Flush()
	out.Flush()
	// Output:
	// {"@timestamp":"2026-11-25T20:07:59.963Z","event":{"kind":"event","module":"auditd","action":"sent-message","outcome":"success"},"user":{"id":"0","audit":{"id":"unset"}},"process":{"pid":13340,"executable":"/usr/sbin/auditctl"},"auditd":{"id":"1795637279.963:292","epoch":"1795637279.963","sequence":292,"message_type":"user","record_types":["USER"],"result":"success","session":"unset","summary":{"actor":{"primary":"unset","secondary":"0"},"action":"sent-message","how":"/usr/sbin/auditctl"},"data":{"text":"hello"},"end":"last_record","records":[{"type":"USER","fields":{"auid":"unset","exe":"/usr/sbin/auditctl","pid":"13340","result":"success","ses":"unset","text":"hello","uid":"0"}}]}}
	// audit.log:2: not an audit record: no type=: "not a record"
}
