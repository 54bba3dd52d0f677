package jsonevent

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"

	"github.com/auditdrain/auditdrain/internal/record"
)

// Options choose what an [Encoder] writes.
type Options struct {
	// ResolveIDs adds the names of user and group IDs as this host
	// resolves them (aucoalesce.ResolveIDs: /etc/passwd and /etc/group
	// through os/user, cached for a minute): user.name, user.audit.name,
	// file.owner... An archived log converted on another host gets that
	// host's names, as ausearch -i gives.
	ResolveIDs bool
	// OmitRaw leaves out each record's original line (auditd.records[].raw
	// and raw_hex), which otherwise keeps the event lossless.
	OmitRaw bool
}

// Encoder writes events as JSON objects, one line each, in the schema of
// the package documentation. It keeps no state between events and is safe
// for concurrent use.
type Encoder struct {
	opt Options
}

// NewEncoder returns an Encoder with the given options.
func NewEncoder(opt Options) *Encoder { return &Encoder{opt: opt} }

// recInfo is what the encoder learned of one record.
type recInfo struct {
	name   string            // type name: "SYSCALL", "UNKNOWN[1336]"
	fields map[string]string // parsed and interpreted by auparse
	keys   []string          // rule keys of its key= field, decoded
	argv   []string          // EXECVE (whole event, on the first) or PROCTITLE
	err    error             // why auparse could not parse it
}

