package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/auditdrain/auditdrain/internal/enrich"
	"github.com/auditdrain/auditdrain/internal/jsonevent"
	"github.com/auditdrain/auditdrain/internal/record"
)

// Output formats of cat --format.
const (
	formatRaw      = "raw"
	formatEnriched = "enriched"
	formatJSON     = "json"
)

// converter is the io.Writer cat's lines go through for --format: it
// splits what it is given into lines and writes each one converted to out.
// Lines are converted on read, whatever format the log was written in:
//
//   - raw: the RAW line (an ENRICHED suffix is cut off);
//   - enriched: the RAW line followed by what auditd 3.0.9 with log_format
//     = ENRICHED appends, with this host's names (the log's own suffix, if
//     any, is replaced), as ausearch -i would name them here;
//   - json: one object per event (package internal/jsonevent); events are
//     grouped across lines and the last ones are written by Close.
//
// A line that is not an audit record is copied as it is (raw, enriched) or
// reported on warn and skipped (json). Each Write's output is flushed
// before it returns, so that a following cat shows records as they come.
// Close must be called at the end.
type converter struct {
	format  string
	out     *bufio.Writer
	warn    io.Writer
	partial []byte // the start of a line not yet ended
	line    int    // lines seen
	skipped int    // json: lines that were not records
	// enrichedIn is whether the input is ENRICHED, as its last SYSCALL
	// line showed: 1 yes, 0 no, -1 not known yet.
	enrichedIn int8

	enr    map[string]*enrich.Enricher // per node name ("" for none)
	types  map[string]uint16           // type names seen, to their number
	asm    *jsonevent.Assembler
	enc    *jsonevent.Encoder
	buf    []byte
	outErr error
}

// newConverter returns a converter writing format (raw, enriched or json)
// to out, with warnings on warn.
func newConverter(format string, out, warn io.Writer) *converter {
	c := &converter{
		format: format,
		out:    bufio.NewWriterSize(out, 64<<10),
		warn:   warn,
		enr:    map[string]*enrich.Enricher{},
		types:  map[string]uint16{},

		enrichedIn: -1,
	}
	if format == formatJSON {
		c.enc = jsonevent.NewEncoder(jsonevent.Options{ResolveIDs: true})
		c.asm = jsonevent.NewAssembler(jsonevent.AssemblerOptions{}, func(ev *jsonevent.Event) {
			c.buf = c.enc.AppendEvent(c.buf[:0], ev)
			c.write(c.buf)
		})
	}
	return c
}

func (c *converter) write(p []byte) {
	if c.outErr == nil {
		_, c.outErr = c.out.Write(p)
	}
}

// Write converts the whole lines of p (with the line begun by earlier
// calls) and keeps the rest for the next call.
func (c *converter) Write(p []byte) (int, error) {
	n := len(p)
	if len(c.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			return n, c.outErr
		}
		c.partial = append(c.partial, p[:i]...)
		c.convert(c.partial)
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		c.convert(p[:i])
		p = p[i+1:]
	}
	c.partial = append(c.partial, p...)
	if c.outErr == nil {
		c.outErr = c.out.Flush()
	}
	return n, c.outErr
}

// Close converts a last line without a newline, writes the events still
// open (json) and flushes.
func (c *converter) Close() error {
	if len(c.partial) > 0 {
		c.convert(c.partial)
		c.partial = c.partial[:0]
	}
	if c.asm != nil {
		c.asm.Flush()
	}
	if c.skipped > 0 {
		fmt.Fprintf(c.warn, "auditdrain: cat: %d lines that are not audit records were left out of the JSON\n", c.skipped)
	}
	if c.outErr == nil {
		c.outErr = c.out.Flush()
	}
	return c.outErr
}

