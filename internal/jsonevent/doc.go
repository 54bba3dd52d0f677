// Package jsonevent owns auditdrain's JSON output: it groups audit records
// into events ([Assembler]) and writes each event as one JSON object on one
// line ([Encoder]), for `auditdrain cat --format json`, a `log_format =
// json` writer segment and later forwarders. Records are parsed with
// go-libaudit's auparse and events coalesced with its aucoalesce, so the
// object is the one Auditbeat's auditd module builds (ECS field names),
// with the record-by-record view laurel gives and every record's original
// line.
//
// # Grouping
//
// Records sharing a serial (and a node) are one event; records of different
// events may interleave. An event ends at its EOE, at a record that
// auditd's rule ([IsLastRecord]) makes the last of its event (PROCTITLE,
// USER_* and the other single-record types), when a record of another
// serial arrives at least Window later in record time (2 s, auparse's
// eoe_timeout) or SerialLag serials away, at [Assembler.Flush] (end of
// input) or, live, at [Assembler.Expire] after Timeout. Memory is bounded:
// at most MaxPending open events (the oldest is then emitted as it is) of
// at most MaxRecords records and MaxBytes bytes (further records are
// dropped and counted); such events are flagged incomplete. Serial 0
// records (written by a daemon, not the kernel) are events of their own.
//
// # Schema
//
// One object per event, keys in this order, a key left out when it has no
// value. Values the kernel logs are strings (as in Auditbeat's auditd.data),
// except the numbers noted.
//
//	@timestamp        time of the event's first record, RFC 3339 UTC with
//	                  milliseconds: "2026-11-25T20:07:59.947Z"
//	event             ECS categorisation from aucoalesce's normalisations:
//	                  kind ("event"), module ("auditd"), category[],
//	                  type[], action ("executed", "connected-to",
//	                  "logged-in"...), outcome (success|failure|unknown)
//	tags[]            the rule keys that made the kernel log the event
//	                  (key= of SYSCALL and URINGOP; for an event without
//	                  those, of its first record with a key=, such as the
//	                  rule a CONFIG_CHANGE changed), decoded: a key the
//	                  kernel hex-encoded is decoded, and a multi-key rule
//	                  (auditctl -k a -k b, logged as hex of "a\x01b") gives
//	                  ["a","b"]
//	user              ECS user: id, name (uid), group{id,name} (gid),
//	                  audit{id,name} (auid; "unset" for 4294967295),
//	                  effective{...} (euid, egid), saved{...} (suid, sgid),
//	                  filesystem{...} (fsuid, fsgid), target/changes (user
//	                  management events), selinux{}; names only with
//	                  Options.ResolveIDs
//	group             ECS group of group management events
//	process           pid (number), parent.pid (number), name (comm),
//	                  executable (exe), working_directory (CWD), title
//	                  (PROCTITLE decoded, arguments joined by spaces),
//	                  args[] (EXECVE decoded: quoted, hex-encoded and
//	                  split a1_len/a1[0].. arguments, over all EXECVE
//	                  records), args_count (number)
//	file              the object of a file event: path, device, inode,
//	                  mode ("0644"), uid, gid, owner, group, selinux{}
//	source, destination
//	                  ip, port (number), path (unix socket), domain
//	network           direction: ingress|egress
//	error             {message}: why aucoalesce could not coalesce the
//	                  event (a compound event without SYSCALL, ...); the
//	                  records are still there
//	auditd
//	  id              "SEC.MSS:SERIAL", the event ID ausearch and laurel
//	                  show
//	  epoch           "SEC.MSS", the time as the kernel wrote it
//	  sequence        the serial (number)
//	  node            the node= name, when the lines have one
//	  message_type    the event's type, lower case ("syscall",
//	                  "user_login", "config_change")
//	  record_types[]  the types of its records, first appearance order
//	  result          success|fail|unknown (from success= or res=)
//	  session         ses ("unset" for 4294967295)
//	  summary         aucoalesce's actor{primary,secondary}, action,
//	                  object{type,primary,secondary}, how
//	  data{}          the other fields of the records, coalesced
//	                  (SYSCALL's a0..a3, arch "x86_64", syscall "openat",
//	                  exit "EINPROGRESS", socket_addr...)
//	  paths[]         the PATH records' fields
//	  end             why the event ended: last_record, window, flush,
//	                  timeout, evicted
//	  incomplete      true when records were dropped or it was evicted
//	  records_dropped number of records over the bounds
//	  records[]       every record, in arrival order:
//	    type          "SYSCALL", "UNKNOWN[1336]"
//	    keys[]        its key=, decoded as for tags
//	    fields{}      its fields, parsed and interpreted by auparse
//	                  (hex-encoded values decoded, ids "unset", arch and
//	                  syscall named, res/success as result, saddr split
//	                  into family/addr/port/path); for PROCTITLE also
//	                  argv[]; for EXECVE argc and, on the event's first
//	                  EXECVE record, argv[] of the whole event
//	    error         why auparse could not parse it
//	    raw           the original line, "[node=N ]type=T msg=audit(...):
//	                  ...", as auditd's RAW format writes it (without an
//	                  ENRICHED suffix)
//	    raw_hex       the raw line's bytes in hex, only when it is not
//	                  valid UTF-8
//
// The interpretation loses information in several small ways (auparse
// drops "?" and "(null)" values, aucoalesce keeps one value per field name
// across records, JSON strings cannot hold invalid UTF-8, which becomes
// U+FFFD), so every record keeps its raw line unless Options.OmitRaw is
// set: `jq -r '.auditd.records[].raw'` gives back the RAW log, and ausearch
// can read it. Strings are UTF-8; U+2028 and U+2029 are escaped.
//
// A sample event, a connect to 127.0.0.1:1 that failed, with a two-key
// rule (raw and record fields shortened):
//
//	{"@timestamp":"2026-11-25T20:07:59.947Z",
//	 "event":{"kind":"event","module":"auditd","category":["network"],
//	  "type":["connection","start"],"action":"connected-to","outcome":"failure"},
//	 "tags":["cap_conn","net"],
//	 "user":{"id":"0","group":{"id":"0"},"audit":{"id":"unset"},
//	  "effective":{"id":"0","group":{"id":"0"}},"saved":{...},"filesystem":{...}},
//	 "process":{"pid":13299,"parent":{"pid":13264},"name":"python3",
//	  "executable":"/root/.pyenv/versions/3.11.7/bin/python3.11",
//	  "title":"/usr/bin/env bash /root/.pyenv/shims/python3 -c import socket; ..."},
//	 "destination":{"ip":"127.0.0.1","port":1},"network":{"direction":"egress"},
//	 "auditd":{"id":"1795637279.947:290","epoch":"1795637279.947","sequence":290,
//	  "message_type":"syscall","record_types":["SYSCALL","SOCKADDR","PROCTITLE"],
//	  "result":"fail","session":"unset",
//	  "summary":{"actor":{"primary":"unset","secondary":"0"},"action":"connected-to",
//	   "object":{"type":"socket","primary":"127.0.0.1","secondary":"1"},
//	   "how":"/root/.pyenv/versions/3.11.7/bin/python3.11"},
//	  "data":{"a0":"4","a1":"7ffc600be210","a2":"10","a3":"0","arch":"x86_64",
//	   "exit":"EINPROGRESS","socket_addr":"127.0.0.1","socket_family":"ipv4",
//	   "socket_port":"1","syscall":"connect","tty":"(none)"},
//	  "end":"last_record",
//	  "records":[
//	   {"type":"SYSCALL","keys":["cap_conn","net"],"fields":{"a0":"4",...,"syscall":"connect"},
//	    "raw":"type=SYSCALL msg=audit(1795637279.947:290): arch=c000003e syscall=42 ... key=6361705F636F6E6E016E6574"},
//	   {"type":"SOCKADDR","fields":{"addr":"127.0.0.1","family":"ipv4","port":"1"},
//	    "raw":"type=SOCKADDR msg=audit(1795637279.947:290): saddr=020000017F0000010000000000000000"},
//	   {"type":"PROCTITLE","fields":{"proctitle":"...","argv":["/usr/bin/env","bash",...]},
//	    "raw":"type=PROCTITLE msg=audit(1795637279.947:290): proctitle=2F7573722F..."}]}}
//
// (testdata/golden holds it and four more, in full.)
//
// # Cost
//
// Encoding allocates per event and runs auparse's regular expressions over
// every record: about 0.1 to 0.25 ms and 300 allocations per event of the
// capture, whose JSON is about 4 times the size of the records' payloads
// (3 times without raw). It is meant for conversion on read and for
// moderate rates, not the drain's per-record hot path.
package jsonevent