// AppendEvent appends ev as one JSON object and a newline to dst and returns
// the extended slice. The output is valid JSON (RFC 8259, UTF-8) whatever
// the records hold; it allocates per event (parsing and coalescing with
// go-libaudit).
func (e *Encoder) AppendEvent(dst []byte, ev *Event) []byte {
	infos := make([]recInfo, len(ev.Records))
	msgs := make([]*auparse.AuditMessage, 0, len(ev.Records))
	firstExecve := -1
	for i := range ev.Records {
		r := &ev.Records[i]
		in := &infos[i]
		in.name = record.TypeName(r.Type)
		in.keys = recordKeys(r.Payload)
		if r.Type == typeExecve {
			// auparse fails on arguments the kernel splits (a1_len=,
			// a1[0]=...) and on an argv spread over several EXECVE
			// records: the encoder reads EXECVE itself.
			in.fields = execveFields(r.Payload)
			if firstExecve < 0 {
				firstExecve = i
			}
		}
		m, err := auparse.Parse(auparse.AuditMessageType(r.Type), r.Payload)
		if err != nil {
			in.err = err
			continue
		}
		msgs = append(msgs, m)
		if r.Type == typeExecve {
			continue
		}
		data, err := m.Data()
		if err != nil {
			in.err = err
			continue
		}
		// Copied: aucoalesce deletes keys from the message's map.
		in.fields = make(map[string]string, len(data))
		for k, v := range data {
			in.fields[k] = v
		}
		if r.Type == typeProctitle {
			in.argv = proctitleArgv(r.Payload)
		}
	}
	var argv []string
	if firstExecve >= 0 {
		argv = execveArgv(ev.Records)
		infos[firstExecve].argv = argv
	}

	cev, cerr := coalesce(msgs, e.opt.ResolveIDs)

	w := jw{b: dst}
	w.begin('{')
	var stamp []byte // "SEC.MSS" as written
	if len(ev.Records) > 0 {
		p := ev.Records[0].Payload
		if sec, milli, _, ok := record.Header([]byte(p)); ok {
			w.key("@timestamp")
			t := time.Unix(sec, int64(milli)*int64(time.Millisecond)).UTC()
			w.sep()
			w.b = append(w.b, '"')
			w.b = t.AppendFormat(w.b, "2006-01-02T15:04:05.000Z07:00")
			w.b = append(w.b, '"')
			w.need = true
			stamp = []byte(p[len("audit("):strings.IndexByte(p, ':')])
		}
	}
	if cev != nil {
		writeECS(&w, cev)
	}
	tags := eventTags(ev.Records, infos)
	w.strs("tags", tags)
	if cev != nil {
		writeUser(&w, cev)
		writeProcess(&w, cev, argv)
		writeFile(&w, cev.File)
		writeAddress(&w, "source", cev.Source)
		writeAddress(&w, "destination", cev.Dest)
		if cev.Net != nil {
			w.key("network")
			w.begin('{')
			w.kv("direction", cev.Net.Direction.String())
			w.end('}')
		}
	}
	if cerr != nil {
		w.key("error")
		w.begin('{')
		w.kv("message", cerr.Error())
		w.end('}')
	}

	w.key("auditd")
	w.begin('{')
	if stamp != nil {
		w.key("id")
		w.sep()
		w.b = append(w.b, '"')
		w.b = append(w.b, stamp...)
		w.b = append(w.b, ':')
		w.b = strconv.AppendUint(w.b, ev.Serial, 10)
		w.b = append(w.b, '"')
		w.need = true
		w.key("epoch")
		w.bytesStr(stamp)
	}
	w.key("sequence")
	w.sep()
	w.b = strconv.AppendUint(w.b, ev.Serial, 10)
	w.need = true
	w.kv("node", ev.Node)
	if cev != nil {
		w.kv("message_type", strings.ToLower(cev.Type.String()))
	} else if len(infos) > 0 {
		w.kv("message_type", strings.ToLower(infos[0].name))
	}
	w.key("record_types")
	w.begin('[')
	for i := range infos {
		seen := false
		for j := 0; j < i; j++ {
			if infos[j].name == infos[i].name {
				seen = true
				break
			}
		}
		if !seen {
			w.str(infos[i].name)
		}
	}
	w.end(']')
	if cev != nil {
		w.kv("result", cev.Result)
		w.kv("session", cev.Session)
		writeSummary(&w, &cev.Summary)
		data := cev.Data
		if extra := otherIDs(cev.User.IDs); len(extra) > 0 {
			data = make(map[string]string, len(cev.Data)+len(extra))
			for k, v := range cev.Data {
				data[k] = v
			}
			for k, v := range extra {
				data[k] = v
			}
		}
		w.strMap("data", data)
		if len(cev.Paths) > 0 {
			w.key("paths")
			w.begin('[')
			for _, p := range cev.Paths {
				w.begin('{')
				w.mapBody(p)
				w.end('}')
			}
			w.end(']')
		}
	}
	w.kv("end", ev.End.String())
	if ev.Incomplete() {
		w.key("incomplete")
		w.raw("true")
	}
	if ev.Dropped > 0 {
		w.key("records_dropped")
		w.raw(strconv.Itoa(ev.Dropped))
	}
	w.key("records")
	w.begin('[')
	for i := range ev.Records {
		e.writeRecord(&w, ev.Node, &ev.Records[i], &infos[i])
	}
	w.end(']')
	w.end('}') // auditd
	w.end('}')
	return append(w.b, '\n')
}

func (e *Encoder) writeRecord(w *jw, node string, r *Record, in *recInfo) {
	w.begin('{')
	w.kv("type", in.name)
	w.strs("keys", in.keys)
	if len(in.fields) > 0 || in.argv != nil {
		w.key("fields")
		w.begin('{')
		w.mapBody(in.fields)
		if in.argv != nil {
			w.key("argv")
			w.begin('[')
			for _, a := range in.argv {
				w.str(a)
			}
			w.end(']')
		}
		w.end('}')
	}
	if in.err != nil {
		w.kv("error", in.err.Error())
	}
	if !e.opt.OmitRaw {
		line := make([]byte, 0, len("node= type= msg=")+len(node)+len(in.name)+len(r.Payload))
		if node != "" {
			line = append(line, "node="...)
			line = append(line, node...)
			line = append(line, ' ')
		}
		line = append(line, "type="...)
		line = append(line, in.name...)
		line = append(line, " msg="...)
		line = append(line, r.Payload...)
		w.key("raw")
		w.bytesStr(line)
		if !utf8.Valid(line) {
			w.key("raw_hex")
			w.sep()
			w.b = append(w.b, '"')
			for _, c := range line {
				w.b = append(w.b, hexDigits[c>>4], hexDigits[c&0xf])
			}
			w.b = append(w.b, '"')
			w.need = true
		}
	}
	w.end('}')
}

