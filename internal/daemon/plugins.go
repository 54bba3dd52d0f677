package daemon

import (
	"context"
	"fmt"
	"sync"

	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/pipeline"
	"github.com/auditdrain/auditdrain/internal/plugins"
)

// PluginStatus is one plugin in Status: its plugins.d file, its program,
// and what it was handed and lost (loss cause plugin) since the daemon
// started, across its restarts and reloads.
type PluginStatus struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Format     string `json:"format"`
	State      string `json:"state"`
	Pid        int    `json:"pid"`
	Restarts   int    `json:"restarts"`
	Clients    int    `json:"clients,omitempty"`
	QueueDepth int    `json:"queue_depth"`
	Delivered  uint64 `json:"delivered"`
	Lost       uint64 `json:"lost"`
}

// pluginSet is the daemon's plugin dispatcher and its loss accounting.
// The dispatcher always exists (with no plugin, Dispatch costs one atomic
// load), so a reload can start plugins the start did not have.
type pluginSet struct {
	disp *plugins.Dispatcher

	mu sync.Mutex
	// base holds, per plugin name, what earlier instances of the plugin
	// (replaced on reload) delivered and lost, so the counts only grow;
	// last is the current instance's count at the previous snapshot.
	base, last map[string]plugins.Stats
	// logged is each plugin's lost count at the last op=lost record.
	logged map[string]uint64
}

// pluginOptions converts the config's plugin keys into the dispatcher's.
func pluginOptions(c config.Config, logf func(string, ...any)) (plugins.Options, error) {
	node, err := c.NodeName()
	if err != nil {
		return plugins.Options{}, err
	}
	o := plugins.Options{QueueDepth: c.QueueDepth, MaxRestarts: c.MaxRestarts, Node: node, Log: logf}
	switch c.PluginOverflow {
	case config.PluginOverflowSyslog:
		o.Overflow = plugins.OverflowSyslog
	case config.PluginOverflowIgnore:
		o.Overflow = plugins.OverflowIgnore
	case config.PluginOverflowSuspend:
		o.Overflow = plugins.OverflowSuspend
	default:
		return o, fmt.Errorf("daemon: plugin_overflow_action %q is not syslog, ignore or suspend", c.PluginOverflow)
	}
	return o, nil
}

// loadPlugins reads plugin_dir ("" = none): a file that cannot be used is
// logged and the others run, as auditd does.
func (d *Daemon) loadPlugins(dir string) []plugins.Config {
	if dir == "" {
		return nil
	}
	cfgs, err := plugins.LoadDir(dir)
	if err != nil {
		for _, e := range unjoin(err) {
			d.logf("plugin not run: %v", e)
		}
	}
	return cfgs
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// newPlugins prepares the dispatcher of the active plugins of plugin_dir;
// nothing runs before startPlugins.
func (d *Daemon) newPlugins() error {
	o, err := pluginOptions(d.cfg, d.logf)
	if err != nil {
		return err
	}
	disp, err := plugins.New(d.loadPlugins(d.cfg.PluginDir), o)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.plugins = &pluginSet{disp: disp, base: map[string]plugins.Stats{}, last: map[string]plugins.Stats{}, logged: map[string]uint64{}}
	return nil
}

// startPlugins starts the plugins; one that cannot start is logged.
func (d *Daemon) startPlugins() {
	if err := d.plugins.disp.Start(); err != nil {
		d.logf("%v", err)
	}
	d.logPlugins()
}

func (d *Daemon) logPlugins() {
	for _, s := range d.plugins.disp.Stats() {
		d.logf("plugin %s: %s, %s format, %s", s.Name, s.Path, s.Format, s.State)
	}
}

// reloadPlugins reads plugin_dir again (SIGHUP) and applies it: unchanged
// plugins get SIGHUP, new or changed ones start, removed ones stop. The
// queue options stay those of the start.
func (d *Daemon) reloadPlugins(c config.Config) error {
	p := d.plugins
	if p == nil {
		return nil
	}
	p.snapshot()
	err := p.disp.Reload(d.loadPlugins(c.PluginDir))
	p.snapshot() // a replaced plugin's counts start again: fold the old ones into base
	if err != nil {
		return fmt.Errorf("daemon: reloading plugins: %w", err)
	}
	d.logPlugins()
	return nil
}

// stopPlugins stops the plugins (their queues written to them first).
func (d *Daemon) stopPlugins() error {
	if d.plugins == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*plugins.DefaultStopTimeout)
	defer cancel()
	if err := d.plugins.disp.Stop(ctx); err != nil {
		return fmt.Errorf("daemon: stopping plugins: %w", err)
	}
	return nil
}

func addStats(a, b plugins.Stats) plugins.Stats {
	a.Delivered += b.Delivered
	a.Lost += b.Lost
	return a
}

// snapshot returns every current plugin's status, its counts since the
// daemon started. Counts that went down belong to a new instance of the
// plugin (a reload replaced it): what the old one counted is kept in base.
func (p *pluginSet) snapshot() []PluginStatus {
	if p == nil {
		return nil
	}
	stats := p.disp.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PluginStatus, 0, len(stats))
	for _, s := range stats {
		last := p.last[s.Name]
		// An instance moves records from Delivered to Lost when its
		// program exits with them unread, but their sum only grows.
		if s.Lost+s.Delivered < last.Lost+last.Delivered {
			p.base[s.Name] = addStats(p.base[s.Name], last)
		}
		p.last[s.Name] = s
		b := p.base[s.Name]
		out = append(out, PluginStatus{
			Name: s.Name, Path: s.Path, Format: s.Format.String(), State: s.State, Pid: s.Pid,
			Restarts: s.Restarts, Clients: s.Clients, QueueDepth: s.QueueDepth,
			Delivered: b.Delivered + s.Delivered, Lost: b.Lost + s.Lost,
		})
	}
	return out
}

// lossDelta appends to dst[:0], per current plugin with a loss, what it
// lost since the previous call (for the op=lost record).
func (p *pluginSet) lossDelta(dst []pipeline.PluginLoss) []pipeline.PluginLoss {
	dst = dst[:0]
	for _, s := range p.snapshot() {
		p.mu.Lock()
		prev := p.logged[s.Name]
		p.logged[s.Name] = s.Lost
		p.mu.Unlock()
		if s.Lost > prev {
			dst = append(dst, pipeline.PluginLoss{Name: s.Name, Lost: s.Lost - prev})
		}
	}
	return dst
}
