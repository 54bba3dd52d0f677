package daemon

import (
	"slices"
	"testing"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/record"
	"github.com/auditdrain/auditdrain/ratelimit"
)

// TestPipelineOptions checks the config -> pipeline conversion (no root
// needed): defaults, drop with keep lists, and a rate limit.
func TestPipelineOptions(t *testing.T) {
	cfg := config.Default()
	o, err := pipelineOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.Overflow != pipeline.Block || o.HighWaterPct != 75 || o.WriteEOE || o.Limiter != nil ||
		!slices.Contains(o.KeepTypes, record.TypeConfigChange) || len(o.KeepKeys) != 0 {
		t.Errorf("defaults: %+v", o)
	}

	cfg.OverflowAction = config.OverflowDrop
	cfg.HighWater = 90
	cfg.WriteEOE = true
	cfg.KeepKeys = []string{"a", "b"}
	cfg.Limits = ratelimit.Config{Rules: []ratelimit.Rule{{Key: "noisy", Rate: 10, Burst: 10}}}
	if o, err = pipelineOptions(cfg); err != nil {
		t.Fatal(err)
	}
	if o.Overflow != pipeline.Drop || o.HighWaterPct != 90 || !o.WriteEOE || o.Limiter == nil || !slices.Equal(o.KeepKeys, []string{"a", "b"}) {
		t.Errorf("drop: %+v", o)
	}

	cfg.OverflowAction = "spill"
	if _, err := pipelineOptions(cfg); err == nil {
		t.Error("overflow_action spill accepted")
	}
}