// coalesce runs aucoalesce on the parsed records. A panic in it (input
// go-libaudit did not expect) becomes an error: one bad event must not stop
// the writer or cat.
func coalesce(msgs []*auparse.AuditMessage, resolve bool) (ev *aucoalesce.Event, err error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("aucoalesce: panic: %v", r)
		}
	}()
	ev, err = aucoalesce.CoalesceMessages(msgs)
	if ev != nil && resolve {
		aucoalesce.ResolveIDs(ev)
	}
	if err != nil {
		err = fmt.Errorf("aucoalesce: %w", err)
	}
	return ev, err
}

func writeECS(w *jw, cev *aucoalesce.Event) {
	w.key("event")
	w.begin('{')
	kind := cev.ECS.Event.Kind
	if kind == "" {
		kind = "event"
	}
	w.kv("kind", kind)
	w.kv("module", "auditd")
	w.strs("category", cev.ECS.Event.Category)
	w.strs("type", cev.ECS.Event.Type)
	w.kv("action", cev.Summary.Action)
	outcome := cev.ECS.Event.Outcome
	if outcome == "" {
		switch cev.Result {
		case "success":
			outcome = "success"
		case "fail":
			outcome = "failure"
		default:
			outcome = "unknown"
		}
	}
	w.kv("outcome", outcome)
	w.end('}')
}

// The IDs of a SYSCALL record and where ECS (and Auditbeat) put them under
// "user".
var userIDs = map[string]bool{
	"auid": true, "uid": true, "euid": true, "suid": true, "fsuid": true,
	"gid": true, "egid": true, "sgid": true, "fsgid": true,
}

