package ratelimit

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/record"
)

// oracle restates the package's decision rules with a map of every serial
// (no table to overflow) and token buckets written as tokens, not as GCRA.
type oracle struct {
	rules   map[string]*tokenModel // "" = default; absent = unlimited
	dec     map[uint32]*oracleDecision
	allowed map[string]uint64
	supp    map[string]uint64
}

type oracleDecision struct {
	final, allow bool
	bucket       string
}

func newOracle(cfg Config) *oracle {
	o := &oracle{rules: map[string]*tokenModel{}, dec: map[uint32]*oracleDecision{}, allowed: map[string]uint64{}, supp: map[string]uint64{}}
	for _, r := range cfg.Rules {
		o.rules[r.Key] = newTokenModel(r.Rate, r.Burst)
	}
	if cfg.Default != nil {
		o.rules[""] = newTokenModel(cfg.Default.Rate, cfg.Default.Burst)
	}
	return o
}

// bucketFor picks the first of the event's keys that has a rule.
func (o *oracle) bucketFor(keys string) string {
	for _, k := range strings.Split(keys, "\x01") {
		if _, ok := o.rules[k]; ok && k != "" {
			return k
		}
	}
	return ""
}

func (o *oracle) allow(now time.Duration, typ uint16, serial uint32, keys string) bool {
	d := o.dec[serial]
	keyed := typ == tSyscall || typ == tURingOp
	if d == nil || (!d.final && keyed && o.bucketFor(keys) != "") {
		b := ""
		if keyed {
			b = o.bucketFor(keys)
		}
		allow := true
		if m := o.rules[b]; m != nil {
			allow = m.take(now)
		}
		d = &oracleDecision{final: keyed, allow: allow, bucket: b}
		o.dec[serial] = d
	} else if keyed {
		d.final = true
	}
	if d.allow {
		o.allowed[d.bucket]++
	} else {
		o.supp[d.bucket]++
	}
	return d.allow
}

// TestInterleavedRandom drives the Limiter and the oracle with the same
// stream: events of several shapes and keys whose records interleave, up to
// six events at a time, as events from different CPUs do.
func TestInterleavedRandom(t *testing.T) {
	cfg := Config{
		Rules: []Rule{
			{Key: "noisy", Rate: 200, Burst: 50},
			{Key: "medium", Rate: 300, Burst: 100},
		},
		Default: &Rule{Rate: 500, Burst: 20},
	}
	l := mustNew(t, cfg)
	o := newOracle(cfg)
	rng := rand.New(rand.NewPCG(4, 2))
	base := time.Now()

	type event struct {
		serial uint32
		keys   string
		types  []uint16
		next   int
		got    []bool
	}
	keys := []string{"noisy", "noisy", "noisy", "medium", "other", "", "other\x01noisy", "medium\x01noisy", "with space"}
	shapes := [][]uint16{
		{tSyscall, tCWD, tPath, tProctitle, tEOE},
		{tSyscall, tPath, tProctitle},
		{tAVC, tSyscall, tPath, tEOE},
		{tConfigChange, tSyscall, tSockaddr, tProctitle},
		{tURingOp, tEOE},
		{tUserLogin},
	}
	var (
		now         time.Duration
		serial      uint32 = 1<<32 - 5000 // wraps during the run
		active      []*event
		calls       uint64
		flushTotals = map[string]uint64{}
		nextSec     = time.Second
	)
	const nEvents = 60000
	for started := 0; started < nEvents || len(active) > 0; {
		if started < nEvents && (len(active) == 0 || (len(active) < 6 && rng.IntN(3) == 0)) {
			serial++
			sh := shapes[rng.IntN(len(shapes))]
			active = append(active, &event{serial: serial, keys: keys[rng.IntN(len(keys))], types: sh})
			started++
			continue
		}
		i := rng.IntN(len(active))
		ev := active[i]
		typ := ev.types[ev.next]
		now += time.Duration(rng.IntN(200_000)) * time.Nanosecond // ~10k records/s
		if now >= nextSec {
			for k, n := range flushed(l) {
				flushTotals[k] += n
			}
			nextSec += time.Second
		}
		got := l.Allow(base.Add(now), typ, payload(typ, ev.serial, ev.keys))
		calls++
		if want := o.allow(now, typ, ev.serial, ev.keys); got != want {
			t.Fatalf("event %d (keys %q, types %v) record %d type %d at %v: allowed %v, oracle %v", ev.serial, ev.keys, ev.types, ev.next, typ, now, got, want)
		}
		ev.got = append(ev.got, got)
		ev.next++
		if ev.next == len(ev.types) {
			// From the keyed record on, one decision.
			from := 0
			for j, typ := range ev.types {
				if typ == tSyscall || typ == tURingOp {
					from = j
				}
			}
			for j := from + 1; j < len(ev.got); j++ {
				if ev.got[j] != ev.got[from] {
					t.Fatalf("event %d (keys %q, types %v): outcomes %v differ after the keyed record", ev.serial, ev.keys, ev.types, ev.got)
				}
			}
			active = append(active[:i], active[i+1:]...)
		}
	}
	for k, n := range flushed(l) {
		flushTotals[k] += n
	}

	var total, supp uint64
	for _, s := range l.Stats() {
		if s.Allowed != o.allowed[s.Key] || s.Suppressed != o.supp[s.Key] {
			t.Errorf("Stats[%q] = %d allowed, %d suppressed; oracle %d, %d", s.Key, s.Allowed, s.Suppressed, o.allowed[s.Key], o.supp[s.Key])
		}
		if flushTotals[s.Key] != s.Suppressed {
			t.Errorf("key %q: Flush reported %d suppressed in total, Stats %d", s.Key, flushTotals[s.Key], s.Suppressed)
		}
		total += s.Allowed + s.Suppressed
		supp += s.Suppressed
	}
	if total != calls {
		t.Errorf("Stats count %d records, Allow was called %d times", total, calls)
	}
	// The scenario must exercise suppression on every bucket.
	for _, k := range []string{"", "noisy", "medium"} {
		if o.supp[k] == 0 || o.allowed[k] == 0 {
			t.Errorf("bucket %q: %d allowed, %d suppressed; the scenario should have both", k, o.allowed[k], o.supp[k])
		}
	}
	t.Logf("%d records over %v: %d suppressed; allowed %v, suppressed %v", calls, now, supp, o.allowed, o.supp)
}

