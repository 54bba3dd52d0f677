package ratelimit

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	f := func(in string, want Rule) {
		t.Helper()
		got, err := ParseRule(in)
		if err != nil || got != want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", in, got, err, want)
			return
		}
		again, err := ParseRule(got.String())
		if err != nil || again != got {
			t.Errorf("ParseRule(%q.String() = %q) = %+v, %v; want %+v", in, got.String(), again, err, got)
		}
	}
	f("key=noisy rate=1000 burst=2000", Rule{"noisy", 1000, 2000})
	f("  burst=5\trate=2.5   key=noisy ", Rule{"noisy", 2.5, 5})
	f("key=noisy rate=1000", Rule{"noisy", 1000, 1000}) // burst: one second
	f("key=noisy rate=2.5", Rule{"noisy", 2.5, 3})      // rounded up
	f("key=noisy rate=0.01", Rule{"noisy", 0.01, 1})    // at least 1
	f("key=a=b rate=1e3 burst=1", Rule{"a=b", 1000, 1}) // '=' inside a key
	f("key=cap:exec rate=1 burst=1", Rule{"cap:exec", 1, 1})
	f("key=noisy rate=1000000000 burst=1", Rule{"noisy", 1e9, 1})
	f("key="+strings.Repeat("k", MaxKeyLen)+" rate=1 burst=1", Rule{strings.Repeat("k", MaxKeyLen), 1, 1})
}

func TestParseRuleErrors(t *testing.T) {
	f := func(in, wantMsg string) {
		t.Helper()
		_, err := ParseRule(in)
		if err == nil {
			t.Errorf("ParseRule(%q) succeeded, want an error about %q", in, wantMsg)
			return
		}
		if !errors.Is(err, ErrInvalidRule) {
			t.Errorf("ParseRule(%q) error %v does not wrap ErrInvalidRule", in, err)
		}
		if msg := err.Error(); !strings.Contains(msg, wantMsg) || !strings.Contains(msg, strconv.Quote(in)) {
			t.Errorf("ParseRule(%q) error %q: want it to quote the input and mention %q", in, msg, wantMsg)
		}
	}
	f("", "empty")
	f("   ", "empty")
	f("noisy:1000:2000", `field "noisy:1000:2000" is not name=value`)
	f("key=noisy rate=1000 2000", `field "2000" is not name=value`)
	f("rate=1000 burst=1", "no key= field")
	f("key=noisy burst=1", "no rate= field")
	f("key=noisy rate=1 burst=1 period=1s", `unknown field "period"`)
	f("key=a key=b rate=1", "key given twice")
	f("key=a rate=1 rate=2", "rate given twice")
	f("key=a rate=1 burst=1 burst=2", "burst given twice")
	f("key= rate=1", "empty key")
	f("key="+strings.Repeat("k", MaxKeyLen+1)+" rate=1", "key of 257 bytes")
	f("key=a\x01b rate=1", "contains NUL or 0x01")
	f("key=noisy rate=fast", `rate "fast" is not a number`)
	f("key=noisy rate=", `rate "" is not a number`)
	f("key=noisy rate=0", "rate 0 is not above 0")
	f("key=noisy rate=-5", "rate -5 is not above 0")
	f("key=noisy rate=NaN", "rate NaN is not above 0")
	f("key=noisy rate=Inf", "rate +Inf is above")
	f("key=noisy rate=2e9", "rate 2e+09 is above")
	f("key=noisy rate=1 burst=0", "burst 0 is below 1")
	f("key=noisy rate=1 burst=-3", "burst -3 is below 1")
	f("key=noisy rate=1 burst=1.5", `burst "1.5" is not a whole number`)
	f("key=noisy rate=1 burst=many", `burst "many" is not a whole number`)
	f("key=noisy rate=0.001 burst=9000000000", "spans more than")
}

func TestNewErrors(t *testing.T) {
	f := func(cfg Config, wantMsg string) {
		t.Helper()
		l, err := New(cfg)
		if err == nil {
			t.Errorf("New(%+v) = %v, want an error about %q", cfg, l, wantMsg)
			return
		}
		if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("New(%+v) error %q: want ErrInvalidRule mentioning %q", cfg, err, wantMsg)
		}
	}
	ok := Rule{"ok", 10, 10}
	f(Config{Rules: []Rule{ok, {"noisy", 0, 10}}}, `"key=noisy rate=0 burst=10" (rule 2): rate 0 is not above 0`)
	f(Config{Rules: []Rule{{"", 1, 1}}}, "empty key")
	f(Config{Rules: []Rule{{"noisy", 1, 0}}}, "burst 0 is below 1")
	f(Config{Rules: []Rule{ok, {"x", 1, 1}, ok}}, `key "ok" in rules 1 and 3`)
	f(Config{Rules: []Rule{ok}, Default: &Rule{Rate: -1, Burst: 1}}, `default "key= rate=-1 burst=1": rate -1 is not above 0`)
	f(Config{Default: &Rule{Rate: 1}}, "burst 0 is below 1")
	f(Config{Rules: make([]Rule, 70000)}, "70000 rules")

	// The zero Config and a Default without a key are fine.
	for _, cfg := range []Config{{}, {Default: &Rule{Rate: 5, Burst: 5}}, {Rules: []Rule{ok}, Default: &Rule{Key: "ignored", Rate: 1, Burst: 1}}} {
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}
