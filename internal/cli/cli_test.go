package cli_test

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/cli"
)

type flags struct {
	fs     *flag.FlagSet
	serial *string
	json   *bool
	n      *int
	d      *time.Duration
}

func newFlags() flags {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return flags{
		fs:     fs,
		serial: fs.String("serial", "", "serials `A-B`"),
		json:   fs.Bool("json", false, "print JSON"),
		n:      fs.Int("n", 3, "a count"),
		d:      fs.Duration("d", 0, "a duration"),
	}
}

func TestParseFlagsAnywhere(t *testing.T) {
	f := func(args []string, wantPos []string, wantSerial string, wantJSON bool, wantN int) {
		t.Helper()
		fl := newFlags()
		pos, err := cli.Parse(fl.fs, args)
		if err != nil {
			t.Errorf("Parse(%q): %v", args, err)
			return
		}
		if !slices.Equal(pos, wantPos) || *fl.serial != wantSerial || *fl.json != wantJSON || *fl.n != wantN {
			t.Errorf("Parse(%q) = %q serial=%q json=%v n=%d, want %q %q %v %d",
				args, pos, *fl.serial, *fl.json, *fl.n, wantPos, wantSerial, wantJSON, wantN)
		}
	}
	f(nil, nil, "", false, 3)
	f([]string{"DIR", "--serial", "7"}, []string{"DIR"}, "7", false, 3)
	f([]string{"--serial", "7", "DIR"}, []string{"DIR"}, "7", false, 3)
	f([]string{"-serial=7", "A", "--json", "B", "-n", "5"}, []string{"A", "B"}, "7", true, 5)
	f([]string{"A", "--", "--json", "-n"}, []string{"A", "--json", "-n"}, "", false, 3)
	f([]string{"--json=false", "-", "--n=0"}, []string{"-"}, "", false, 0)
	f([]string{"--serial", "--json"}, nil, "--json", false, 3) // a value may start with a dash
	f([]string{"--serial", "", "x"}, []string{"x"}, "", false, 3)
}

func TestParseVisitSeesGivenFlags(t *testing.T) {
	fl := newFlags()
	if _, err := cli.Parse(fl.fs, []string{"x", "--n", "3"}); err != nil {
		t.Fatal(err)
	}
	var given []string
	fl.fs.Visit(func(f *flag.Flag) { given = append(given, f.Name) })
	if !slices.Equal(given, []string{"n"}) {
		t.Errorf("Visit after Parse = %q, want [n]", given)
	}
}

func TestParseHelp(t *testing.T) {
	for _, a := range []string{"-h", "--help", "-help"} {
		fl := newFlags()
		if _, err := cli.Parse(fl.fs, []string{"DIR", a}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("Parse(DIR %s) = %v, want flag.ErrHelp", a, err)
		}
	}
	fl := newFlags()
	if pos, err := cli.Parse(fl.fs, []string{"--", "-h"}); err != nil || !slices.Equal(pos, []string{"-h"}) {
		t.Errorf("Parse(-- -h) = %q, %v; want the positional -h", pos, err)
	}
}

func TestParseErrors(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		fl := newFlags()
		_, err := cli.Parse(fl.fs, args)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a *UsageError", args, err)
			return
		}
		if err.Error() != want {
			t.Errorf("Parse(%q) = %q, want %q", args, err, want)
		}
	}
	f("unknown flag --bogus", "DIR", "--bogus")
	f("unknown flag --bogus", "-bogus=1")
	f("flag --serial needs a value", "DIR", "--serial")
	f(`invalid value "x" for --n: want an integer`, "--n", "x")
	f(`invalid value "maybe" for --json: want true or false`, "--json=maybe")
	f(`invalid value "1" for --d: want a duration such as 500ms or 2s`, "--d", "1")
	f(`bad flag syntax "---x"`, "---x")
	f(`bad flag syntax "-=x"`, "-=x")
}

func TestPrintFlags(t *testing.T) {
	var b strings.Builder
	cli.PrintFlags(&b, newFlags().fs)
	want := `  --d duration
      a duration
  --json
      print JSON
  --n int
      a count (default 3)
  --serial A-B
      serials A-B
`
	if b.String() != want {
		t.Errorf("PrintFlags:\n%s\nwant:\n%s", b.String(), want)
	}
}