// TestCapturedRecords runs the records captured from a real kernel through a
// Limiter that holds the capture's cap_exec key to 100 events/s, on the
// records' own timestamps.
func TestCapturedRecords(t *testing.T) {
	type rec struct {
		typ     uint16
		payload []byte
	}
	f, err := os.Open("../testdata/records.txt")
	if err != nil {
		t.Fatalf("open captured records: %v", err)
	}
	defer f.Close()
	var recs []rec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		typ, js, found := strings.Cut(sc.Text(), "\t")
		if !found || strings.HasPrefix(typ, "#") {
			continue
		}
		n, err1 := strconv.ParseUint(typ, 10, 16)
		var p string
		if err2 := json.Unmarshal([]byte(js), &p); err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		recs = append(recs, rec{uint16(n), []byte(p)})
	}
	if len(recs) < 1000 {
		t.Fatalf("only %d captured records", len(recs))
	}

	l := mustNew(t, Config{Rules: []Rule{{Key: "cap_exec", Rate: 100, Burst: 20}}})
	model := newTokenModel(100, 20)
	var epoch time.Time
	type outcome struct {
		key   string // the SYSCALL record's key
		seen  bool   // SYSCALL seen
		allow bool   // its decision
	}
	events := map[uint64]*outcome{}
	var capExecEvents, capExecAllowed, capExecRecords, capExecAllowedRecords int
	for i, r := range recs {
		sec, ms, serial, ok := record.Header(r.payload)
		if !ok {
			t.Fatalf("record %d has no header: %q", i, r.payload)
		}
		now := time.Unix(sec, int64(ms)*1e6)
		if epoch.IsZero() {
			epoch = now
		}
		got := l.Allow(now, r.typ, r.payload)
		ev := events[serial]
		if ev == nil {
			ev = &outcome{}
			events[serial] = ev
		}
		if r.typ == tSyscall {
			key, _ := record.Key(r.payload)
			ev.key, ev.seen = string(key), true
			ev.allow = true
			if ev.key == "cap_exec" {
				ev.allow = model.take(now.Sub(epoch))
				capExecEvents++
				if ev.allow {
					capExecAllowed++
				}
			}
		}
		switch {
		case !ev.seen && !got:
			t.Errorf("record %d (type %d) before its SYSCALL record suppressed", i, r.typ)
		case ev.seen && got != ev.allow:
			t.Errorf("record %d (type %d, key %q): allowed %v, want %v", i, r.typ, ev.key, got, ev.allow)
		}
		if ev.seen && ev.key == "cap_exec" {
			capExecRecords++
			if got {
				capExecAllowedRecords++
			}
		}
	}
	if capExecEvents != 317 || capExecAllowed < 20 || capExecAllowed >= capExecEvents {
		t.Errorf("cap_exec: %d of %d events allowed; want 317 events, some of them suppressed", capExecAllowed, capExecEvents)
	}
	st := statsMap(l)
	if c := st["cap_exec"]; c.Allowed != uint64(capExecAllowedRecords) || c.Allowed+c.Suppressed != uint64(capExecRecords) {
		t.Errorf("Stats[cap_exec] = %+v; want %d allowed of %d records", c, capExecAllowedRecords, capExecRecords)
	}
	if c := st[""]; c.Suppressed != 0 || c.Allowed+uint64(capExecRecords) != uint64(len(recs)) {
		t.Errorf("Stats[\"\"] = %+v; want all %d other records allowed", c, len(recs)-capExecRecords)
	}
	t.Logf("cap_exec: %d of %d events allowed (%d of %d records)", capExecAllowed, capExecEvents, capExecAllowedRecords, capExecRecords)
}