// otherIDs returns the user/group IDs aucoalesce moved out of its data that
// have no place under "user" (ouid, old-auid...), to go back to data.
func otherIDs(ids map[string]string) map[string]string {
	var out map[string]string
	for k, v := range ids {
		if !userIDs[k] {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}

func writeUser(w *jw, cev *aucoalesce.Event) {
	ids, names := cev.User.IDs, cev.User.Names
	target, changes := cev.ECS.User.Target, cev.ECS.User.Changes
	has := func(keys ...string) bool {
		for _, k := range keys {
			if ids[k] != "" {
				return true
			}
		}
		return false
	}
	if !has("auid", "uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid") &&
		len(cev.User.SELinux) == 0 && target == (aucoalesce.ECSEntityData{}) &&
		changes == (aucoalesce.ECSEntityData{}) {
		return
	}
	entity := func(uid, gid string) {
		w.kv("id", ids[uid])
		w.kv("name", names[uid])
		if gid != "" && has(gid) {
			w.key("group")
			w.begin('{')
			w.kv("id", ids[gid])
			w.kv("name", names[gid])
			w.end('}')
		}
	}
	sub := func(name, uid, gid string) {
		if !has(uid, gid) {
			return
		}
		w.key(name)
		w.begin('{')
		entity(uid, gid)
		w.end('}')
	}
	w.key("user")
	w.begin('{')
	entity("uid", "gid")
	sub("audit", "auid", "")
	sub("effective", "euid", "egid")
	sub("saved", "suid", "sgid")
	sub("filesystem", "fsuid", "fsgid")
	for _, t := range []struct {
		name string
		e    aucoalesce.ECSEntityData
	}{{"target", target}, {"changes", changes}} {
		if t.e != (aucoalesce.ECSEntityData{}) {
			w.key(t.name)
			w.begin('{')
			w.kv("id", t.e.ID)
			w.kv("name", t.e.Name)
			w.end('}')
		}
	}
	w.strMap("selinux", cev.User.SELinux)
	w.end('}')
	if g := cev.ECS.Group; g != (aucoalesce.ECSEntityData{}) {
		w.key("group")
		w.begin('{')
		w.kv("id", g.ID)
		w.kv("name", g.Name)
		w.end('}')
	}
}

func writeProcess(w *jw, cev *aucoalesce.Event, argv []string) {
	p := cev.Process
	if argv == nil {
		argv = p.Args
	}
	if p.IsEmpty() && len(argv) == 0 {
		return
	}
	w.key("process")
	w.begin('{')
	w.kvNum("pid", p.PID)
	if p.PPID != "" {
		w.key("parent")
		w.begin('{')
		w.kvNum("pid", p.PPID)
		w.end('}')
	}
	w.kv("name", p.Name)
	w.kv("executable", p.Exe)
	w.kv("working_directory", p.CWD)
	w.kv("title", p.Title)
	if len(argv) > 0 {
		w.strs("args", argv)
		w.key("args_count")
		w.raw(strconv.Itoa(len(argv)))
	}
	w.end('}')
}

func writeFile(w *jw, f *aucoalesce.File) {
	if f == nil {
		return
	}
	w.key("file")
	w.begin('{')
	w.kv("path", f.Path)
	w.kv("device", f.Device)
	w.kv("inode", f.Inode)
	w.kv("mode", f.Mode)
	w.kv("uid", f.UID)
	w.kv("gid", f.GID)
	w.kv("owner", f.Owner)
	w.kv("group", f.Group)
	w.strMap("selinux", f.SELinux)
	w.end('}')
}

func writeAddress(w *jw, name string, a *aucoalesce.Address) {
	if a == nil {
		return
	}
	w.key(name)
	w.begin('{')
	w.kv("ip", a.IP)
	w.kvNum("port", a.Port)
	w.kv("path", a.Path)
	w.kv("domain", a.Hostname)
	w.end('}')
}

func writeSummary(w *jw, s *aucoalesce.Summary) {
	w.key("summary")
	w.begin('{')
	if s.Actor != (aucoalesce.Actor{}) {
		w.key("actor")
		w.begin('{')
		w.kv("primary", s.Actor.Primary)
		w.kv("secondary", s.Actor.Secondary)
		w.end('}')
	}
	w.kv("action", s.Action)
	if s.Object != (aucoalesce.Object{}) {
		w.key("object")
		w.begin('{')
		w.kv("type", s.Object.Type)
		w.kv("primary", s.Object.Primary)
		w.kv("secondary", s.Object.Secondary)
		w.end('}')
	}
	w.kv("how", s.How)
	w.end('}')
}

// eventTags returns the event's rule keys: those of its SYSCALL or URINGOP
// records (the rules that made the kernel log it); for an event without
// one, those of its first record that has a key= (a CONFIG_CHANGE names
// the rule it changed), as Auditbeat's tags.
func eventTags(recs []Record, infos []recInfo) []string {
	var tags []string
	for i := range recs {
		if record.CarriesEventKey(recs[i].Type) {
			tags = appendNew(tags, infos[i].keys...)
		}
	}
	if tags != nil {
		return tags
	}
	for i := range infos {
		if len(infos[i].keys) > 0 {
			return infos[i].keys
		}
	}
	return nil
}

func appendNew(dst []string, vs ...string) []string {
outer:
	for _, v := range vs {
		for _, d := range dst {
			if d == v {
				continue outer
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// recordKeys decodes a record's key= field: a quoted key as it is, a
// hex-encoded one (any key with a byte outside 0x21..0x7e, and every
// multi-key value) decoded and split at record.KeySeparator.
func recordKeys(payload string) []string {
	val, quoted, ok := record.KeyField([]byte(payload))
	if !ok {
		return nil
	}
	if quoted {
		return []string{string(val)}
	}
	dec, ok := record.AppendUnhex(nil, val)
	if !ok {
		return []string{string(val)}
	}
	var keys []string
	for _, k := range bytes.Split(dec, []byte{record.KeySeparator}) {
		keys = append(keys, string(k))
	}
	return keys
}

// Record types the encoder reads itself.
const (
	typeExecve = 1309
)

// fieldsOf returns the text after a payload's "audit(...): " header.
func fieldsOf(payload string) string {
	if i := strings.Index(payload, "): "); i >= 0 {
		return payload[i+3:]
	}
	return ""
}

// decodeValue decodes a value as the kernel's audit_log_untrustedstring
// writes it: between double quotes as it is, otherwise hex-encoded. A value
// that is neither is returned as it is.
func decodeValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	if dec, ok := record.AppendUnhex(nil, []byte(v)); ok && len(v) > 0 {
		return string(dec)
	}
	return v
}

// argToken parses an EXECVE argument field name: "a3" (whole argument),
// "a3[0]" (a chunk of a long argument) or "a3_len" (its length). It returns
// the index and whether the field carries text.
func argToken(k string) (idx int, text, ok bool) {
	if len(k) < 2 || k[0] != 'a' {
		return 0, false, false
	}
	j := 1
	for j < len(k) && k[j] >= '0' && k[j] <= '9' {
		j++
	}
	if j == 1 || j-1 > 9 {
		return 0, false, false
	}
	n, _ := strconv.Atoi(k[1:j])
	switch rest := k[j:]; {
	case rest == "":
		return n, true, true
	case rest == "_len":
		return n, false, true
	case len(rest) >= 3 && rest[0] == '[' && rest[len(rest)-1] == ']':
		return n, true, true
	}
	return 0, false, false
}

// execveFields returns an EXECVE record's fields other than its arguments,
// as written (argc, in the first EXECVE record of an event).
func execveFields(payload string) map[string]string {
	var out map[string]string
	for _, tok := range strings.Fields(fieldsOf(payload)) {
		k, v, found := strings.Cut(tok, "=")
		if !found {
			continue
		}
		if _, _, isArg := argToken(k); isArg {
			continue
		}
		if out == nil {
			out = make(map[string]string, 1)
		}
		out[k] = v
	}
	return out
}

// execveArgv assembles the argument vector from all EXECVE records of an
// event, in index order: the kernel writes an argument as a3="text" or
// a3=HEX, a long one as a3_len=N then chunks a3[0]=... a3[1]=..., each
// quoted or hex by itself, and spreads a long argv over several records.
// Only the arguments present are returned (a lost record leaves a gap).
func execveArgv(recs []Record) []string {
	type arg struct {
		idx int
		b   []byte
	}
	var args []arg
	pos := map[int]int{}
	for i := range recs {
		if recs[i].Type != typeExecve {
			continue
		}
		for _, tok := range strings.Fields(fieldsOf(recs[i].Payload)) {
			k, v, found := strings.Cut(tok, "=")
			if !found {
				continue
			}
			idx, text, isArg := argToken(k)
			if !isArg || !text {
				continue
			}
			p, ok := pos[idx]
			if !ok {
				p = len(args)
				pos[idx] = p
				args = append(args, arg{idx: idx})
			}
			args[p].b = append(args[p].b, decodeValue(v)...)
		}
	}
	if args == nil {
		return nil
	}
	sort.SliceStable(args, func(i, j int) bool { return args[i].idx < args[j].idx })
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a.b)
	}
	return out
}

// proctitleArgv decodes a PROCTITLE record's proctitle= (the command line
// the kernel read from the process, at most 128 bytes, NUL-separated and
// hex-encoded, or quoted when it is a single printable argument) into its
// arguments.
func proctitleArgv(payload string) []string {
	f := fieldsOf(payload)
	const key = "proctitle="
	i := strings.Index(f, key)
	if i < 0 {
		return nil
	}
	v := f[i+len(key):]
	if sp := strings.IndexByte(v, ' '); sp >= 0 {
		v = v[:sp]
	}
	if v == "" || v == "(null)" {
		return nil
	}
	dec := decodeValue(v)
	dec = strings.TrimRight(dec, "\x00")
	return strings.Split(dec, "\x00")
}
