package daemon

import (
	"fmt"
	"strings"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// pipelineOptions converts the config's per-record policy settings into the
// pipeline's typed options (PrevSerial and Emit are the daemon's to fill in).
// It is the one place the daemon reads those config strings.
func pipelineOptions(c config.Config) (pipeline.Options, error) {
	o := pipeline.Options{WriteEOE: c.WriteEOE, HighWaterPct: int(c.HighWater)}
	switch c.OverflowAction {
	case "block":
		o.Overflow = pipeline.Block
	case "drop":
		o.Overflow = pipeline.Drop
	default:
		return o, fmt.Errorf("config: overflow_action: %q is not block or drop", c.OverflowAction)
	}
	list := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	for _, name := range list(c.KeepTypes) {
		t, ok := record.ParseType(name)
		if !ok {
			return o, fmt.Errorf("config: keep_types: unknown record type %q", name)
		}
		o.KeepTypes = append(o.KeepTypes, t)
	}
	o.KeepKeys = list(c.KeepKeys)

	var rc ratelimit.Config
	for _, s := range strings.Split(c.RateLimits, ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := ratelimit.ParseRule(s)
		if err != nil {
			return o, fmt.Errorf("config: %w", err) // "ratelimit: invalid rule ..."
		}
		rc.Rules = append(rc.Rules, r)
	}
	if s := strings.TrimSpace(c.RateLimitDefault); s != "" {
		r, err := ratelimit.ParseRule("key=default " + s)
		if err != nil {
			return o, fmt.Errorf("config: ratelimit_default: %w", err)
		}
		rc.Default = &r
	}
	if len(rc.Rules) > 0 || rc.Default != nil {
		// nil when nothing is limited, so the hot path skips the limiter.
		l, err := ratelimit.New(rc)
		if err != nil {
			return o, fmt.Errorf("config: %w", err)
		}
		o.Limiter = l
	}
	return o, nil
}
