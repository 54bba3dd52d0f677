package daemon

import (
	"fmt"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// pipelineOptions converts the config's per-record policy settings into the
// pipeline's options (PrevSerial and Emit are the daemon's to fill in). The
// config has already parsed and checked them; only the rate limiter is built
// here (nil when nothing is limited, so the hot path skips it).
func pipelineOptions(c config.Config) (pipeline.Options, error) {
	o := pipeline.Options{
		WriteEOE:     c.WriteEOE,
		HighWaterPct: c.HighWater,
		KeepTypes:    c.KeepTypes,
		KeepKeys:     c.KeepKeys,
	}
	switch c.OverflowAction {
	case config.OverflowBlock:
		o.Overflow = pipeline.Block
	case config.OverflowDrop:
		o.Overflow = pipeline.Drop
	default:
		return o, fmt.Errorf("daemon: overflow_action %q is neither %s nor %s", c.OverflowAction, config.OverflowBlock, config.OverflowDrop)
	}
	if len(c.Limits.Rules) > 0 || c.Limits.Default != nil {
		l, err := ratelimit.New(c.Limits)
		if err != nil {
			return o, err
		}
		o.Limiter = l
	}
	return o, nil
}
