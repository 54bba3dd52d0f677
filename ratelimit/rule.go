package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/auditdrain/auditdrain/internal/record"
)

// ErrInvalidRule is wrapped by every error about a malformed or out-of-range
// rule, from ParseRule and from New.
var ErrInvalidRule = errors.New("ratelimit: invalid rule")

// MaxKeyLen is the longest rule key the kernel accepts (AUDIT_MAX_KEY_LEN).
const MaxKeyLen = record.MaxKeyLen

// maxRate keeps the token interval at one nanosecond or more.
const maxRate = 1e9

// maxSpan bounds Burst times the token interval, in nanoseconds (about 146
// years), so the bucket arithmetic cannot overflow an int64.
const maxSpan = 1 << 62

// Rule limits the events of one rule key.
type Rule struct {
	// Key is the audit rule key (auditctl -k) whose events are limited:
	// 1 to MaxKeyLen bytes, no NUL and no 0x01 (the kernel's separator
	// between the keys of one rule). Ignored in Config.Default.
	Key string
	// Rate is the sustained number of events per second let through, more
	// than 0 and at most 1e9; fractions are allowed (0.5 = one every 2 s).
	Rate float64
	// Burst is the number of events let through at once after a quiet
	// period, at least 1.
	Burst int
}

// ParseRule parses a rule written as space-separated fields, in any order:
//
//	key=noisy rate=1000 burst=2000
//
// key and rate are required; burst defaults to one second of rate (rounded
// up, at least 1). A key that contains a space or '=' at its start cannot be
// written this way. The error wraps ErrInvalidRule and quotes the input.
func ParseRule(s string) (Rule, error) {
	var r Rule
	var haveKey, haveRate, haveBurst bool
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("%w %q: %s", ErrInvalidRule, s, fmt.Sprintf(format, args...))
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return fail("empty, want \"key=NAME rate=EVENTS_PER_SECOND [burst=EVENTS]\"")
	}
	for _, f := range fields {
		name, val, found := strings.Cut(f, "=")
		if !found {
			return fail("field %q is not name=value (want \"key=NAME rate=EVENTS_PER_SECOND [burst=EVENTS]\")", f)
		}
		switch name {
		case "key":
			if haveKey {
				return fail("key given twice")
			}
			haveKey, r.Key = true, val
		case "rate":
			if haveRate {
				return fail("rate given twice")
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fail("rate %q is not a number", val)
			}
			haveRate, r.Rate = true, v
		case "burst":
			if haveBurst {
				return fail("burst given twice")
			}
			v, err := strconv.Atoi(val)
			if err != nil {
				return fail("burst %q is not a whole number", val)
			}
			haveBurst, r.Burst = true, v
		default:
			return fail("unknown field %q (want key, rate, burst)", name)
		}
	}
	switch {
	case !haveKey:
		return fail("no key= field")
	case !haveRate:
		return fail("no rate= field")
	}
	if !haveBurst && r.Rate > 0 && r.Rate <= maxRate {
		r.Burst = max(1, int(math.Ceil(r.Rate)))
	}
	if err := r.validate(true); err != nil {
		return fail("%s", err)
	}
	return r, nil
}

// String returns the rule in the form ParseRule reads.
func (r Rule) String() string {
	return "key=" + r.Key + " rate=" + strconv.FormatFloat(r.Rate, 'g', -1, 64) + " burst=" + strconv.Itoa(r.Burst)
}

// validate checks the ranges; it returns a plain error for the caller to
// wrap with ErrInvalidRule and the rule.
func (r Rule) validate(needKey bool) error {
	if needKey {
		switch {
		case r.Key == "":
			return errors.New("empty key")
		case len(r.Key) > MaxKeyLen:
			return fmt.Errorf("key of %d bytes, the kernel allows %d", len(r.Key), MaxKeyLen)
		case strings.ContainsAny(r.Key, "\x00\x01"):
			return fmt.Errorf("key %q contains NUL or 0x01", r.Key)
		}
	}
	switch {
	case math.IsNaN(r.Rate) || r.Rate <= 0:
		return fmt.Errorf("rate %v is not above 0", r.Rate)
	case r.Rate > maxRate:
		return fmt.Errorf("rate %v is above %v per second", r.Rate, float64(maxRate))
	case r.Burst < 1:
		return fmt.Errorf("burst %d is below 1", r.Burst)
	case int64(r.Burst) > maxSpan/r.interval():
		return fmt.Errorf("burst %d at rate %v spans more than %d s", r.Burst, r.Rate, int64(maxSpan)/1e9)
	}
	return nil
}

// interval is the time one token takes to come back, in nanoseconds, for a
// rate validate accepts.
func (r Rule) interval() int64 {
	return max(1, int64(math.Round(1e9/r.Rate)))
}
