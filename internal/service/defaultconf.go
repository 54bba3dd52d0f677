package service

import (
	"bytes"
	"fmt"

	"github.com/auditdrain/auditdrain/internal/config"
)

// DefaultConfig returns the config file Install writes when there is none:
// every key, commented out, with its documentation and its default value,
// so that the file changes nothing until a line is uncommented.
func DefaultConfig() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `# auditdrain configuration (%s).
#
# Syntax as auditd.conf: "key = value" lines, "#" comments. Every key is
# listed below, commented out, with its default value: uncomment a line to
# change it. Apply changes with "systemctl reload auditdrain" (or
# "auditdrain reload"), which re-reads this file and /etc/audit/rules.d
# without losing a record.
`, config.DefaultPath)
	d := config.Default()
	for _, k := range config.Keys() {
		fmt.Fprintf(&b, "\n# %s\n#%s", config.Doc(k), k)
		if v := d.Value(k); v != "" {
			fmt.Fprintf(&b, " = %s\n", v)
		} else {
			b.WriteString(" =\n") // empty by default
		}
	}
	return b.Bytes()
}