// convert writes one line (without its '\n') in the converter's format.
func (c *converter) convert(line []byte) {
	c.line++
	node, typ, payload, isRec := c.split(line)
	raw := line
	if isRec {
		raw = c.rawPart(line, typ)
		payload = payload[:len(payload)-(len(line)-len(raw))]
	}
	switch c.format {
	case formatJSON:
		var err error
		switch {
		case isRec && node == "":
			// By type and payload, so that a 0x1d inside a user message
			// stays in the record (Add cuts a line at its first one).
			err = c.asm.AddRecord(typ, payload)
		default:
			err = c.asm.Add(raw)
		}
		if err != nil {
			c.skipped++
			if c.skipped <= 10 {
				fmt.Fprintf(c.warn, "auditdrain: cat: output line %d: %v\n", c.line, err)
			}
		}
		return
	case formatRaw:
		c.write(raw)
	case formatEnriched:
		c.write(raw)
		if isRec {
			e := c.enr[node]
			if e == nil {
				e = enrich.New(enrich.Options{Node: node})
				if len(c.enr) < 64 { // bounded: many nodes share one past that
					c.enr[node] = e
				}
			}
			c.buf = e.Append(c.buf[:0], typ, payload)
			c.write(c.buf)
		}
	}
	c.write([]byte{'\n'})
}

// isUserType reports whether records of type typ come from user space
// (AUDIT_USER and AUDIT_FIRST_USER_MSG..AUDIT_LAST_USER_MSG, ..._MSG2, the
// types the kernel relays), whose text may hold a 0x1d; the kernel
// hex-encodes control characters in what it logs itself.
func isUserType(typ uint16) bool {
	return typ == 1005 || typ >= 1100 && typ <= 1199 || typ >= 2100 && typ <= 2999
}

// rawPart is a record's line without its ENRICHED suffix, if it has one:
// the text before the last 0x1d. A kernel record holds a 0x1d only as
// auditd's separator. A user space message may hold its own, even followed
// by NAME=value text; for those lines the log's format decides, as the
// last SYSCALL line showed it (auditd always enriches SYSCALL records).
// Before any SYSCALL line, a suffix is taken to be one when it starts with
// NAME= and does not end with the quote the kernel puts after a user
// message.
func (c *converter) rawPart(line []byte, typ uint16) []byte {
	i := bytes.LastIndexByte(line, enrich.Separator)
	if typ == record.TypeSyscall {
		c.enrichedIn = 1
		if i < 0 {
			c.enrichedIn = 0
		}
	}
	if i < 0 {
		return line
	}
	if !isUserType(typ) {
		return line[:i]
	}
	switch c.enrichedIn {
	case 1:
		return line[:i]
	case 0:
		return line
	}
	s := line[i+1:]
	j := 0
	for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '-') {
		j++
	}
	if j == 0 || j == len(s) || s[j] != '=' || s[len(s)-1] == '\'' {
		return line
	}
	return line[:i]
}

// split takes a RAW line apart: "[node=NODE ]type=NAME msg=PAYLOAD".
func (c *converter) split(line []byte) (node string, typ uint16, payload []byte, ok bool) {
	rest := line
	if bytes.HasPrefix(rest, []byte("node=")) {
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return "", 0, nil, false
		}
		node, rest = string(rest[len("node="):sp]), rest[sp+1:]
	}
	if !bytes.HasPrefix(rest, []byte("type=")) {
		return "", 0, nil, false
	}
	rest = rest[len("type="):]
	sp := bytes.Index(rest, []byte(" msg="))
	if sp < 0 {
		return "", 0, nil, false
	}
	name := rest[:sp]
	typ, ok = c.types[string(name)]
	if !ok {
		n := name
		if bytes.HasPrefix(n, []byte("UNKNOWN[")) && bytes.HasSuffix(n, []byte("]")) {
			n = n[len("UNKNOWN[") : len(n)-1]
		}
		if typ, ok = record.ParseType(string(n)); !ok {
			return "", 0, nil, false
		}
		if len(c.types) < 4096 {
			c.types[string(name)] = typ
		}
	}
	return node, typ, rest[sp+len(" msg="):], true
}
