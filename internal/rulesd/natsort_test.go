package rulesd

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestVerCompare(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		names := strings.Fields(in)
		slices.SortFunc(names, verCompare)
		if got := strings.Join(names, " "); got != want {
			t.Fatalf("sorted %q\n got %q\nwant %q", in, got, want)
		}
	}
	f("10-base.rules 2-x.rules 1.rules", "1.rules 2-x.rules 10-base.rules")
	f("a10 a9 a09 a1 a01", "a01 a1 a09 a9 a10")
	f("b.rules a.rules B.rules", "B.rules a.rules b.rules")
	f("x.rules .x.rules ..", ".. .x.rules x.rules")
	f("a~ a a.b", "a~ a a.b")
	f("99-finalize.rules 30-stig.rules 11-loginuid.rules 10-base-config.rules", "10-base-config.rules 11-loginuid.rules 30-stig.rules 99-finalize.rules")
}

// TestVerCompareMatchesLs sorts random names with verCompare and with the
// machine's `ls -1v`, which augenrules uses to order rules.d.
func TestVerCompareMatchesLs(t *testing.T) {
	if _, err := exec.LookPath("ls"); err != nil {
		t.Skipf("skipping: no ls: %v", err)
	}
	for seed := range uint64(4) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { compareWithLs(t, seed) })
	}
}

func compareWithLs(t *testing.T, seed uint64) {
	dir := t.TempDir()
	const alphabet = "0019azAZ.-_~+rules"
	rng := rand.New(rand.NewPCG(seed, 2))
	seen := map[string]bool{}
	for len(seen) < 400 {
		n := 1 + rng.IntN(8)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		name := string(b)
		if rng.IntN(3) == 0 {
			name += ".rules"
		}
		if name == "." || name == ".." || seen[name] {
			continue
		}
		seen[name] = true
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("ls", "-1v", "-a", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	got := slices.Collect(func(yield func(string) bool) {
		for name := range seen {
			if !yield(name) {
				return
			}
		}
	})
	got = append(got, ".", "..")
	slices.SortFunc(got, verCompare)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("first difference at %d: got %q, ls -1v has %q\n got %q\nwant %q", i, got[i], want[i], got[max(0, i-3):min(len(got), i+4)], want[max(0, i-3):min(len(want), i+4)])
			}
		}
		t.Fatalf("got %d names, ls -1v listed %d", len(got), len(want))
	}
}
