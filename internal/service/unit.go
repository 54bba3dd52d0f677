package service

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"strings"
)

// UnitName is the systemd unit auditdrain runs as.
const UnitName = "auditdrain.service"

// DefaultBinary is the ExecStart= binary of the unit as shipped.
const DefaultBinary = "/usr/local/sbin/auditdrain"

// unitFile is the unit as shipped: valid as it is, with ExecStart= running
// DefaultBinary.
//
//go:embed auditdrain.service
var unitFile string

// Unit returns the unit file with ExecStart= running binary (DefaultBinary
// when empty). The path must be absolute and free of characters that
// systemd would interpret (white space, quotes, backslashes, '%', '$', ';').
func Unit(binary string) ([]byte, error) {
	if binary == "" {
		binary = DefaultBinary
	}
	if !filepath.IsAbs(binary) {
		return nil, fmt.Errorf("service: binary path %q is not absolute", binary)
	}
	if i := strings.IndexFunc(binary, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\%$;`, r)
	}); i >= 0 {
		return nil, fmt.Errorf("service: binary path %q: character %q would need quoting in a unit file", binary, binary[i])
	}
	const exec = "\nExecStart=" + DefaultBinary + " "
	if strings.Count(unitFile, exec) != 1 {
		return nil, fmt.Errorf("service: embedded %s has no single %q line", UnitName, strings.TrimSpace(exec))
	}
	return []byte(strings.Replace(unitFile, exec, "\nExecStart="+binary+" ", 1)), nil
}
