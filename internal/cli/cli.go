// Package cli owns auditdrain's command-line conventions, shared by every
// subcommand: flags may come before, between or after positional arguments
// and "--" ends them; flags are spelled --name in help; -h and --help ask
// for help; a command-line mistake is a UsageError, which main reports in
// one line and exits 2 for.
//
// It parses with a flag.FlagSet's flags but never lets the flag package
// print anything or exit: output is the caller's.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// UsageError is a mistake on the command line: an unknown flag, a flag
// without its value or with a bad one, a missing or extra argument.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, a ...any) error {
	return &UsageError{fmt.Errorf(format, a...)}
}

// Parse sets fs's flags from args and returns the positional arguments, in
// order. Flags may appear anywhere; "--" ends them, and a lone "-" is a
// positional argument. A flag is -name or --name, its value either joined
// (--name=value) or the next argument; boolean flags take only the joined
// form. -h, -help and --help (unless fs defines them) return flag.ErrHelp.
// Every other error is a *UsageError naming the flag as --name.
//
// Flags are set with fs.Set, so fs.Visit lists the ones given.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, Usagef("bad flag syntax %q", a)
		}
		name, value, joined := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f == nil {
			if name == "h" || name == "help" {
				return nil, flag.ErrHelp
			}
			return nil, Usagef("unknown flag --%s", name)
		}
		if !joined {
			if isBool(f) {
				value = "true"
			} else {
				if i+1 == len(args) {
					return nil, Usagef("flag --%s needs a value", name)
				}
				i++
				value = args[i]
			}
		}
		if err := fs.Set(name, value); err != nil {
			return nil, Usagef("invalid value %q for --%s: %s", value, name, valueError(f, err))
		}
	}
	return pos, nil
}

// valueError says what a flag wants when the flag package's own values
// report only "parse error".
func valueError(f *flag.Flag, err error) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		err = ne.Err // "invalid syntax", not strconv's function name
	}
	if err.Error() != "parse error" {
		return err.Error()
	}
	if isBool(f) {
		return "want true or false"
	}
	switch typ, _ := flag.UnquoteUsage(f); typ {
	case "duration":
		return "want a duration such as 500ms or 2s"
	case "int", "uint":
		return "want an integer"
	case "float":
		return "want a number"
	}
	return err.Error()
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// PrintFlags writes fs's flags to w, sorted by name and spelled --name, each
// with its value's name and, on the next line, its usage and non-empty
// default.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" && !isBool(f) {
			line += " " + typ
		}
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(usage, "\n", "\n      "))
	})
}

// Hint is the line that follows a usage error: where to find the usage.
func Hint(command string) string {
	return fmt.Sprintf("Run '%s --help' for usage.", command)
}
