package auditctl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/elastic/go-libaudit/v2/rule"
	"golang.org/x/sys/unix"
)

// Rules returns the kernel's audit rules (AUDIT_LIST_RULES) in wire format
// (struct audit_rule_data), in the kernel's order. Each slice is a copy owned
// by the caller. rule.ToCommandLine turns one back into auditctl syntax.
func (c *Conn) Rules() ([][]byte, error) {
	rs, err := c.list(unix.AUDIT_LIST_RULES)
	if err != nil {
		return nil, fmt.Errorf("auditctl: listing audit rules: %w", err)
	}
	return rs, nil
}

// AddRule adds one rule in wire format (AUDIT_ADD_RULE) and waits for the
// kernel's ack. An identical rule already present fails with an error
// wrapping unix.EEXIST; a watch whose parent directory does not exist with
// one wrapping unix.ENOENT.
func (c *Conn) AddRule(wire []byte) error {
	if err := c.ack(unix.AUDIT_ADD_RULE, wire); err != nil {
		return fmt.Errorf("auditctl: adding rule %s: %w", ruleText(wire), err)
	}
	return nil
}

// DeleteRule deletes the rule equal to wire (AUDIT_DEL_RULE). The kernel
// compares rules by content, so wire may come from Rules or from
// ParseRules. A rule that is not present fails with an error wrapping
// unix.ENOENT.
func (c *Conn) DeleteRule(wire []byte) error {
	if err := c.ack(unix.AUDIT_DEL_RULE, wire); err != nil {
		return fmt.Errorf("auditctl: deleting rule %s: %w", ruleText(wire), err)
	}
	return nil
}

// DeleteAllRules deletes every audit rule, like `auditctl -D`, and returns
// how many it deleted. It goes on past a rule it fails to delete and returns
// all the failures joined.
func (c *Conn) DeleteAllRules() (int, error) {
	rs, err := c.Rules()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, w := range rs {
		if err := c.DeleteRule(w); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// AddRules adds rs in order, all or nothing: if rule k fails, the rules this
// call already added are deleted again (in reverse order) and the error names
// rule k's file, line and text and wraps the kernel's errno. A failure to
// roll back is joined to the error.
func (c *Conn) AddRules(rs []Rule) error {
	for k, r := range rs {
		err := c.ack(unix.AUDIT_ADD_RULE, r.AddWire())
		if err == nil {
			continue
		}
		err = fmt.Errorf("auditctl: adding rule %s:%d %q: %w", r.File, r.Line, r.Text, err)
		var rollback []error
		for i := k - 1; i >= 0; i-- {
			if derr := c.DeleteRule(rs[i].Wire); derr != nil {
				rollback = append(rollback, fmt.Errorf("auditctl: rolling back rule %s:%d %q: %w", rs[i].File, rs[i].Line, rs[i].Text, derr))
			}
		}
		return errors.Join(append([]error{err}, rollback...)...)
	}
	return nil
}

// ruleText renders a wire-format rule in auditctl syntax for error messages,
// or describes it when it cannot be decoded.
func ruleText(wire []byte) string {
	if s, err := rule.ToCommandLine(wire, false); err == nil {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("(%d bytes, not decodable)", len(wire))
}

// Layout of struct audit_rule_data: flags, action, field_count, then
// mask[64], fields[64], values[64], fieldflags[64], buflen, buf.
const (
	ruleFieldsOff = 3*4 + 64*4
	ruleValuesOff = ruleFieldsOff + 64*4
	ruleBufLenOff = ruleValuesOff + 2*64*4
	ruleBufOff    = ruleBufLenOff + 4
	ruleMaxFields = 64
)

// isStringField reports whether a rule field's value is the length of a
// string in the rule's buffer (kernel/auditfilter.c, audit_data_to_entry).
func isStringField(f uint32) bool {
	switch f {
	case 13, 14, 15, 16, 17, // AUDIT_SUBJ_USER .. AUDIT_SUBJ_CLR
		19, 20, 21, 22, 23, // AUDIT_OBJ_USER .. AUDIT_OBJ_LEV_HIGH
		105, 107, 112, // AUDIT_WATCH, AUDIT_DIR, AUDIT_EXE
		210: // AUDIT_FILTERKEY
		return true
	}
	return false
}

// RuleKeys returns the keys (-k) of a wire-format rule, or nil when it has
// none or cannot be decoded. Several keys on one rule are stored joined by
// \x01, and returned split.
func RuleKeys(wire []byte) []string {
	if len(wire) < ruleBufOff {
		return nil
	}
	ne := binary.NativeEndian
	n := ne.Uint32(wire[8:])
	buf := wire[ruleBufOff:]
	bl := ne.Uint32(wire[ruleBufLenOff:])
	if n > ruleMaxFields || uint64(bl) > uint64(len(buf)) {
		return nil
	}
	buf = buf[:bl]
	var keys []string
	for i := range n {
		field := ne.Uint32(wire[ruleFieldsOff+4*i:])
		if !isStringField(field) {
			continue
		}
		l := ne.Uint32(wire[ruleValuesOff+4*i:])
		if uint64(l) > uint64(len(buf)) {
			return nil
		}
		if field == 210 {
			for _, k := range bytes.Split(buf[:l], []byte{1}) {
				keys = append(keys, string(k))
			}
		}
		buf = buf[l:]
	}
	return keys
}
